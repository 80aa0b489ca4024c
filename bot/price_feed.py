"""The price feed's two formats, read and converted to integer fen per kg (docs/prices.md).

Pure: no I/O. A feed body is JSON (it starts with "{") or CSV with a header row, and has one of
two shapes: the ICE Arabica "C" price in US cents per pound with a USD/CNY rate, converted here
to CNY per kg for green bean of each configured grade (plus its differential) and for parchment
and cherry (by their ratios), or local CNY per kg prices given directly. Arithmetic is Decimal;
each price is rounded once, at the end, half up to the fen. Anything unreadable is refused as
malformed, anything outside the bounds below as absurd: the caller keeps the last good prices.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from bot.models import Grade, Product
from bot.services.prices import Key

LB_IN_KG = Decimal("0.45359237")  # 1 lb in kg, exactly
FEN = Decimal("0.01")

# What a sane feed says (inclusive); anything outside is refused as absurd.
ICE_BOUNDS = (Decimal(30), Decimal(1500))  # US cents per lb (it has traded ~40-440)
RATE_BOUNDS = (Decimal(3), Decimal(15))  # CNY per USD
CNY_PER_KG_BOUNDS = (Decimal("0.5"), Decimal(1000))  # every price, given or converted

# Field names, the same in JSON and in CSV headers.
ICE = "ice_c_usc_per_lb"
RATE = "usd_cny"
AS_OF = "as_of"
PRICES = "prices"
PRODUCT = "product"
GRADE = "grade"
CNY_PER_KG = "cny_per_kg"
UNGRADED = ("", "-", "ungraded")  # what a feed may write for "no grade"

MALFORMED = "malformed"
ABSURD = "absurd"


class FeedRejected(ValueError):
    """The feed said nothing usable: `reason` is MALFORMED or ABSURD, `detail` says what (for
    the log and the feed state), `facts` what an absurd value was (field, value, low, high)."""

    def __init__(self, reason: str, detail: str, **facts: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.facts = facts


@dataclass(frozen=True)
class IceQuote:
    """The ICE Arabica "C" price (US cents per lb) and the USD/CNY rate it is converted with."""

    usc_per_lb: Decimal
    usd_cny: Decimal
    as_of: datetime | None = None


@dataclass(frozen=True)
class LocalPrices:
    """CNY per kg prices given directly, one per product and grade."""

    prices: tuple[tuple[Key, Decimal], ...]
    as_of: datetime | None = None


Feed = IceQuote | LocalPrices


@dataclass(frozen=True)
class Conversion:
    """How the ICE price becomes local prices: CNY per kg added per grade of green bean (None:
    ungraded; a grade not listed gets no price), and parchment and cherry as shares of green."""

    differentials: Mapping[Grade | None, Decimal] = field(default_factory=dict)
    parchment_ratio: Decimal = Decimal("0.80")
    cherry_ratio: Decimal = Decimal("0.17")

    @classmethod
    def from_settings(cls, settings: Any) -> Conversion:
        return cls(
            differentials={
                None if name == "ungraded" else Grade(name): Decimal(amount)
                for name, amount in settings.price_green_differentials.items()
            },
            parchment_ratio=settings.price_parchment_ratio,
            cherry_ratio=settings.price_cherry_ratio,
        )


@dataclass(frozen=True)
class Converted:
    """One price from the feed: integer fen per kg, and what the feed said (for the record)."""

    fen_per_kg: int
    details: dict[str, str]


# --- Reading ------------------------------------------------------------------------------------


def parse(body: bytes | str) -> Feed:
    """A feed body as JSON (when it starts with "{") or CSV; FeedRejected when unusable."""
    if isinstance(body, bytes):
        try:
            text = body.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise FeedRejected(MALFORMED, "not UTF-8 text") from None
    else:
        text = body.removeprefix("\ufeff")
    text = text.strip()
    if not text:
        raise FeedRejected(MALFORMED, "empty")
    return parse_json(text) if text.startswith("{") else parse_csv(text)


def _refuse_constant(name: str) -> Any:
    raise FeedRejected(MALFORMED, f"{name} is not a number")


def parse_json(text: str) -> Feed:
    try:
        data = json.loads(
            text, parse_float=Decimal, parse_int=Decimal, parse_constant=_refuse_constant
        )
    except (ValueError, RecursionError) as exc:
        if isinstance(exc, FeedRejected):
            raise
        raise FeedRejected(MALFORMED, f"not JSON ({str(exc)[:80]})") from None
    if not isinstance(data, dict):
        raise FeedRejected(MALFORMED, "JSON is not an object")
    as_of = _as_of(data.get(AS_OF))
    ice = ICE in data or RATE in data
    if ice == (PRICES in data):
        raise FeedRejected(MALFORMED, f"give either {ICE} and {RATE}, or {PRICES}")
    if ice:
        return _quote(data.get(ICE), data.get(RATE), as_of)
    rows = data[PRICES]
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise FeedRejected(MALFORMED, f"{PRICES} is not a list of objects")
    return _local([(r.get(PRODUCT), r.get(GRADE), r.get(CNY_PER_KG)) for r in rows], as_of)


def parse_csv(text: str) -> Feed:
    try:
        rows = [
            [cell.strip() for cell in row]
            for row in csv.reader(io.StringIO(text, newline=""))
            if any(cell.strip() for cell in row)
        ]
    except csv.Error as exc:
        raise FeedRejected(MALFORMED, f"not CSV ({exc})") from None
    if not rows:
        raise FeedRejected(MALFORMED, "empty")
    header, body = [name.lower() for name in rows[0]], rows[1:]
    if len(set(header)) != len(header):
        raise FeedRejected(MALFORMED, "a column is named twice")
    if any(len(row) != len(header) for row in body):
        raise FeedRejected(MALFORMED, "a row has more or fewer cells than the header")
    records = [dict(zip(header, row, strict=True)) for row in body]
    ice = ICE in header or RATE in header
    if ice == (CNY_PER_KG in header):
        raise FeedRejected(MALFORMED, f"columns: either {ICE},{RATE} or {PRODUCT},{CNY_PER_KG}")
    if ice:
        if len(records) != 1:
            raise FeedRejected(MALFORMED, "the ICE price is one row")
        (record,) = records
        return _quote(record.get(ICE), record.get(RATE), _as_of(record.get(AS_OF) or None))
    if PRODUCT not in header:
        raise FeedRejected(MALFORMED, f"no {PRODUCT} column")
    return _local([(r[PRODUCT], r.get(GRADE), r[CNY_PER_KG]) for r in records], None)


def _number(value: object, name: str) -> Decimal:
    """A finite decimal from a JSON number or a string like "185.35"."""
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise FeedRejected(MALFORMED, f"{name} is not a number") from None
    else:
        raise FeedRejected(MALFORMED, f"{name} is missing or not a number")
    if not number.is_finite():
        raise FeedRejected(MALFORMED, f"{name} is not a number")
    return number


def _as_of(value: object) -> datetime | None:
    """The feed's own time stamp (ISO 8601; UTC when it names no offset), or None."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise FeedRejected(MALFORMED, f"{AS_OF} is not a time")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise FeedRejected(MALFORMED, f"{AS_OF} is not an ISO 8601 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _quote(price: object, rate: object, as_of: datetime | None) -> IceQuote:
    quote = IceQuote(_number(price, ICE), _number(rate, RATE), as_of)
    _within(ICE, quote.usc_per_lb, ICE_BOUNDS)
    _within(RATE, quote.usd_cny, RATE_BOUNDS)
    return quote


