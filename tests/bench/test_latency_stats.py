"""The latency bench's own arithmetic: percentiles, summaries and the open-loop schedule."""

from __future__ import annotations

import math

import pytest

from bench.latency import percentile, schedule, summarise_ms


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([5.0], 50, 5.0),  # one value is every percentile
        ([1.0, 2.0, 3.0, 4.0], 0, 1.0),  # the minimum
        ([1.0, 2.0, 3.0, 4.0], 100, 4.0),  # the maximum
        ([1.0, 2.0, 3.0, 4.0], 50, 2.5),  # between the two middle values
        ([4.0, 1.0, 3.0, 2.0], 50, 2.5),  # order of the input does not matter
        ([float(i) for i in range(1, 101)], 99, 99.01),  # numpy's linear rule: 1 + 0.99 * 99
        ([0.0, 10.0], 90, 9.0),  # interpolated, not rounded to a rank
    ],
)
def test_percentile_interpolates_between_closest_ranks(
    values: list[float], q: float, expected: float
) -> None:
    assert percentile(values, q) == pytest.approx(expected)


def test_percentile_of_nothing_is_nan_and_out_of_range_is_refused() -> None:
    assert math.isnan(percentile([], 50))
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_summary_is_in_milliseconds_with_the_maximum() -> None:
    s = summarise_ms([0.001, 0.002, 0.003, 0.010])
    assert s["p50"] == pytest.approx(2.5)
    assert s["max"] == pytest.approx(10.0)
    assert s["p90"] <= s["p99"] <= s["max"]


def test_schedule_is_evenly_spaced_and_sized_by_rate_and_duration() -> None:
    offsets = schedule(100, 2)
    assert len(offsets) == 200
    assert offsets[0] == 0 and offsets[1] == pytest.approx(0.01)
    assert offsets[-1] == pytest.approx(1.99)
    assert len(schedule(20, 0.01)) == 1  # at least one event
