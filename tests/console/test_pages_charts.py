"""The overview's charts: geometry from the counters, drawn by the template as SVG."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from faxpush.console.charts import (
    LABEL_WIDTH,
    PLOT_WIDTH,
    SERIES_HEIGHT,
    outcome_bars,
    series_chart,
)
from faxpush.storage.operator import ReceiverStats

NOW = datetime(2026, 3, 1, 12, 7, tzinfo=UTC)


def _row(receiver: str, hour: tuple[int, int], day: tuple[int, int]) -> ReceiverStats:
    return ReceiverStats(
        receiver, hour[0], hour[1], day[0], day[1], None, None, 0, None, 0, None, None, None
    )


def test_bars_put_the_busiest_receiver_first_and_scale_to_it() -> None:
    rows = [_row("https://a:443", (4, 4), (10, 5)), _row("https://b:443", (0, 0), (40, 40))]
    chart = outcome_bars(rows, day=True)
    assert [bar.label for bar in chart.bars] == ["https://b:443", "https://a:443"]
    assert chart.bars[0].delivered_width == 420.0
    assert (chart.bars[1].delivered, chart.bars[1].failed) == (5, 5)
    assert [bar.label for bar in outcome_bars(rows, day=False).bars] == ["https://a:443"]
    assert outcome_bars([], day=True).bars == ()
    # "40 ok · 40 failed" (and wider counts) fits right of the longest bar
    assert chart.width - LABEL_WIDTH - PLOT_WIDTH >= 140


def test_the_day_has_288_columns_and_empty_buckets_stay_empty() -> None:
    bucket = datetime(2026, 3, 1, 12, 5, tzinfo=UTC)
    points = [(bucket, 10, 7), (bucket - timedelta(hours=1), 5, 5)]
    chart = series_chart(points, now=NOW, span=timedelta(days=1))
    assert len(chart.columns) == 288
    last = chart.columns[-1]
    assert (last.start, last.delivered, last.failed) == (bucket, 7, 3)
    assert last.delivered_height + last.failed_height == SERIES_HEIGHT
    assert chart.columns[-13].delivered == 5
    assert sum(c.delivered + c.failed for c in chart.columns) == 15
    assert chart.end == bucket + timedelta(minutes=5)


def test_the_caption_names_the_date_only_when_the_window_spans_midnight() -> None:
    day = series_chart([], now=NOW, span=timedelta(days=1))
    assert day.window_text == "2026-02-28 12:10 to 2026-03-01 12:10"
    hour = series_chart([], now=NOW, span=timedelta(hours=1))
    assert hour.window_text == "2026-03-01 11:10 to 12:10"
