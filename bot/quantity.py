"""Parse the quantities farmers type ("1,200 kg", "１２００公斤", "3吨", "500斤") into grams.

Never guesses: a number without a unit, a separator that could be a decimal comma, an amount
that is zero, negative, absurd or finer than a gram is rejected with a reason the dialogue can
turn into a question. A decimal comma ("12,5") carries both readings (12.5 and 125) and the
unit typed, so the question can offer them.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

GRAMS_PER_UNIT: dict[str, Decimal] = {
    "kg": Decimal(1000),
    "jin": Decimal(500),
    "t": Decimal(1_000_000),
}

UNIT_WORDS: dict[str, str] = {
    "kg": "kg",
    "kgs": "kg",
    "kilo": "kg",
    "kilos": "kg",
    "kilogram": "kg",
    "kilograms": "kg",
    "公斤": "kg",
    "千克": "kg",
    "斤": "jin",
    "jin": "jin",
    "市斤": "jin",
    "t": "t",
    "ton": "t",
    "tons": "t",
    "tonne": "t",
    "tonnes": "t",
    "吨": "t",
    "噸": "t",
}

MIN_GRAMS = 500  # half a jin: less is not a harvest anyone collects
MAX_GRAMS = 100_000_000  # 100 t: far above any one farmer's harvest (42 t fed 792 farmers)

_SPACES = re.compile(r"[\s\u00a0\u2009\u202f]+")
_NUMBER_UNIT = re.compile(
    r"^(?P<sign>[-+−]?)(?P<number>[0-9][0-9,' ]*(?:\.[0-9]+)?|\.[0-9]+)"
    r"\s*(?P<unit>[^\d\s.,]*)$"
)
_GROUPED = re.compile(r"^[0-9]{1,3}(?:[,' ][0-9]{3})+(?:\.[0-9]+)?$")


class Problem(enum.StrEnum):
    EMPTY = "empty"
    UNREADABLE = "unreadable"
    UNKNOWN_UNIT = "unknown_unit"
    NO_UNIT = "no_unit"
    AMBIGUOUS_SEPARATOR = "ambiguous_separator"
    ZERO = "zero"
    NEGATIVE = "negative"
    TOO_SMALL = "too_small"
    TOO_LARGE = "too_large"
    TOO_PRECISE = "too_precise"


@dataclass(frozen=True)
class QuantityRejected(Exception):
    """Why a typed quantity was refused; `amount` is the number read, when one was.

    AMBIGUOUS_SEPARATOR carries `readings` (the comma as a decimal point, then as nothing) and
    the `unit` typed (None when none was)."""

    problem: Problem
    amount: Decimal | None = None
    readings: tuple[Decimal, ...] = ()
    unit: str | None = None


@dataclass(frozen=True)
class Typed:
    """A quantity as the farmer typed it: exact grams and the unit they used."""

    grams: int
    unit: str

    @property
    def amount(self) -> Decimal:
        """The number typed, back from grams (exact: every unit is a whole number of grams)."""
        amount = Decimal(self.grams) / GRAMS_PER_UNIT[self.unit]
        return amount.quantize(1) if amount == amount.to_integral_value() else amount.normalize()


def normalise(text: str) -> str:
    """Full-width digits and punctuation to ASCII, ideographic separators to ASCII ones."""
    text = unicodedata.normalize("NFKC", text)
    text = text.replace("、", ",").replace("，", ",").replace("。", ".").replace("．", ".")
    return _SPACES.sub(" ", text).strip()


def _read_number(raw: str) -> Decimal:
    raw = raw.strip()
    if "," in raw or "'" in raw or " " in raw:
        if not _GROUPED.match(raw):
            # "1,5" is 1.5 in much of the world and 15 nowhere: ask rather than guess.
            if re.fullmatch(r"[0-9]+,[0-9]{1,2}", raw):
                whole, fraction = raw.split(",")
                readings = (Decimal(f"{whole}.{fraction}"), Decimal(whole + fraction))
                raise QuantityRejected(Problem.AMBIGUOUS_SEPARATOR, readings=readings)
            raise QuantityRejected(Problem.UNREADABLE)
        raw = re.sub(r"[,' ]", "", raw)
    try:
        return Decimal(raw)
    except InvalidOperation:
        raise QuantityRejected(Problem.UNREADABLE) from None


def parse_amount(text: str) -> tuple[Decimal, str | None]:
    """Split typed text into a number and a unit key (None when no unit was typed)."""
    cleaned = normalise(text)
    if not cleaned:
        raise QuantityRejected(Problem.EMPTY)
    match = _NUMBER_UNIT.match(cleaned)
    if not match:
        raise QuantityRejected(Problem.UNREADABLE)
    unit_word = match["unit"].strip().lower()
    unit = UNIT_WORDS.get(unit_word) if unit_word else None
    try:
        number = _read_number(match["number"])
    except QuantityRejected as exc:
        if exc.problem != Problem.AMBIGUOUS_SEPARATOR:
            raise
        if match["sign"] in ("-", "−"):
            raise QuantityRejected(Problem.NEGATIVE) from None
        if unit_word and unit is None:
            raise QuantityRejected(Problem.UNKNOWN_UNIT) from None
        raise QuantityRejected(exc.problem, readings=exc.readings, unit=unit) from None
    if match["sign"] in ("-", "−") and number != 0:
        raise QuantityRejected(Problem.NEGATIVE, number)
    if not unit_word:
        return number, None
    if unit is None:
        raise QuantityRejected(Problem.UNKNOWN_UNIT, number)
    return number, unit


def to_grams(number: Decimal, unit: str) -> int:
    """Exact conversion; rejects amounts outside a plausible harvest or finer than a gram."""
    if number == 0:
        raise QuantityRejected(Problem.ZERO, number)
    if number < 0:
        raise QuantityRejected(Problem.NEGATIVE, number)
    grams = number * GRAMS_PER_UNIT[unit]
    if grams > MAX_GRAMS:
        raise QuantityRejected(Problem.TOO_LARGE, number)
    if grams < MIN_GRAMS:
        raise QuantityRejected(Problem.TOO_SMALL, number)
    if grams != grams.to_integral_value():
        raise QuantityRejected(Problem.TOO_PRECISE, number)
    return int(grams)


def parse_typed(text: str) -> Typed:
    """Grams and the unit of a typed quantity, or QuantityRejected (NO_UNIT carries the
    number read)."""
    number, unit = parse_amount(text)
    if unit is None:
        if number == 0:
            raise QuantityRejected(Problem.ZERO, number)
        raise QuantityRejected(Problem.NO_UNIT, number)
    return Typed(to_grams(number, unit), unit)


def parse_quantity(text: str) -> int:
    """Grams for a typed quantity, or QuantityRejected."""
    return parse_typed(text).grams
