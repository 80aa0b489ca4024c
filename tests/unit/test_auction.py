"""The auction rules: money, bid checks, proxy bids, soft close and typed prices."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from babel.numbers import format_currency
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bot.auction import (
    MAX_FEN_PER_KG,
    Accepted,
    Bid,
    PriceProblem,
    PriceRejected,
    Refusal,
    Refused,
    Rules,
    Standing,
    apply_bid,
    check_bid,
    close_after_bid,
    format_price,
    lot_value_fen,
    parse_price,
    replay,
)

T0 = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
RULES = Rules(reserve=800, increment=10)
prices = st.integers(min_value=0, max_value=10**6)
grams = st.integers(min_value=0, max_value=10**9)
FULL_WIDTH = str.maketrans("0123456789.", "０１２３４５６７８９．")


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


# --- Money -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("price", "grams_", "fen"),
    [
        (960, 1000, 960),
        (960, 5_000_000, 4_800_000),  # 5 t at 9.60 CNY/kg = 48,000 CNY
        (960, 53_000, 50_880),
        (1, 500, 1),  # half a fen rounds up
        (1, 499, 0),
        (3, 500, 2),  # 1.5 fen -> 2
        (999, 1, 1),  # 0.999 fen -> 1
        (0, 1000, 0),
    ],
)
def test_lot_value_examples(price: int, grams_: int, fen: int) -> None:
    assert lot_value_fen(price, grams_) == fen


@given(prices, grams)
def test_lot_value_is_decimal_half_up(price: int, g: int) -> None:
    exact = Decimal(price) * Decimal(g) / 1000
    assert lot_value_fen(price, g) == int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@given(prices, st.integers(min_value=0, max_value=10**6))
def test_lot_value_exact_for_whole_kilograms(price: int, kg: int) -> None:
    assert lot_value_fen(price, kg * 1000) == price * kg


@given(prices, grams, st.integers(min_value=0, max_value=10**6))
def test_lot_value_monotone(price: int, g: int, more: int) -> None:
    assert lot_value_fen(price, g) <= lot_value_fen(price, g + more)
    assert lot_value_fen(price, g) <= lot_value_fen(price + more, g)


def test_lot_value_refuses_negatives() -> None:
    with pytest.raises(ValueError):
        lot_value_fen(-1, 1000)
    with pytest.raises(ValueError):
        lot_value_fen(1, -1000)


# --- Bid validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("price", "leading", "leads", "result"),
    [
        (800, None, False, Accepted(800)),
        (799, None, False, Refused(Refusal.BELOW_RESERVE, 800)),
        (960, None, False, Accepted(960)),  # exactly 20 % over the reserve
        (961, None, False, Accepted(961, needs_confirmation=True)),
        (960, 950, False, Accepted(960)),
        (959, 950, False, Refused(Refusal.BELOW_INCREMENT, 960)),
        (950, 950, False, Refused(Refusal.BELOW_INCREMENT, 960)),
        (2000, 950, True, Refused(Refusal.ALREADY_LEADING)),
        (1140, 950, False, Accepted(1140)),  # exactly 20 % over: no question
        (1141, 950, False, Accepted(1141, needs_confirmation=True)),
        (9600, 960, False, Accepted(9600, needs_confirmation=True)),  # 96 typed for 9.6
    ],
)
def test_check_bid_examples(
    price: int, leading: int | None, leads: bool, result: Accepted | Refused
) -> None:
    assert check_bid(RULES, price, leading, leads) == result


def test_confirmation_threshold_is_configurable() -> None:
    rules = Rules(reserve=800, increment=10, confirm_above=Decimal("0.5"))
    assert check_bid(rules, 1400, 1000) == Accepted(1400)
    assert check_bid(rules, 1501, 1000) == Accepted(1501, needs_confirmation=True)


@given(
    st.integers(1, 10**5),
    st.integers(1, 10**4),
    st.one_of(st.none(), st.integers(1, 10**6)),
    st.integers(1, 10**6),
)
def test_check_bid_accepts_exactly_from_the_minimum(
    reserve: int, increment: int, leading: int | None, price: int
) -> None:
    rules = Rules(reserve, increment)
    result = check_bid(rules, price, leading)
    least = reserve if leading is None else leading + increment
    assert isinstance(result, Accepted) == (price >= least)
    if isinstance(result, Refused):
        assert result.minimum == least


def test_rules_refuse_nonsense() -> None:
    with pytest.raises(ValueError):
        Rules(reserve=0, increment=10)
    with pytest.raises(ValueError):
        Rules(reserve=800, increment=0)


# --- Soft close ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bid_at", "result"),
    [
        (at(0), at(600)),  # ten minutes before: no change
        (at(420), at(600)),  # exactly three minutes before: no change
        (at(421), at(601)),
        (at(599), at(599 + 180)),
        (at(600), Refused(Refusal.CLOSED)),  # the close instant is closed
        (at(700), Refused(Refusal.CLOSED)),
    ],
)
def test_soft_close_examples(bid_at: datetime, result: datetime | Refused) -> None:
    assert close_after_bid(at(600), bid_at) == result


@given(st.integers(0, 10**5), st.integers(-(10**5), 10**5), st.integers(0, 3600))
def test_soft_close_properties(close_s: int, bid_s: int, extension_s: int) -> None:
    close, bid_at, extension = at(close_s), at(bid_s), timedelta(seconds=extension_s)
    result = close_after_bid(close, bid_at, extension)
    if bid_at >= close:
        assert result == Refused(Refusal.CLOSED)
        return
    assert isinstance(result, datetime)
    assert result >= close
    assert result - bid_at >= extension
    assert result in (close, bid_at + extension)


# --- Proxy bidding -------------------------------------------------------------------------------


def test_proxy_bids_the_least_needed() -> None:
    bids = [
        Bid("a", at(0), maximum=1200),
        Bid("b", at(1), price=900),
        Bid("c", at(2), maximum=1000),
    ]
    standing, outcomes = replay(RULES, bids)
    assert [o.standing.price for o in outcomes] == [800, 910, 1010]
    assert [o.refused for o in outcomes] == [None, None, None]
    assert (standing.leader, standing.price, standing.ceiling) == ("a", 1010, 1200)


def test_higher_maximum_takes_the_lead_at_second_plus_increment() -> None:
    standing, _ = replay(RULES, [Bid("a", at(0), maximum=1000), Bid("b", at(1), maximum=1500)])
    assert (standing.leader, standing.price) == ("b", 1010)


def test_higher_maximum_capped_by_own_maximum() -> None:
    standing, _ = replay(RULES, [Bid("a", at(0), maximum=1000), Bid("b", at(1), maximum=1005)])
    assert (standing.leader, standing.price) == ("b", 1005)


def test_equal_maxima_the_earlier_leads() -> None:
    standing, _ = replay(RULES, [Bid("a", at(0), maximum=1000), Bid("b", at(1), maximum=1000)])
    assert (standing.leader, standing.price) == ("a", 1000)


def test_typed_price_commits_to_that_price() -> None:
    standing, _ = replay(RULES, [Bid("a", at(0), price=900)])
    assert (standing.leader, standing.price, standing.ceiling) == ("a", 900, 900)
    standing, _ = replay(RULES, [Bid("a", at(0), price=900, maximum=1500)])
    assert (standing.leader, standing.price, standing.ceiling) == ("a", 900, 1500)


def test_refusals_in_replay() -> None:
    bids = [
        Bid("a", at(0), price=700),
        Bid("a", at(1), price=800),
        Bid("a", at(2), price=900),
        Bid("b", at(3), price=805),
        Bid("b", at(4), maximum=805),
    ]
    standing, outcomes = replay(RULES, bids)
    assert [o.refused for o in outcomes] == [
        Refused(Refusal.BELOW_RESERVE, 800),
        None,
        Refused(Refusal.ALREADY_LEADING),
        Refused(Refusal.BELOW_INCREMENT, 810),
        Refused(Refusal.BELOW_INCREMENT, 810),
    ]
    assert (standing.leader, standing.price) == ("a", 800)


def test_leader_may_raise_own_maximum_without_moving_the_price() -> None:
    bids = [Bid("a", at(0), maximum=1000), Bid("a", at(1), maximum=2000)]
    standing, outcomes = replay(RULES, bids)
    assert outcomes[1].refused is None
    assert (standing.leader, standing.price, standing.ceiling) == ("a", 800, 2000)
    lower = apply_bid(RULES, standing, Bid("a", at(2), maximum=1500))
    assert lower.refused == Refused(Refusal.ALREADY_LEADING)


def test_replay_extends_and_closes() -> None:
    bids = [
        Bid("a", at(0), price=800),
        Bid("b", at(550), price=900),  # 50 s before the close: moves it to 730
        Bid("a", at(650), price=910),  # after the first close, before the extended one
        Bid("b", at(910), price=1000),  # 910 >= 650 + 180 = 830: closed
    ]
    standing, outcomes = replay(RULES, bids, close=at(600))
    assert [o.standing.close for o in outcomes] == [at(600), at(730), at(830), at(830)]
    assert outcomes[3].refused == Refused(Refusal.CLOSED)
    assert (standing.leader, standing.price) == ("a", 910)


def test_raising_ones_own_maximum_does_not_extend() -> None:
    """A leader who raises a maximum nobody sees in the last minutes keeps the close: else
    they could keep a lot open for ever."""
    bids = [Bid("a", at(0), maximum=1000), Bid("a", at(590), maximum=2000)]
    standing, outcomes = replay(RULES, bids, close=at(600))
    assert outcomes[1].refused is None and standing.ceiling == 2000
    assert standing.close == at(600)


def test_refused_bid_does_not_extend() -> None:
    standing, outcomes = replay(RULES, [Bid("a", at(590), price=700)], close=at(600))
    assert outcomes[0].refused == Refused(Refusal.BELOW_RESERVE, 800)
    assert standing.close == at(600)


merchants = st.sampled_from(["a", "b", "c", "d", "e"])
amounts = st.integers(700, 3000)


@st.composite
def bid_lists(draw: st.DrawFn, proxy_only: bool = False) -> list[Bid]:
    bids = []
    for i in range(draw(st.integers(0, 25))):
        merchant = draw(merchants)
        if proxy_only:
            bids.append(Bid(merchant, at(i), maximum=draw(amounts)))
            continue
        price = draw(st.one_of(st.none(), amounts))
        maximum = draw(st.one_of(st.none(), amounts))
        if price is None and maximum is None:
            price = draw(amounts)
        if price is not None and maximum is not None and maximum < price:
            price, maximum = maximum, price
        bids.append(Bid(merchant, at(i), price=price, maximum=maximum))
    return bids


@given(bid_lists())
def test_replay_invariants(bids: list[Bid]) -> None:
    _, outcomes = replay(RULES, bids)
    previous = Standing()
    for outcome in outcomes:
        s = outcome.standing
        if s.leader is not None:
            assert s.price is not None and s.ceiling is not None
            assert RULES.reserve <= s.price <= s.ceiling
        if previous.price is not None:
            assert s.price is not None and s.price >= previous.price
        if outcome.refused is not None:
            assert s == previous
        previous = s


@given(bid_lists())
def test_typed_bids_follow_check_bid(bids: list[Bid]) -> None:
    """One rule: a typed price without a maximum is refused in replay exactly when check_bid
    refuses it."""
    standing = Standing()
    for bid in bids:
        outcome = apply_bid(RULES, standing, bid)
        if bid.maximum is None:
            assert bid.price is not None
            leads = standing.leader == bid.merchant
            checked = check_bid(RULES, bid.price, standing.price, leads)
            assert outcome.refused == (checked if isinstance(checked, Refused) else None)
        standing = outcome.standing


@given(bid_lists(), st.integers(0, 30))
def test_replay_close_only_moves_later(bids: list[Bid], close_s: int) -> None:
    previous = at(close_s)
    before = Standing(close=previous)
    _, outcomes = replay(RULES, bids, close=previous)
    for bid, outcome in zip(bids, outcomes, strict=True):
        close = outcome.standing.close
        assert close is not None and close >= previous
        moved = (outcome.standing.leader, outcome.standing.price) != (before.leader, before.price)
        if bid.at >= previous:
            assert outcome.refused == Refused(Refusal.CLOSED)
        elif outcome.refused is None and moved:
            assert close - bid.at >= RULES.extension
        elif outcome.refused is None:  # a leader's hidden maximum raised: the close stays
            assert close == previous
        previous, before = close, outcome.standing


@given(bid_lists(proxy_only=True))
def test_proxy_price_is_second_highest_plus_increment(bids: list[Bid]) -> None:
    standing, outcomes = replay(RULES, bids)
    accepted = [b for b, o in zip(bids, outcomes, strict=True) if o.refused is None]
    if not accepted:
        assert standing.leader is None
        return
    best: dict[object, int] = {}
    for bid in accepted:
        best[bid.merchant] = max(best.get(bid.merchant, 0), bid.ceiling)
    top = max(b.ceiling for b in accepted)
    first = next(b.merchant for b in accepted if b.ceiling == top)
    others = [m for k, m in best.items() if k != first]
    expected = RULES.reserve if not others else min(top, max(others) + RULES.increment)
    assert (standing.leader, standing.price) == (first, max(RULES.reserve, expected))


@given(bid_lists(), st.data())
def test_lower_maximum_never_changes_the_leader(bids: list[Bid], data: st.DataObject) -> None:
    standing, _ = replay(RULES, bids)
    assume(standing.leader is not None and standing.ceiling is not None)
    assert standing.ceiling is not None
    merchant = data.draw(merchants.filter(lambda m: m != standing.leader))
    lower = data.draw(st.integers(1, standing.ceiling))
    after, _ = replay(RULES, [*bids, Bid(merchant, at(100), maximum=lower)])
    assert after.leader == standing.leader
    assert after.price is not None and after.ceiling is not None
    assert after.price <= after.ceiling


@given(amounts, st.permutations(["a", "b", "c"]))
def test_order_of_equal_maxima_decides(maximum: int, order: list[str]) -> None:
    assume(maximum >= RULES.reserve + RULES.increment)  # else the second is refused outright
    standing, _ = replay(RULES, [Bid(m, at(i), maximum=maximum) for i, m in enumerate(order)])
    assert (standing.leader, standing.price) == (order[0], maximum)


def test_bid_needs_price_or_maximum() -> None:
    with pytest.raises(ValueError):
        Bid("a", T0)
    with pytest.raises(ValueError):
        Bid("a", T0, price=900, maximum=800)


# --- Typed prices --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "9.6",
        "９．６",
        "9.60",
        "9.6元",
        "９．６元",
        "¥9.6",
        "￥9.6",
        "CN¥9.60",
        "9.60 元/公斤",
        "9.60元／公斤",
        "9.6元每公斤",
        "9.6 yuan",
        "9.6 Yuan per kg",
        "9.6/kg",
        "RMB 9.6",
        "9.6块",
        "  9.6  ",
    ],
)
def test_parse_price_accepts_what_merchants_type(text: str) -> None:
    assert parse_price(text) == 960


@pytest.mark.parametrize(
    ("text", "fen"),
    [("12", 1200), ("1,000", 100_000), (".5", 50), ("0.01", 1), ("1000", MAX_FEN_PER_KG)],
)
def test_parse_price_numbers(text: str, fen: int) -> None:
    assert parse_price(text) == fen


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", PriceProblem.EMPTY),
        ("   ", PriceProblem.EMPTY),
        ("cheap", PriceProblem.UNREADABLE),
        ("¥", PriceProblem.UNREADABLE),
        ("--9.6", PriceProblem.UNREADABLE),
        ("9.6 dollars", PriceProblem.UNKNOWN_UNIT),
        ("9.6 kg", PriceProblem.UNKNOWN_UNIT),  # a quantity, not a price
        ("9.6元/斤", PriceProblem.NOT_PER_KG),
        ("9600元/吨", PriceProblem.NOT_PER_KG),
        ("9,6", PriceProblem.AMBIGUOUS_SEPARATOR),
        ("0", PriceProblem.ZERO),
        ("¥0.00", PriceProblem.ZERO),
        ("-9.6", PriceProblem.NEGATIVE),
        ("¥-9.6", PriceProblem.NEGATIVE),
        ("−9.6元", PriceProblem.NEGATIVE),
        ("1000.01", PriceProblem.TOO_LARGE),
        ("9.605", PriceProblem.TOO_PRECISE),
        ("1,00", PriceProblem.AMBIGUOUS_SEPARATOR),
        ("1,0000", PriceProblem.UNREADABLE),
    ],
)
def test_parse_price_refuses(text: str, problem: PriceProblem) -> None:
    with pytest.raises(PriceRejected) as caught:
        parse_price(text)
    assert caught.value.problem == problem


def test_parse_price_details_for_the_question() -> None:
    with pytest.raises(PriceRejected) as caught:
        parse_price("9,6元")
    assert caught.value.readings == (960, 9600)
    with pytest.raises(PriceRejected) as caught:
        parse_price("9.6元/斤")
    assert caught.value.unit == "jin"


def test_parse_price_maximum_is_configurable() -> None:
    assert parse_price("50", maximum=5000) == 5000
    with pytest.raises(PriceRejected):
        parse_price("50.01", maximum=5000)


@given(st.text())
def test_parse_price_never_crashes(text: str) -> None:
    try:
        fen = parse_price(text)
    except PriceRejected:
        return
    assert 0 < fen <= MAX_FEN_PER_KG


@settings(deadline=None)  # Babel loads its locale data on the first example, slow under load
@given(st.integers(1, MAX_FEN_PER_KG))
def test_formatted_prices_round_trip(fen: int) -> None:
    plain = format_price(fen)
    assert parse_price(plain) == fen
    assert parse_price(f"¥{plain}") == fen
    assert parse_price(f"{plain} 元/公斤") == fen
    assert parse_price(plain.translate(FULL_WIDTH)) == fen
    for locale in ("zh_CN", "en"):
        assert parse_price(format_currency(Decimal(fen) / 100, "CNY", locale=locale)) == fen
