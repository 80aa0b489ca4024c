"""The pure rules of a lot's auction: money, bid checks, proxy bids, soft close, typed prices.

No database and no Telegram here, so every rule is unit-tested on its own and the same code
decides in the bid service, the closer and the concurrency tests (which replay the accepted
bids one at a time and compare). Prices are integer fen per kg, weights integer grams; nothing
is ever a float.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from bot.quantity import normalise

GRAMS_PER_KG = 1000
FEN_PER_YUAN = 100
DEFAULT_CONFIRM_ABOVE = Decimal("0.20")  # a bid 20 % over the leader is likely a typo (96 for 9.6)
DEFAULT_EXTENSION = timedelta(minutes=3)
MAX_FEN_PER_KG = 1000 * FEN_PER_YUAN  # 1,000 CNY/kg: no coffee in Yunnan comes near it


# --- Money -----------------------------------------------------------------------------------


def lot_value_fen(price_fen_per_kg: int, grams: int) -> int:
    """What `grams` cost at `price_fen_per_kg`, rounded half up to the fen.

    The one rounding rule for every total (won, owed, sold, a farmer's share): integers only,
    so a total shown to a merchant and the one stored can never differ by a float's error."""
    if price_fen_per_kg < 0 or grams < 0:
        raise ValueError("price and weight are never negative")
    # floor(x / 1000 + 1/2) with x = price * grams, in integers.
    return (2 * price_fen_per_kg * grams + GRAMS_PER_KG) // (2 * GRAMS_PER_KG)


# --- Bids --------------------------------------------------------------------------------------


class Refusal(enum.StrEnum):
    """Why a bid was refused; the handler turns it into the merchant's language."""

    BELOW_RESERVE = "below_reserve"
    BELOW_INCREMENT = "below_increment"
    ALREADY_LEADING = "already_leading"
    CLOSED = "closed"


@dataclass(frozen=True)
class Rules:
    """A lot's auction settings; prices in fen per kg."""

    reserve: int
    increment: int
    confirm_above: Decimal = DEFAULT_CONFIRM_ABOVE
    extension: timedelta = DEFAULT_EXTENSION

    def __post_init__(self) -> None:
        if self.reserve <= 0 or self.increment <= 0:
            raise ValueError("reserve and increment are positive")
        if self.confirm_above < 0 or self.extension < timedelta(0):
            raise ValueError("confirmation threshold and extension are not negative")


@dataclass(frozen=True)
class Accepted:
    """The bid stands at `price`; `needs_confirmation` asks the merchant first (a likely typo)."""

    price: int
    needs_confirmation: bool = False


@dataclass(frozen=True)
class Refused:
    """The bid was refused; `minimum` is the least price that would be accepted, when any."""

    reason: Refusal
    minimum: int | None = None


def minimum_bid(rules: Rules, leading: int | None) -> int:
    """The least acceptable price: the reserve first, then the leader plus the increment."""
    return rules.reserve if leading is None else leading + rules.increment


def needs_confirmation(rules: Rules, price: int, leading: int | None) -> bool:
    """True when `price` is more than `confirm_above` over the leader (the reserve before any
    bid): 96 typed for 9.6 would otherwise win the lot at ten times its price."""
    base = rules.reserve if leading is None else leading
    return Decimal(price) > Decimal(base) * (1 + rules.confirm_above)


def check_bid(
    rules: Rules, price: int, leading: int | None, bidder_leads: bool = False
) -> Accepted | Refused:
    """Accept `price` or say why not: a leader cannot outbid themselves, the first bid must
    reach the reserve, a later one must beat the leader by at least the increment."""
    if bidder_leads:
        return Refused(Refusal.ALREADY_LEADING)
    least = minimum_bid(rules, leading)
    if price < least:
        reason = Refusal.BELOW_RESERVE if leading is None else Refusal.BELOW_INCREMENT
        return Refused(reason, least)
    return Accepted(price, needs_confirmation(rules, price, leading))


# --- Soft close --------------------------------------------------------------------------------


def close_after_bid(
    close: datetime, at: datetime, extension: timedelta = DEFAULT_EXTENSION
) -> datetime | Refused:
    """The close after a bid at `at`: moved to `at + extension` when the bid falls in the last
    `extension` before it, so nobody wins by sniping. The close instant itself is closed."""
    if at >= close:
        return Refused(Refusal.CLOSED)
    if close - at < extension:
        return at + extension
    return close


# --- Proxy bidding -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Bid:
    """One bid as it arrived: a typed `price`, a proxy `maximum`, or both (price <= maximum).

    A typed price alone commits to exactly that price; a maximum lets the system bid the least
    needed for the merchant, up to it (Cup of Excellence's proxy bidding)."""

    merchant: Hashable
    at: datetime
    price: int | None = None
    maximum: int | None = None

    def __post_init__(self) -> None:
        if self.price is None and self.maximum is None:
            raise ValueError("a bid has a price, a maximum or both")
        if self.price is not None and self.maximum is not None and self.maximum < self.price:
            raise ValueError("a maximum is never below the price typed with it")

    @property
    def ceiling(self) -> int:
        """The most this bid may ever pay."""
        if self.maximum is not None:
            return self.maximum
        assert self.price is not None  # __post_init__ saw to it
        return self.price


@dataclass(frozen=True)
class Standing:
    """Who leads a lot, at what price, up to what ceiling, and when it closes.

    `runner_up` is the highest ceiling of any other merchant: a leader pinned at a tie who
    raises their maximum then pays the least that beats it, as the proxy formula says."""

    leader: Hashable | None = None
    price: int | None = None
    ceiling: int | None = None
    close: datetime | None = None
    runner_up: int | None = None


@dataclass(frozen=True)
class Outcome:
    """What one bid did: the standing after it, and the refusal when it was refused."""

    standing: Standing
    refused: Refused | None = None


def apply_bid(rules: Rules, standing: Standing, bid: Bid) -> Outcome:
    """Apply one bid to the standing, as the bid service does under the lot's lock.

    The leader pays min(their ceiling, runner-up's ceiling + increment), never below the
    reserve or a price they typed. Equal ceilings: the earlier one, the leader, stays.
    A leader may raise their own maximum (the price moves only if a tie had pinned it at the
    old maximum) but never outbid themselves with a typed price. An
    accepted bid in the last minutes extends the close; a refused one leaves it alone."""
    close = standing.close
    if close is not None:
        moved = close_after_bid(close, bid.at, rules.extension)
        if isinstance(moved, Refused):
            return Outcome(standing, moved)
        close = moved
    if standing.leader is not None and standing.leader == bid.merchant:
        if bid.price is None and standing.ceiling is not None and bid.ceiling > standing.ceiling:
            price = standing.price
            if standing.runner_up is not None and price is not None:
                price = max(price, min(bid.ceiling, standing.runner_up + rules.increment))
            # Raising one's own maximum moves the close only when it moves the price: a
            # leader must not keep a lot open for ever by raising a maximum nobody sees.
            kept = close if price != standing.price else standing.close
            return Outcome(replace(standing, price=price, ceiling=bid.ceiling, close=kept))
        return Outcome(standing, Refused(Refusal.ALREADY_LEADING))
    least = minimum_bid(rules, standing.price)
    if bid.ceiling < least or (bid.price is not None and bid.price < least):
        reason = Refusal.BELOW_RESERVE if standing.price is None else Refusal.BELOW_INCREMENT
        return Outcome(standing, Refused(reason, least))
    floor = bid.price if bid.price is not None else least
    if standing.leader is None or standing.ceiling is None:
        leader = Standing(bid.merchant, floor, bid.ceiling, close)
    elif bid.ceiling > standing.ceiling:
        price = max(floor, min(bid.ceiling, standing.ceiling + rules.increment))
        leader = Standing(bid.merchant, price, bid.ceiling, close, standing.ceiling)
    else:
        # The leader's proxy answers at once: the least that beats the challenger, up to its
        # ceiling (the challenger's whole ceiling on a tie, which the earlier leader keeps).
        price = min(standing.ceiling, bid.ceiling + rules.increment)
        runner_up = max(standing.runner_up or 0, bid.ceiling)
        leader = replace(standing, price=price, close=close, runner_up=runner_up)
    return Outcome(leader)


def replay(
    rules: Rules, bids: Iterable[Bid], close: datetime | None = None
) -> tuple[Standing, list[Outcome]]:
    """The standing after applying `bids` one at a time in arrival order, and each bid's
    outcome: the reference the concurrent bid tests compare the database against."""
    standing = Standing(close=close)
    outcomes = []
    for bid in bids:
        outcome = apply_bid(rules, standing, bid)
        outcomes.append(outcome)
        standing = outcome.standing
    return standing, outcomes


# --- Typed prices ------------------------------------------------------------------------------


class PriceProblem(enum.StrEnum):
    """Why a typed price was refused; each becomes a question, never a guess."""

    EMPTY = "empty"
    UNREADABLE = "unreadable"
    UNKNOWN_UNIT = "unknown_unit"
    NOT_PER_KG = "not_per_kg"
    AMBIGUOUS_SEPARATOR = "ambiguous_separator"
    ZERO = "zero"
    NEGATIVE = "negative"
    TOO_LARGE = "too_large"
    TOO_PRECISE = "too_precise"


@dataclass(frozen=True)
class PriceRejected(Exception):
    """Why a typed price was refused. AMBIGUOUS_SEPARATOR carries both readings in fen per kg
    ("9,6": 9.6 or 96 CNY), NOT_PER_KG the weight unit typed, so the reply can ask."""

    problem: PriceProblem
    readings: tuple[int, ...] = ()
    unit: str | None = None


_CURRENCY_BEFORE = ("cn¥", "rmb", "cny", "¥")
_CURRENCY_AFTER = ("块钱", "元", "块", "yuan", "rmb", "cny")
_PER_MARKERS = ("/", "每", "一", "per ")
_PER_KG = frozenset({"公斤", "千克", "kg", "kgs", "kilo", "kilos", "kilogram", "kilograms"})
_OTHER_WEIGHTS = {
    "斤": "jin",
    "市斤": "jin",
    "jin": "jin",
    "t": "t",
    "ton": "t",
    "tons": "t",
    "tonne": "t",
    "吨": "t",
}
_SIGNS = ("-", "−", "+")
_NUMBER = re.compile(r"^(?:[0-9][0-9,]*(?:\.[0-9]*)?|\.[0-9]+)")
_GROUPED = re.compile(r"^[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]*)?$")


def _strip_prefix(text: str, words: Iterable[str]) -> tuple[str, bool]:
    for word in words:
        if text.startswith(word):
            return text[len(word) :].lstrip(), True
    return text, False


def _to_fen(number: Decimal) -> int:
    fen = number * FEN_PER_YUAN
    if fen != fen.to_integral_value():
        raise PriceRejected(PriceProblem.TOO_PRECISE)
    return int(fen)


def parse_price(text: str, maximum: int = MAX_FEN_PER_KG) -> int:
    """Fen per kg for a typed price ("9.6", "９．６元", "¥9.6", "9.60 元/公斤", "9.6 yuan"), or
    PriceRejected. Never guesses: a decimal comma, a price per jin or per ton, a fraction of a
    fen, zero, a negative or anything above `maximum` is refused with its reason."""
    rest = normalise(text).lower()
    if not rest:
        raise PriceRejected(PriceProblem.EMPTY)
    signs = ""
    for _ in range(2):  # "-9.6", "¥-9.6" and "-¥9.6" all say the same
        if rest.startswith(_SIGNS):
            signs += rest[0]
            rest = rest[1:].lstrip()
        rest, _currency = _strip_prefix(rest, _CURRENCY_BEFORE)
    match = _NUMBER.match(rest)
    if not match or len(signs) > 1:
        raise PriceRejected(PriceProblem.UNREADABLE)
    _check_tail(rest[match.end() :].strip())
    number = _read_number(match[0])
    if number == 0:
        raise PriceRejected(PriceProblem.ZERO)
    if signs in ("-", "−"):
        raise PriceRejected(PriceProblem.NEGATIVE)
    fen = _to_fen(number)
    if fen > maximum:
        raise PriceRejected(PriceProblem.TOO_LARGE)
    return fen


def _check_tail(tail: str) -> None:
    """What may follow the number: a currency word, then "/kg", "每公斤", "per kg" and the like.

    A bare weight ("9.6 kg") reads as a quantity typed at the wrong question, and a price per
    jin or per ton is not converted behind the merchant's back: both are refused."""
    tail, currency = _strip_prefix(tail, _CURRENCY_AFTER)
    if not tail:
        return
    tail, per = _strip_prefix(tail, _PER_MARKERS)
    if tail in _OTHER_WEIGHTS and (currency or per):
        raise PriceRejected(PriceProblem.NOT_PER_KG, unit=_OTHER_WEIGHTS[tail])
    if tail not in _PER_KG or not (currency or per):
        raise PriceRejected(PriceProblem.UNKNOWN_UNIT)


def _read_number(raw: str) -> Decimal:
    if "," in raw:
        if not _GROUPED.match(raw):
            if re.fullmatch(r"[0-9]+,[0-9]{1,2}", raw):
                whole, fraction = raw.split(",")
                readings = (Decimal(f"{whole}.{fraction}"), Decimal(whole + fraction))
                raise PriceRejected(
                    PriceProblem.AMBIGUOUS_SEPARATOR,
                    readings=tuple(int(r * FEN_PER_YUAN) for r in readings),
                )
            raise PriceRejected(PriceProblem.UNREADABLE)
        raw = raw.replace(",", "")
    try:
        return Decimal(raw)
    except InvalidOperation:
        raise PriceRejected(PriceProblem.UNREADABLE) from None


def format_price(fen_per_kg: int) -> str:
    """Plain "9.60" for a price in fen per kg: what a quick button or an edit field shows, and
    what parse_price reads back exactly."""
    yuan, fen = divmod(fen_per_kg, FEN_PER_YUAN)
    return f"{yuan}.{fen:02d}"
