"""The one way tiermon writes money, tokens, durations and times (ingest/formatting.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from tiermon.ingest import formatting as fmt


@pytest.mark.parametrize(("value", "text"), [
    (None, "unpriced"), (0, "$0.00"), (0.0042, "$0.0042"), (0.01, "$0.01"), (0.5, "$0.50"),
    (1234.567, "$1,234.57"), (-0.5, "-$0.50"), (-0.00001, "$0.00"),
])  # fmt: skip
def test_money(value: float | None, text: str) -> None:
    assert fmt.money(value) == text


def test_signed_money_shows_the_plus() -> None:
    assert (fmt.money(0.06, signed=True), fmt.money(-0.03, signed=True), fmt.money(0, signed=True)) == (
        "+$0.06", "-$0.03", "$0.00")  # fmt: skip


@pytest.mark.parametrize(("value", "text"), [(None, "0"), (950, "950"), (34_500, "34.5k"), (1_234_567, "1.2M")])
def test_tokens(value: int | None, text: str) -> None:
    assert fmt.tokens(value) == text


def test_durations_and_ages() -> None:
    assert [fmt.duration(s) for s in (42, 420, 5400)] == ["42 s", "7 min", "1.5 h"]
    now = datetime(2026, 11, 23, 12)
    assert [fmt.ago(now - timedelta(seconds=s), now) for s in (1, 42, 420, 7200, 200_000)] == [
        "now", "42s", "7m", "2h", "2d"]  # fmt: skip


def test_timestamps_read_naive_as_utc() -> None:
    moment = datetime(2026, 11, 23, 14, 5, 9)
    assert fmt.timestamp(moment) == "2026-11-23 14:05"
    assert fmt.timestamp(moment, timezone(timedelta(hours=1)), seconds=True) == "2026-11-23 15:05:09"
    assert fmt.timestamp(moment.replace(tzinfo=UTC)) == "2026-11-23 14:05"
