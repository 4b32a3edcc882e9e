"""A short tour of faxpush's report formats: ``python -m faxpush.demo [REPORT]``.

Parses a report (by default the full sample of the repository's test data) and prints it as
the XML and JSON push bodies faxpush would POST, and as the REST API's report view.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from faxpush.core.errors import FaxpushError
from faxpush.core.formats import ReportFormat, detect_format, parse_report, render_report

SAMPLE = Path(__file__).resolve().parents[2] / "tests" / "data" / "spec_samples" / "report-full.xml"


def _heading(title: str) -> str:
    return f"\n== {title} " + "=" * max(3, 72 - len(title)) + "\n"


def run(path: Path) -> str:
    """The demo's output for the report at ``path``."""
    data = path.read_bytes()
    report = parse_report(data)
    recipients = ", ".join(f"{r.number} {r.status}" for r in report.faxRecipients)
    parts = [
        f"Parsed {path.name} ({detect_format(data)}): job {report.jobId}, "
        f"{len(report.faxRecipients)} recipient(s): {recipients}\n"
    ]
    for fmt, title in (
        (ReportFormat.XML, "XML push body"),
        (ReportFormat.JSON, "JSON push body"),
        (ReportFormat.REST, "REST API report view"),
    ):
        body, content_type = render_report(report, fmt)
        parts.append(_heading(f"{title} (Content-Type: {content_type})"))
        parts.append(body.decode("utf-8"))
    return "".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the tour; exit status 0 on success, 2 when the report cannot be read."""
    args = list(sys.argv[1:] if argv is None else argv)
    path = Path(args[0]) if args else SAMPLE
    try:
        sys.stdout.write(run(path))
    except OSError as exc:
        sys.stderr.write(f"faxpush.demo: {path}: {exc.strerror or exc}\n")
        return 2
    except FaxpushError as exc:
        sys.stderr.write(f"faxpush.demo: {path}: {exc}\n")
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
