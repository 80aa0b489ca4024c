"""The price feed's formats and conversion (bot/price_feed.py): hand-computed values, the
bounds, and property tests (any bytes or text is read or refused, never a crash; generated
valid feeds in JSON and in CSV read back as they were written)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.models import Grade, Product
from bot.price_feed import (
    ABSURD,
    MALFORMED,
    Conversion,
    FeedRejected,
    IceQuote,
    LocalPrices,
    convert,
    green_cny_per_kg,
    parse,
    to_fen,
)
from bot.services.prices import Key

DEFAULTS = Conversion(
    differentials={Grade.AA: Decimal("4.00"), Grade.C: Decimal("-3.00"), None: Decimal("0.00")},
    parchment_ratio=Decimal("0.80"),
    cherry_ratio=Decimal("0.17"),
)
ICE_JSON = '{"ice_c_usc_per_lb": "185.35", "usd_cny": "7.12", "as_of": "2026-11-29T08:00:00Z"}'


def test_the_ice_price_is_converted_to_cny_per_kg_per_grade_by_hand() -> None:
    # 185.35 US cents per lb = 1.8535 USD per lb; per kg: 1.8535 / 0.45359237 = 4.086268...
    # USD; at 7.12 CNY per USD: 29.094228... CNY per kg of (ungraded) green bean.
    assert green_cny_per_kg(Decimal("185.35"), Decimal("7.12")).quantize(
        Decimal("0.000001")
    ) == Decimal("29.094228")
    prices = convert(parse(ICE_JSON), DEFAULTS)
    fen = {key.code: c.fen_per_kg for key, c in prices.items()}
    assert fen == {
        "green/-": 2909,  # 29.094228 -> ¥29.09
        "green/AA": 3309,  # 29.094228 + 4.00 = 33.094228 -> ¥33.09
        "green/C": 2609,  # 29.094228 - 3.00 = 26.094228 -> ¥26.09
        "parchment/-": 2328,  # 29.094228 x 0.80 = 23.275383 -> ¥23.28
        "parchment/AA": 2648,  # 33.094228 x 0.80 = 26.475383 -> ¥26.48
        "parchment/C": 2088,  # 26.094228 x 0.80 = 20.875383 -> ¥20.88
        "cherry/-": 495,  # 29.094228 x 0.17 = 4.946019 -> ¥4.95 (cherry is ungraded only)
    }
    said = prices[Key(Product.PARCHMENT, Grade.AA)].details
    assert said == {
        "ice_c_usc_per_lb": "185.35",
        "usd_cny": "7.12",
        "as_of": "2026-11-29T08:00:00+00:00",
        "differential": "4.00",
        "ratio": "0.80",
    }


def test_rounding_is_half_up_to_the_fen() -> None:
    assert to_fen(Decimal("12.345")) == 1235
    assert to_fen(Decimal("12.3449")) == 1234
    assert to_fen(Decimal("0.005")) == 1
    # 100 c/lb at 7 CNY: 1 / 0.45359237 x 7 = 15.432358... -> ¥15.43
    fen = convert(IceQuote(Decimal(100), Decimal(7)), Conversion({None: Decimal(0)}))
    assert fen[Key(Product.GREEN)].fen_per_kg == 1543


def test_without_an_ungraded_differential_there_is_no_cherry_price() -> None:
    fen = convert(IceQuote(Decimal(200), Decimal(7)), Conversion({Grade.AA: Decimal(1)}))
    assert set(fen) == {Key(Product.GREEN, Grade.AA), Key(Product.PARCHMENT, Grade.AA)}


def test_local_prices_in_json_and_csv() -> None:
    body = json.dumps(
        {
            "prices": [
                {"product": "green", "grade": "AA", "cny_per_kg": "38.50"},
                {"product": "parchment", "grade": "ungraded", "cny_per_kg": 30},
                {"product": "cherry", "cny_per_kg": "6.125"},
            ]
        }
    )
    csv_body = "product,grade,cny_per_kg\r\ngreen,AA,38.50\nparchment,,30\n\ncherry,-,6.125\n"
    for feed in (parse(body), parse(csv_body.encode())):
        fen = {key.code: c.fen_per_kg for key, c in convert(feed, DEFAULTS).items()}
        assert fen == {"green/AA": 3850, "parchment/-": 3000, "cherry/-": 613}


def test_the_ice_price_in_csv() -> None:
    feed = parse("\ufeffusd_cny, ice_c_usc_per_lb ,as_of\n7.12,185.35,2026-11-29T08:00:00\n")
    assert feed == IceQuote(
        Decimal("185.35"), Decimal("7.12"), datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
    )


@pytest.mark.parametrize(
    ("body", "reason", "field"),
    [
        ('{"ice_c_usc_per_lb": "15000", "usd_cny": "7.12"}', ABSURD, "ice_c_usc_per_lb"),
        ('{"ice_c_usc_per_lb": "29.99", "usd_cny": "7.12"}', ABSURD, "ice_c_usc_per_lb"),
        ('{"ice_c_usc_per_lb": "185", "usd_cny": "71.2"}', ABSURD, "usd_cny"),
        ('{"ice_c_usc_per_lb": "185", "usd_cny": "0"}', ABSURD, "usd_cny"),
        ('{"prices": [{"product": "green", "cny_per_kg": "3850"}]}', ABSURD, "green/-"),
        ("product,grade,cny_per_kg\ncherry,,0.4\n", ABSURD, "cherry/-"),
        ('{"ice_c_usc_per_lb": 185.35}', MALFORMED, None),
        ('{"ice_c_usc_per_lb": "x", "usd_cny": "7"}', MALFORMED, None),
        ('{"ice_c_usc_per_lb": NaN, "usd_cny": "7"}', MALFORMED, None),
        ('{"ice_c_usc_per_lb": "Infinity", "usd_cny": "7"}', MALFORMED, None),
        ('{"ice_c_usc_per_lb": true, "usd_cny": "7"}', MALFORMED, None),
        ('{"ice_c_usc_per_lb": "185", "usd_cny": "7", "prices": []}', MALFORMED, None),
        ('{"prices": []}', MALFORMED, None),
        ('{"prices": [{"product": "tea", "cny_per_kg": "5"}]}', MALFORMED, None),
        ('{"prices": [{"product": "cherry", "grade": "AA", "cny_per_kg": "5"}]}', MALFORMED, None),
        ('{"prices": [{"product": "green", "grade": "Z", "cny_per_kg": "5"}]}', MALFORMED, None),
        (
            '{"prices": [{"product": "green", "cny_per_kg": "5"},'
            ' {"product": "green", "grade": "-", "cny_per_kg": "6"}]}',
            MALFORMED,
            None,
        ),
        ('{"ice_c_usc_per_lb": "185", "usd_cny": "7", "as_of": "yesterday"}', MALFORMED, None),
        ("[1, 2]", MALFORMED, None),
        ("{", MALFORMED, None),
        ("<html>Service unavailable</html>", MALFORMED, None),
        ("ice_c_usc_per_lb,usd_cny\n185,7\n186,7\n", MALFORMED, None),
        ("product,cny_per_kg\ngreen,5,6\n", MALFORMED, None),
        ("product,grade,cny_per_kg,usd_cny\ngreen,AA,5,7\n", MALFORMED, None),
        ("   ", MALFORMED, None),
    ],
)
def test_malformed_and_absurd_feeds_are_refused_with_a_reason(
    body: str, reason: str, field: str | None
) -> None:
    with pytest.raises(FeedRejected) as refused:
        convert(parse(body), DEFAULTS)
    assert refused.value.reason == reason
    if field is not None:
        assert refused.value.facts["field"] == field


def test_a_differential_that_makes_a_converted_price_absurd_refuses_the_feed() -> None:
    # 30 c/lb at 3 CNY: 0.30 / 0.45359237 x 3 = 1.98 CNY per kg; less 3.00 is below zero.
    with pytest.raises(FeedRejected) as refused:
        convert(IceQuote(Decimal(30), Decimal(3)), Conversion({Grade.C: Decimal("-3.00")}))
    assert refused.value.reason == ABSURD and refused.value.facts["field"] == "green/C"


def test_bytes_that_are_not_utf8_are_malformed() -> None:
    with pytest.raises(FeedRejected, match="UTF-8"):
        parse(b"\xff\xfe{")


# --- Properties ---------------------------------------------------------------------------------


@given(st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode)))
def test_any_bytes_are_read_or_refused_never_a_crash(body: bytes) -> None:
    try:
        feed = parse(body)
    except FeedRejected as exc:
        assert exc.reason in (MALFORMED, ABSURD)
        return
    try:
        convert(feed, DEFAULTS)
    except FeedRejected as exc:
        assert exc.reason == ABSURD


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8) | st.floats(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)
KEYS = st.sampled_from(
    ["ice_c_usc_per_lb", "usd_cny", "as_of", "prices", "product", "grade", "cny_per_kg"]
)


@given(st.dictionaries(KEYS, JSONISH | st.lists(st.dictionaries(KEYS, JSONISH), max_size=3)))
def test_any_json_object_with_the_feed_names_is_read_or_refused(data: dict[str, object]) -> None:
    try:
        convert(parse(json.dumps(data)), DEFAULTS)
    except FeedRejected:
        pass


def decimals(low: str, high: str) -> st.SearchStrategy[Decimal]:
    return st.decimals(min_value=Decimal(low), max_value=Decimal(high), places=2)


AS_OF = st.none() | st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
QUOTES = st.builds(IceQuote, decimals("30", "1500"), decimals("3", "15"), AS_OF)
ALL_KEYS = [Key(Product.CHERRY)] + [
    Key(product, grade)
    for product in (Product.PARCHMENT, Product.GREEN)
    for grade in (None, *Grade)
]
LOCAL = st.builds(
    lambda keys, values, as_of: LocalPrices(tuple(zip(keys, values, strict=False)), as_of),
    st.lists(st.sampled_from(ALL_KEYS), min_size=1, max_size=13, unique=True),
    st.lists(decimals("0.5", "1000"), min_size=13, max_size=13),
    AS_OF,
)


def as_json(feed: IceQuote | LocalPrices) -> str:
    stamp = {"as_of": feed.as_of.isoformat()} if feed.as_of else {}
    if isinstance(feed, IceQuote):
        return json.dumps(
            {"ice_c_usc_per_lb": str(feed.usc_per_lb), "usd_cny": str(feed.usd_cny)} | stamp
        )
    rows = [
        {
            "product": k.product.value,
            "grade": k.grade.value if k.grade else None,
            "cny_per_kg": str(v),
        }
        for k, v in feed.prices
    ]
    return json.dumps({"prices": rows} | stamp)


def as_csv(feed: IceQuote | LocalPrices) -> str:
    if isinstance(feed, IceQuote):
        stamp = feed.as_of.isoformat() if feed.as_of else ""
        return f"ice_c_usc_per_lb,usd_cny,as_of\n{feed.usc_per_lb},{feed.usd_cny},{stamp}\n"
    lines = ["product,grade,cny_per_kg"] + [
        f"{k.product.value},{k.grade.value if k.grade else 'ungraded'},{v}" for k, v in feed.prices
    ]
    return "\n".join(lines) + "\n"


@given(QUOTES | LOCAL)
def test_valid_feeds_read_back_as_written_in_json(feed: IceQuote | LocalPrices) -> None:
    assert parse(as_json(feed)) == feed


@given(QUOTES | LOCAL.map(lambda f: LocalPrices(f.prices)))
def test_valid_feeds_read_back_as_written_in_csv(feed: IceQuote | LocalPrices) -> None:
    assert parse(as_csv(feed).encode()) == feed


@given(QUOTES)
def test_converted_prices_are_whole_fen_near_the_exact_value(quote: IceQuote) -> None:
    conversion = Conversion({None: Decimal(0)}, Decimal(1), Decimal(1))
    fen = convert(quote, conversion)[Key(Product.GREEN)].fen_per_kg
    exact = quote.usc_per_lb / 100 / Decimal("0.45359237") * quote.usd_cny * 100
    assert abs(Decimal(fen) - exact) <= Decimal("0.5")
