"""The Fax4A status-code catalogue (spec §5) as data.

Unknown codes are kept as plain strings by the models; :func:`lookup` answers for them with
class ``unknown`` instead of failing, so a report from a newer service version still parses.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class StatusClass(StrEnum):
    SUCCESS = "success"
    PENDING = "pending"
    LINE = "line"
    NUMBER = "number"
    DOCUMENT = "document"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class StatusCode:
    code: str
    meaning: str
    status_class: StatusClass

    @property
    def is_success(self) -> bool:
        return self.status_class is StatusClass.SUCCESS

    @property
    def is_final(self) -> bool:
        return self.status_class is not StatusClass.PENDING


_L, _N, _D, _C = StatusClass.LINE, StatusClass.NUMBER, StatusClass.DOCUMENT, StatusClass.CANCELLED

CATALOGUE: dict[str, StatusCode] = {
    s.code: s
    for s in (
        StatusCode("OK", "all pages delivered", StatusClass.SUCCESS),
        StatusCode("PENDING", "not finished yet (never in a push)", StatusClass.PENDING),
        StatusCode("BUSY", "line busy", _L),
        StatusCode("NOFAX", "answered by a person, answering machine or modem", _L),
        StatusCode("NOFAX_DIS", "receiver ended the call (person picked up)", _L),
        StatusCode("NOFAX_TO", "call answered, no fax signal before timeout", _L),
        StatusCode("RING_TO", "no answer (device off, diverted, out of paper)", _L),
        StatusCode("REM_DIS", "remote side hung up", _L),
        StatusCode("NO_TRAIN", "failure during fax training", _L),
        StatusCode("PAGE_SEND_ERROR", "page transfer failed", _L),
        StatusCode("NO_REMOTEINFO", "hung up before the mode was negotiated", _L),
        StatusCode("BAD_LINES", "too many line errors", _L),
        StatusCode("FANS_GF", "protocol errors during negotiation", _L),
        StatusCode("DIAL_GF", "connection set-up error", _L),
        StatusCode("EOD_FAILED", "end of transmission not confirmed (the fax often arrived)", _L),
        StatusCode("WRONG_NO", "wrong or unassigned number", _N),
        StatusCode("DIAL_NC", "carrier rejects the number", _N),
        StatusCode("CHANGED_NO", "number changed", _N),
        StatusCode("WOUT_TO", "no reaction after dialling", _N),
        StatusCode("BLACKLIST", "on a do-not-fax list (Robinson/ECOFAX), not dialled", _N),
        StatusCode("PBLACKLIST", "on the sender's own block list, not dialled", _N),
        StatusCode("MISSING_FAX_FILE", "a document is missing", _D),
        StatusCode("UNKNOWN_FAX_FILE", "document name not given/unknown", _D),
        StatusCode("TIFF_PAGE_ERR", "fax document damaged", _D),
        StatusCode("RENDERING_ERROR", "document could not be converted", _D),
        StatusCode("CANCELLED", "job cancelled by a user", _C),
        StatusCode("EXPIRED", "job validity ended before it could be sent", _C),
    )
}


def lookup(code: str) -> StatusCode:
    """Return the catalogue entry for ``code``; unknown codes get class ``unknown``."""
    found = CATALOGUE.get(code)
    if found is not None:
        return found
    return StatusCode(code, "unknown status code", StatusClass.UNKNOWN)
