"""How ``faxpush listen`` prints each receipt: a human block, or one JSON object per line."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, TextIO

from faxpush.receiver.service import Receipt


class ReceiptPrinter:
    """Prints each receipt: a human block, or one JSON object per line with ``--json``."""

    def __init__(self, out: TextIO, *, as_json: bool) -> None:
        self._out = out
        self._json = as_json

    def __call__(self, receipt: Receipt) -> None:
        self._out.write(self.render(receipt))
        self._out.flush()

    def render(self, receipt: Receipt) -> str:
        """The text printed for ``receipt``."""
        report = receipt.report
        if self._json:
            document: dict[str, Any] = {
                "status": receipt.status,
                "outcome": receipt.outcome,
                "method": receipt.method,
                "target": receipt.target,
                "auth": None if receipt.auth is None else receipt.auth.describe(),
                "jobId": None if report is None else report.jobId,
                "recipients": []
                if report is None
                else [{"number": r.number, "status": r.status} for r in report.faxRecipients],
                "key": receipt.key,
                "timesReceived": receipt.times_received,
                "reason": receipt.reason,
                "ms": round(receipt.duration_ms, 3),
            }
            return json.dumps(document, ensure_ascii=False) + "\n"
        clock = datetime.now().strftime("%H:%M:%S")
        job = report.jobId if report is not None else "-"
        who = receipt.auth.describe() if receipt.auth is not None else (receipt.reason or "-")
        request = f"{receipt.method} {receipt.target}"
        lines = [f"{clock}  {receipt.status} {receipt.outcome:<9}  {job}  {who}  {request}"]
        if report is not None and receipt.outcome in ("stored", "duplicate"):
            width = max(len(r.number) for r in report.faxRecipients)
            for r in report.faxRecipients:
                lines.append(f"          {r.number:<{width}}  {r.status or '-'}")
        elif receipt.reason and receipt.auth is not None:
            lines.append(f"          {receipt.reason}")
        return "\n".join(lines) + "\n"


__all__ = ["ReceiptPrinter"]
