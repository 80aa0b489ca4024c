"""The quantity parser: examples farmers type, and properties over any text."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.quantity import (
    GRAMS_PER_UNIT,
    MAX_GRAMS,
    MIN_GRAMS,
    Problem,
    QuantityRejected,
    Typed,
    parse_quantity,
    parse_typed,
)

FULL_WIDTH = str.maketrans("0123456789.,", "０１２３４５６７８９．，")
UNIT_SPELLINGS = {
    "kg": ["kg", "KG", "Kg", "公斤", "千克", "kilos"],
    "jin": ["斤", "jin"],
    "t": ["t", "T", "吨", "tonnes"],
}


@pytest.mark.parametrize(
    ("text", "grams"),
    [
        ("1200kg", 1_200_000),
        ("1200 kg", 1_200_000),
        ("１２００公斤", 1_200_000),
        ("1,200 kg", 1_200_000),
        ("1 200 kg", 1_200_000),
        ("1，200千克", 1_200_000),
        ("3吨", 3_000_000),
        ("1.5 t", 1_500_000),
        ("500斤", 250_000),
        ("1斤", 500),
        ("0.5kg", 500),
        ("  53 KG  ", 53_000),
        ("12.345 kg", 12_345),
    ],
)
def test_accepts_what_farmers_type(text: str, grams: int) -> None:
    assert parse_quantity(text) == grams


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", Problem.EMPTY),
        ("   ", Problem.EMPTY),
        ("lots", Problem.UNREADABLE),
        ("1200", Problem.NO_UNIT),
        ("1,5 kg", Problem.AMBIGUOUS_SEPARATOR),
        ("12,00kg", Problem.AMBIGUOUS_SEPARATOR),
        ("1,2345 kg", Problem.UNREADABLE),
        ("0 kg", Problem.ZERO),
        ("0", Problem.ZERO),
        ("-5 kg", Problem.NEGATIVE),
        ("5 lb", Problem.UNKNOWN_UNIT),
        ("0.1 kg", Problem.TOO_SMALL),
        ("101 t", Problem.TOO_LARGE),
        ("1.0001 kg", Problem.TOO_PRECISE),
        ("1吨200公斤", Problem.UNREADABLE),
    ],
)
def test_rejects_with_a_reason(text: str, problem: Problem) -> None:
    with pytest.raises(QuantityRejected) as caught:
        parse_quantity(text)
    assert caught.value.problem == problem


def test_missing_unit_keeps_the_number_for_the_question() -> None:
    with pytest.raises(QuantityRejected) as caught:
        parse_quantity("２４０")
    assert caught.value.amount == Decimal(240)


@given(st.text(max_size=40))
def test_any_text_is_grams_in_range_or_a_reason(text: str) -> None:
    try:
        grams = parse_quantity(text)
    except QuantityRejected as exc:
        assert isinstance(exc.problem, Problem)
    else:
        assert isinstance(grams, int)
        assert MIN_GRAMS <= grams <= MAX_GRAMS


@given(
    whole=st.integers(min_value=0, max_value=99_999),
    fraction=st.integers(min_value=0, max_value=999),
    unit=st.sampled_from(sorted(UNIT_SPELLINGS)),
    data=st.data(),
)
def test_units_convert_exactly(whole: int, fraction: int, unit: str, data: st.DataObject) -> None:
    amount = Decimal(whole) + Decimal(fraction) / 1000
    spelled = data.draw(st.sampled_from(UNIT_SPELLINGS[unit]))
    grouped = data.draw(st.booleans())
    number = f"{whole:,}" if grouped else str(whole)
    if fraction:
        number += f".{fraction:03d}"
    if data.draw(st.booleans()):
        number = number.translate(FULL_WIDTH)
    text = number + data.draw(st.sampled_from(["", " "])) + spelled
    expected = amount * GRAMS_PER_UNIT[unit]
    try:
        grams = parse_quantity(text)
    except QuantityRejected as exc:
        if amount == 0:
            assert exc.problem == Problem.ZERO
        elif expected < MIN_GRAMS:
            assert exc.problem == Problem.TOO_SMALL
        elif expected > MAX_GRAMS:
            assert exc.problem == Problem.TOO_LARGE
        else:
            assert exc.problem == Problem.TOO_PRECISE
            assert expected != expected.to_integral_value()
    else:
        assert grams == expected


@pytest.mark.parametrize(
    ("text", "readings", "unit"),
    [
        ("１２,５", (Decimal("12.5"), Decimal(125)), None),
        ("12,5 公斤", (Decimal("12.5"), Decimal(125)), "kg"),
        ("1,5斤", (Decimal("1.5"), Decimal(15)), "jin"),
        ("12，00kg", (Decimal("12.00"), Decimal(1200)), "kg"),
    ],
)
def test_a_decimal_comma_carries_both_readings_and_the_unit(
    text: str, readings: tuple[Decimal, ...], unit: str | None
) -> None:
    with pytest.raises(QuantityRejected) as caught:
        parse_quantity(text)
    assert caught.value.problem == Problem.AMBIGUOUS_SEPARATOR
    assert (caught.value.readings, caught.value.unit) == (readings, unit)


@pytest.mark.parametrize(
    ("text", "problem"), [("1,5 lb", Problem.UNKNOWN_UNIT), ("-1,5 kg", Problem.NEGATIVE)]
)
def test_a_decimal_comma_with_another_problem_gets_that_problem(
    text: str, problem: Problem
) -> None:
    with pytest.raises(QuantityRejected) as caught:
        parse_quantity(text)
    assert caught.value.problem == problem


@given(
    whole=st.integers(min_value=0, max_value=99_999),
    fraction=st.text(alphabet="0123456789", min_size=1, max_size=2),
    unit=st.sampled_from([None, *sorted(UNIT_SPELLINGS)]),
    data=st.data(),
)
def test_a_decimal_comma_is_asked_never_contradicted(
    whole: int, fraction: str, unit: str | None, data: st.DataObject
) -> None:
    """ "12,5" offers 12.5 and 125 in the unit typed, and each reading, typed plainly in that
    unit, is accepted or refused only for its size: the question never offers what the
    parser would then call unreadable or ambiguous."""
    number = f"{whole},{fraction}"
    if data.draw(st.booleans()):
        number = number.translate(FULL_WIDTH)
    spelled = data.draw(st.sampled_from(UNIT_SPELLINGS[unit])) if unit else ""
    with pytest.raises(QuantityRejected) as caught:
        parse_quantity(number + data.draw(st.sampled_from(["", " "])) + spelled)
    rejected = caught.value
    assert rejected.problem == Problem.AMBIGUOUS_SEPARATOR
    assert rejected.unit == unit
    assert rejected.readings == (Decimal(f"{whole}.{fraction}"), Decimal(f"{whole}{fraction}"))
    for reading in rejected.readings:
        try:
            typed = parse_typed(f"{reading} {unit or 'kg'}")
        except QuantityRejected as exc:
            assert exc.problem in {Problem.ZERO, Problem.TOO_SMALL, Problem.TOO_LARGE}
        else:
            assert typed.grams == reading * GRAMS_PER_UNIT[unit or "kg"]
            assert typed.amount == reading


@given(
    grams=st.integers(min_value=MIN_GRAMS, max_value=MAX_GRAMS),
    unit=st.sampled_from(sorted(GRAMS_PER_UNIT)),
)
def test_the_amount_typed_comes_back_exactly_from_grams(grams: int, unit: str) -> None:
    typed = Typed(grams, unit)
    assert typed.amount * GRAMS_PER_UNIT[unit] == grams
    assert "E" not in str(typed.amount)
