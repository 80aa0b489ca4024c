"""Splitting a sold lot's money among its farmers reconciles exactly, to the fen."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.auction import lot_value_fen
from bot.payouts import settle_lot, split

grams = st.lists(st.integers(min_value=0, max_value=5_000_000), min_size=1, max_size=60)
prices = st.integers(min_value=1, max_value=100_000)  # fen per kg, up to 1,000 CNY/kg
rate = st.decimals(min_value=0, max_value=Decimal("0.3"), places=3)


def test_an_example_lot_itemised() -> None:
    """5 t at 9.60 CNY/kg, three farmers, 2 % cooperative and 1 % platform fee."""
    settlement = settle_lot(
        960, [2_000_000, 1_999_999, 1_000_001], [Decimal("0.02"), Decimal("0.01")]
    )
    assert settlement.invoice == 4_800_000
    assert [s.gross for s in settlement.shares] == [1_920_000, 1_919_999, 960_001]
    first = settlement.shares[0]
    assert (first.fees, first.net) == ((38_400, 19_200), 1_862_400)
    assert settlement.fee_totals == (96_000, 48_000)


def test_leftover_fen_go_to_the_largest_remainders_earliest_first() -> None:
    assert split(10, [1, 1, 1]) == [4, 3, 3]
    assert split(2, [1, 1, 1]) == [1, 1, 0]
    assert split(100, [0, 3, 1]) == [0, 75, 25]
    assert split(0, [0, 0]) == [0, 0]


def test_impossible_splits_are_refused() -> None:
    with pytest.raises(ValueError):
        split(5, [0, 0])
    with pytest.raises(ValueError):
        split(-1, [1])
    with pytest.raises(ValueError):
        settle_lot(960, [1000], [Decimal("0.6"), Decimal("0.5")])


@given(total=st.integers(min_value=0, max_value=10**12), weights=grams)
def test_a_split_adds_up_and_stays_within_a_fen(total: int, weights: list[int]) -> None:
    if sum(weights) == 0:
        total = 0
    shares = split(total, weights)
    assert sum(shares) == total
    for share, weight in zip(shares, weights, strict=True):
        exact = Fraction(total * weight, sum(weights)) if sum(weights) else Fraction(0)
        assert 0 <= share - exact < 1 or 0 <= exact - share < 1
        assert share >= 0


@given(price=prices, weighed=grams, rates=st.lists(rate, max_size=3))
def test_every_lot_reconciles_to_the_fen(
    price: int, weighed: list[int], rates: list[Decimal]
) -> None:
    settlement = settle_lot(price, weighed, rates)
    assert settlement.invoice == lot_value_fen(price, sum(weighed))
    assert sum(s.gross for s in settlement.shares) == settlement.invoice
    for share in settlement.shares:
        assert share.net + sum(share.fees) == share.gross
        assert share.net >= 0 and all(fee >= 0 for fee in share.fees)
    for k, total in enumerate(settlement.fee_totals):
        assert sum(s.fees[k] for s in settlement.shares) == total
    assert sum(s.net for s in settlement.shares) + sum(settlement.fee_totals) == (
        settlement.invoice
    )


@given(price=prices, weighed=grams)
def test_more_coffee_never_earns_less(price: int, weighed: list[int]) -> None:
    """Within one lot, a farmer who delivered more grams never gets a smaller gross share."""
    shares = settle_lot(price, weighed).shares
    for a in shares:
        for b in shares:
            if a.grams < b.grams:
                assert a.gross <= b.gross
