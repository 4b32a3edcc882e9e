"""Geometry of the overview's charts, drawn by the template as inline SVG (no script, no
chart library): one bar per receiver, split into delivered and failed attempts, from the
per-receiver counters of the last hour or day; and, from the counters summed per 5-minute
bucket (``OperatorStore.attempt_series``), the last day's attempts over time."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from faxpush.core.receiver_stats import BUCKET_SECONDS, bucket_start
from faxpush.storage.operator import ReceiverStats

BAR_HEIGHT = 18
BAR_GAP = 8
LABEL_WIDTH = 260
PLOT_WIDTH = 420
VALUE_WIDTH = 150  # room right of the longest bar for "12345 ok · 12345 failed" at 12px
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
    return Chart(bars, LABEL_WIDTH + PLOT_WIDTH + VALUE_WIDTH, height, LABEL_WIDTH, BAR_HEIGHT, top)


@dataclass(frozen=True, slots=True)
class Column:
    x: float
    start: datetime
    delivered: int
    failed: int
    delivered_height: float
    failed_height: float


@dataclass(frozen=True, slots=True)
class TimeChart:
    columns: tuple[Column, ...]
    width: int
    height: int
    column_width: float
    scale_max: int
    start: datetime
    end: datetime

    @property
    def window_text(self) -> str:
        """The window in UTC, "2026-03-01 12:10 to 12:40" or, when it spans midnight,
        "2026-02-28 12:10 to 2026-03-01 12:10"."""
        start = self.start.strftime("%Y-%m-%d %H:%M")
        same_day = self.start.date() == self.end.date()
        return f"{start} to {self.end.strftime('%H:%M' if same_day else '%Y-%m-%d %H:%M')}"


SERIES_HEIGHT = 160
SERIES_WIDTH = 864  # 288 five-minute buckets of a day, 3 px each


def series_chart(
    points: Sequence[tuple[datetime, int, int]], *, now: datetime, span: timedelta
) -> TimeChart:
    """Delivered and failed attempts per 5-minute bucket over ``span`` up to ``now``;
    buckets without a point are empty columns."""
    step = timedelta(seconds=BUCKET_SECONDS)
    last = bucket_start(now)
    count = int(span / step)
    first = last - step * (count - 1)
    by_start = {bucket_start(start): (attempts, ok) for start, attempts, ok in points}
    top = max((attempts for attempts, _ in by_start.values()), default=0)
    scale = SERIES_HEIGHT / top if top else 0.0
    width = SERIES_WIDTH / count
    columns = []
    for index in range(count):
        start = first + step * index
        attempts, ok = by_start.get(start, (0, 0))
        failed = attempts - ok
        columns.append(
            Column(
                round(index * width, 2),
                start,
                ok,
                failed,
                round(ok * scale, 2),
                round(failed * scale, 2),
            )
        )
    return TimeChart(tuple(columns), SERIES_WIDTH, SERIES_HEIGHT, width, top, first, last + step)


__all__ = ["Bar", "Chart", "TimeChart", "outcome_bars", "series_chart"]
