"""``faxpush report``: render a report as a push body, parse and validate one, or print the
shipped sample report."""

from __future__ import annotations

import json
import sys
from importlib import resources
from typing import Annotated, Any, Final

import typer

from faxpush.cli._io import STDIN, load_template, read_input, source_name
from faxpush.cli._options import PushLayout, command_group
from faxpush.core.errors import ReportFormatError
from faxpush.core.formats import (
    DEFAULT_MAX_REPORT_BYTES,
    ReportFormat,
    parse_report,
    render_report,
)
from faxpush.core.models import FaxJobReport
from faxpush.core.status_codes import CATALOGUE

_SAMPLE_EXAMPLES = """\
[bold]Examples[/bold]

  faxpush report sample | faxpush report parse -

  faxpush report sample --format json --status BUSY > busy.json

  faxpush report sample --status WRONG_NO | faxpush push send http://127.0.0.1:9090/fax -
"""

app = command_group(
    "Render fax job reports as push bodies, or parse and validate push bodies.",
    epilog=_SAMPLE_EXAMPLES + "\n  faxpush report render --format json report.xml > report.json\n",
)


_RENDER_EXAMPLES = """\
[bold]Examples[/bold]

  faxpush report render --format json report.xml > report.json

  faxpush report render --format xml - < report-from-rest-api.json

  faxpush report render --template acme.xml.j2 report.json

  faxpush report render --template layout.j2 --content-type 'text/xml; charset=UTF-8' report.xml
"""

_PARSE_EXAMPLES = """\
[bold]Examples[/bold]

  faxpush report parse push-body.xml

  faxpush report parse --format rest report-from-rest-api.json

  curl -s https://example.org/last-push | faxpush report parse -
"""

_REPORT_HELP = "Report file in the XML or JSON push layout or the REST JSON view; '-' reads stdin."


# The sample is package data, so that it is there after a plain pip install.
_SAMPLES: Final = resources.files("faxpush.cli") / "samples"
# Every final status a push can carry (PENDING never is in one).
_PUSH_STATUSES: Final = tuple(code for code, entry in CATALOGUE.items() if entry.is_final)


def _load_report(arg: str, fmt: ReportFormat | None) -> FaxJobReport:
    data = read_input(arg, limit=DEFAULT_MAX_REPORT_BYTES)
    if len(data) > DEFAULT_MAX_REPORT_BYTES:
        raise ReportFormatError(
            f"the report is larger than the limit of {DEFAULT_MAX_REPORT_BYTES} bytes; "
            "a status report is far smaller, check that this is the right file",
            source=source_name(arg),
        )
    try:
        return parse_report(data, fmt, max_bytes=DEFAULT_MAX_REPORT_BYTES)
    except ReportFormatError as exc:
        raise exc.with_source(source_name(arg)) from None


def _write_stdout(body: bytes) -> None:
    sys.stdout.buffer.write(body)
    sys.stdout.buffer.flush()


def _format_option(help_text: str) -> Any:
    # No default is shown: the absent flag means "xml" for render, "detect" for parse.
    return typer.Option("--format", "-f", case_sensitive=False, help=help_text, show_default=False)


@app.command(epilog=_RENDER_EXAMPLES)
def render(
    report: Annotated[str, typer.Argument(metavar="REPORT", help=_REPORT_HELP)],
    output_format: Annotated[
        PushLayout | None, _format_option("Default push layout to write. \\[default: xml]")
    ] = None,
    template: Annotated[
        str | None,
        typer.Option(
            "--template",
            "-t",
            metavar="FILE",
            help="Customer template (Jinja2) to render instead of a default layout.",
        ),
    ] = None,
    content_type: Annotated[
        str | None,
        typer.Option(
            "--content-type",
            metavar="TYPE",
            help="Content type of the template's output; guessed from FILE's suffix "
            "(.xml, .json, .txt, optionally followed by .j2) when not given.",
        ),
    ] = None,
    check: Annotated[
        bool,
        typer.Option(
            "--check/--no-check",
            help="With --template: fail when the output is not well-formed XML or JSON "
            "as its content type promises.",
        ),
    ] = True,
) -> None:
    """Write the push body for REPORT to stdout, byte for byte as faxpush would POST it.

    REPORT may be in either push layout or in the REST API's report view; its format is
    detected from the content.
    """
    if template is None and content_type is not None:
        raise typer.BadParameter("only applies with --template", param_hint="--content-type")
    if template is not None and output_format is not None:
        raise typer.BadParameter(
            "a template defines its own layout; give --format or --template, not both",
            param_hint="--format",
        )
    if template == report == STDIN:
        raise typer.BadParameter("the template and the report cannot both come from stdin")
    push_template = load_template(template, content_type) if template is not None else None
    parsed = _load_report(report, None)
    if push_template is not None:
        body = push_template.render(parsed)
        if check:
            push_template.check_output(body)
    else:
        body, _ = render_report(parsed, (output_format or PushLayout.XML).report_format)
    _write_stdout(body)


@app.command(epilog=_PARSE_EXAMPLES)
def parse(
    file: Annotated[str, typer.Argument(metavar="FILE", help=_REPORT_HELP)],
    input_format: Annotated[
        ReportFormat | None,
        _format_option("Format of FILE; detected from its content when not given."),
    ] = None,
) -> None:
    """Validate FILE and print the normalized report as JSON (exit status 0 when valid).

    Every field of the report model is printed, absent ones as null, so two reports can be
    compared with diff whatever layout they came in.
    """
    parsed = _load_report(file, input_format)
    text = json.dumps(parsed.model_dump(mode="json"), indent=2, ensure_ascii=False)
    _write_stdout(text.encode("utf-8") + b"\n")


def _complete_status(incomplete: str) -> list[str]:
    return [code for code in _PUSH_STATUSES if code.startswith(incomplete.upper())]


def _with_status(report: FaxJobReport, status: str) -> FaxJobReport:
    """``report`` as if every recipient had ended with ``status``: a failed call lasts
    0 s and has no remote CSID."""
    ok = CATALOGUE[status].is_success
    recipients = tuple(
        recipient.model_copy(
            update={"status": status, "reason": status}
            | ({} if ok else {"durationInSecs": 0, "remoteCsid": None})
        )
        for recipient in report.faxRecipients
    )
    return report.model_copy(update={"faxRecipients": recipients})


@app.command(epilog=_SAMPLE_EXAMPLES)
def sample(
    output_format: Annotated[
        PushLayout, typer.Option("--format", "-f", case_sensitive=False, help="Push layout.")
    ] = PushLayout.XML,
    status: Annotated[
        str | None,
        typer.Option(
            metavar="CODE",
            autocompletion=_complete_status,
            show_default=False,
            help="Give every recipient this final status code (OK, BUSY, WRONG_NO, ...; "
            "docs/cli.md lists them). Without it, one recipient is OK and one BUSY.",
        ),
    ] = None,
) -> None:
    """Print a sample status report (a fax job to two recipients) as a push body.

    Without --status the shipped sample file is printed byte for byte; it makes an input
    for every other command without writing a report by hand.
    """
    body = (_SAMPLES / f"report-full.{output_format.value}").read_bytes()
    if status is not None:
        code = status.upper()
        if code not in _PUSH_STATUSES:
            raise typer.BadParameter(
                f"{status!r} is not a final status code; use one of {', '.join(_PUSH_STATUSES)}",
                param_hint="--status",
            )
        parsed = _with_status(parse_report(body, output_format.report_format), code)
        body, _ = render_report(parsed, output_format.report_format)
    _write_stdout(body)


__all__ = ["app"]
