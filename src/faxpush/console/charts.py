"""Geometry of the overview's chart, drawn by the template as inline SVG (no script, no
chart library): one bar per receiver, split into delivered and failed attempts, from the
per-receiver counters of the last hour or day."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from faxpush.storage.operator import ReceiverStats

BAR_HEIGHT = 18
BAR_GAP = 8
LABEL_WIDTH = 260
PLOT_WIDTH = 420
MAX_BARS = 12


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    y: int
    delivered: int
    failed: int
    delivered_width: float
    failed_width: float


@dataclass(frozen=True, slots=True)
class Chart:
    bars: tuple[Bar, ...]
    width: int
    height: int
    label_width: int
    bar_height: int
    scale_max: int


def outcome_bars(rows: Sequence[ReceiverStats], *, day: bool) -> Chart:
    """The busiest receivers' attempts of the last day (or hour), delivered and failed."""
    counted = [
        (
            row.receiver,
            row.successes_day if day else row.successes_hour,
            (row.attempts_day - row.successes_day)
            if day
            else (row.attempts_hour - row.successes_hour),
        )
        for row in rows
    ]
    counted = [entry for entry in counted if entry[1] + entry[2] > 0]
    counted.sort(key=lambda entry: (-(entry[1] + entry[2]), entry[0]))
    counted = counted[:MAX_BARS]
    top = max((ok + failed for _, ok, failed in counted), default=0)
    scale = PLOT_WIDTH / top if top else 0.0
    bars = tuple(
        Bar(
            label=receiver,
            y=index * (BAR_HEIGHT + BAR_GAP),
            delivered=ok,
            failed=failed,
            delivered_width=round(ok * scale, 1),
            failed_width=round(failed * scale, 1),
        )
        for index, (receiver, ok, failed) in enumerate(counted)
    )
    height = max(len(bars), 1) * (BAR_HEIGHT + BAR_GAP)
    return Chart(bars, LABEL_WIDTH + PLOT_WIDTH + 80, height, LABEL_WIDTH, BAR_HEIGHT, top)


__all__ = ["Bar", "Chart", "outcome_bars"]