def _key(product: object, grade: object) -> Key:
    if not isinstance(product, str) or product.strip().lower() not in set(Product):
        raise FeedRejected(MALFORMED, f"{PRODUCT} is not one of cherry, parchment, green")
    if grade is None:
        grade = ""
    if not isinstance(grade, str):
        raise FeedRejected(MALFORMED, f"{GRADE} is not text")
    kind = Product(product.strip().lower())
    grade = grade.strip()
    if grade.lower() in UNGRADED:
        return Key(kind)
    if grade.upper() not in set(Grade):
        raise FeedRejected(MALFORMED, f"{GRADE} is not one of AA, A, AB, PB, C or ungraded")
    if kind == Product.CHERRY:
        raise FeedRejected(MALFORMED, "fresh cherry has no grade")
    return Key(kind, Grade(grade.upper()))


def _local(rows: list[tuple[object, object, object]], as_of: datetime | None) -> LocalPrices:
    if not rows:
        raise FeedRejected(MALFORMED, "no prices")
    prices: dict[Key, Decimal] = {}
    for product, grade, value in rows:
        key = _key(product, grade)
        if key in prices:
            raise FeedRejected(MALFORMED, f"{key.code} is given twice")
        prices[key] = _number(value, CNY_PER_KG)
        _within(key.code, prices[key], CNY_PER_KG_BOUNDS)
    return LocalPrices(tuple(prices.items()), as_of)


