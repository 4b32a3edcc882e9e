# faxpush developer commands. `make run` and `make test` work on a fresh clone:
# both create .venv and install the project when needed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
# make test runs the suite in this many processes (pytest-xdist), each test file whole in
# one of them (module fixtures stay shared): 8.3 min in one, 4.9 min in two on 2 cores.
PYTEST_WORKERS ?= 2

.PHONY: run test lint typecheck unit bench soak clean venv

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	# The vendor's Python SDK (acceptance test of the emulator) pins pytest 7; its real
	# runtime needs are already installed, so it goes in without its declared dependencies.
	$(BIN)/python -m pip install --quiet --no-deps retarus-fax==1.0.1 retarus-common==0.1.2 aiohttp-retry
	touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(BIN)/python -m faxpush.cli.demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

test: lint typecheck
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# Each benchmark measures its own baseline in the same run and prints ratios against it;
# results are recorded in docs/benchmarks.md.
bench: $(STAMP)
	$(BIN)/python bench/dispatch.py --json
	$(BIN)/python bench/receive.py --json
	$(BIN)/python bench/jobs.py
	$(BIN)/python bench/scale.py

# Long runs watching memory and descriptors (about 15 min on the reference machine); results
# in docs/benchmarks.md, Soak.
soak: $(STAMP)
	$(BIN)/python bench/soak.py
	$(BIN)/python bench/soak.py --listen

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build dist
