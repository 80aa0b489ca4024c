from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.moisture import MAX_TENTHS, MIN_TENTHS, parse_moisture
from bot.services.errors import DomainError


@pytest.mark.parametrize(
    ("text", "tenths"),
    [("12", 120), ("12.5", 125), ("12.5%", 125), ("１１．５％", 115), (" 60 % ", 600)],
)
def test_reads_percentages(text: str, tenths: int) -> None:
    assert parse_moisture(text) == tenths


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("wet", "unreadable"),
        ("", "unreadable"),
        ("0", "out_of_range"),
        ("95", "out_of_range"),
        ("12.25", "too_precise"),
        ("-3", "unreadable"),
    ],
)
def test_rejects(text: str, reason: str) -> None:
    with pytest.raises(DomainError) as caught:
        parse_moisture(text)
    assert caught.value.reason == reason


@given(st.text(max_size=20))
def test_any_text_is_in_range_or_refused(text: str) -> None:
    try:
        tenths = parse_moisture(text)
    except DomainError:
        return
    assert MIN_TENTHS <= tenths <= MAX_TENTHS