def _within(name: str, value: Decimal, bounds: tuple[Decimal, Decimal]) -> None:
    low, high = bounds
    if not low <= value <= high:
        raise FeedRejected(
            ABSURD,
            f"{name} {value} is outside {low}-{high}",
            field=name,
            value=str(value),
            low=str(low),
            high=str(high),
        )


# --- Converting ---------------------------------------------------------------------------------


def to_fen(cny: Decimal) -> int:
    """CNY to integer fen, rounded half up (12.345 -> 1235)."""
    return int((cny / FEN).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def green_cny_per_kg(usc_per_lb: Decimal, usd_cny: Decimal) -> Decimal:
    """The ICE price in CNY per kg, unrounded: cents to dollars, per lb to per kg, to yuan."""
    return usc_per_lb / 100 / LB_IN_KG * usd_cny


def convert(feed: Feed, conversion: Conversion) -> dict[Key, Converted]:
    """Every price the feed gives, in fen per kg; FeedRejected(ABSURD) when one is outside
    CNY_PER_KG_BOUNDS (a differential can push a low ICE price below them)."""
    if isinstance(feed, LocalPrices):
        result = {
            key: (value, {CNY_PER_KG: str(value)} | _stamp(feed.as_of))
            for key, value in feed.prices
        }
    else:
        result = _from_ice(feed, conversion)
    for key, (value, _details) in result.items():
        _within(key.code, value, CNY_PER_KG_BOUNDS)
    return {key: Converted(to_fen(value), details) for key, (value, details) in result.items()}


def _from_ice(quote: IceQuote, c: Conversion) -> dict[Key, tuple[Decimal, dict[str, str]]]:
    base = green_cny_per_kg(quote.usc_per_lb, quote.usd_cny)
    said = {ICE: str(quote.usc_per_lb), RATE: str(quote.usd_cny)} | _stamp(quote.as_of)
    result: dict[Key, tuple[Decimal, dict[str, str]]] = {}
    for grade, differential in sorted(c.differentials.items(), key=lambda g: g[0] or ""):
        green = base + differential
        details = said | {"differential": str(differential)}
        result[Key(Product.GREEN, grade)] = (green, details)
        ratio = {"ratio": str(c.parchment_ratio)}
        result[Key(Product.PARCHMENT, grade)] = (green * c.parchment_ratio, details | ratio)
        if grade is None:  # fresh cherry is ungraded: a share of ungraded green bean
            ratio = {"ratio": str(c.cherry_ratio)}
            result[Key(Product.CHERRY)] = (green * c.cherry_ratio, details | ratio)
    return result


def _stamp(as_of: datetime | None) -> dict[str, str]:
    return {AS_OF: as_of.isoformat()} if as_of is not None else {}
