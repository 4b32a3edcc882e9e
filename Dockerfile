# faxpush in a container: `docker build -t faxpush .`, then for example
#   docker run --rm -p 127.0.0.1:8080:8080 faxpush                       (the emulator)
#   docker run --rm -e FAXPUSH_DATABASE_URL=... -e FAXPUSH_SECRET_KEY=... faxpush worker
# deploy/compose.yaml runs serve, worker and admin on PostgreSQL; docs/operations.md,
# Running in containers, explains it.

# The wheel is built in a stage of its own, so the image holds no build tools or sources.
FROM python:3.12-slim AS build
WORKDIR /src
RUN pip install --no-cache-dir build==1.2.2.post1
COPY pyproject.toml README.md LICENSE ./
COPY src ./src
RUN python -m build --wheel --outdir /dist

FROM python:3.12-slim
# Which extras to install: all (PostgreSQL, serving, the emulator), or fewer for a smaller
# image (postgres,serve for a worker and admin API only).
ARG EXTRAS=all
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HEALTHZ_URL=http://127.0.0.1:8080/healthz
COPY --from=build /dist/ /tmp/dist/
# DL3013 asks for pinned versions: the one package named is the wheel built above, and its
# dependencies are the ranges faxpush declares.
# hadolint ignore=DL3013
RUN set -- /tmp/dist/faxpush-*.whl \
    && pip install --no-cache-dir "$1[${EXTRAS}]" \
    && rm -rf /tmp/dist \
    && useradd --system --uid 10001 --home-dir /var/lib/faxpush --create-home faxpush
USER 10001:10001
WORKDIR /var/lib/faxpush
EXPOSE 8080
# /healthz asks nothing of the database (docs/operations.md), so a database outage does not
# mark the container unhealthy. HEALTHZ_URL names the port of the command that runs: 8080
# for serve, the --http port of a worker, the --listen port of admin serve.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(os.environ['HEALTHZ_URL'], timeout=4)"]
ENTRYPOINT ["faxpush"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
