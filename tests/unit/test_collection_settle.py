"""The settlement a collection writes, from PAYOUT_FEES as configured (percent by name),
reconciles to the fen for any weights, price and fees; bad fee settings are refused at start."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from bot.auction import lot_value_fen
from bot.config import Settings
from bot.services.collections import Contribution, settle

percents = st.lists(
    st.decimals(min_value=0, max_value=Decimal("33"), places=2), min_size=0, max_size=3
)


def delivered(grams: list[int]) -> list[Contribution]:
    return [
        Contribution(i, i, "F", 1, "Conggang", g, g, True) for i, g in enumerate(grams, start=1)
    ]


@given(
    price=st.integers(min_value=1, max_value=100_000),
    grams=st.lists(st.integers(min_value=500, max_value=100_000_000), max_size=40),
    fees=percents,
)
def test_any_collection_reconciles(price: int, grams: list[int], fees: list[Decimal]) -> None:
    config = {f"fee{i}": percent for i, percent in enumerate(fees)}
    settlement = settle(price, delivered(grams), config)
    assert settlement.invoice == lot_value_fen(price, sum(grams))
    assert sum(s.gross for s in settlement.shares) == settlement.invoice
    for share in settlement.shares:
        assert share.net + sum(share.fees) == share.gross
        assert share.net >= 0 and min(share.fees, default=0) >= 0
    # Each fee is its percent of the invoice, within a fen per farmer.
    for percent, total in zip(fees, settlement.fee_totals, strict=True):
        assert abs(total - settlement.invoice * percent / 100) <= len(grams)


def test_fee_settings() -> None:
    default = Settings(_env_file=None)
    assert default.payout_fees == {"cooperative": Decimal("2"), "platform": Decimal("1")}
    assert default.payout_days == 7
    assert Settings(_env_file=None, payout_fees={"transport": "0.5"}).payout_fees == {
        "transport": Decimal("0.5")
    }
    for bad in ({"Bad Name": "1"}, {"cooperative": "-1"}, {"a": "60", "b": "40"}, {"a": "0.00001"}):
        with pytest.raises(ValidationError):
            Settings(_env_file=None, payout_fees=bad)
    with pytest.raises(ValidationError):
        Settings(_env_file=None, payout_days=-1)


def test_fees_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYOUT_FEES", '{"cooperative": "2.5", "platform": "1"}')
    monkeypatch.setenv("PAYOUT_DAYS", "10")
    settings = Settings(_env_file=None)
    assert list(settings.payout_fees.items()) == [
        ("cooperative", Decimal("2.5")),
        ("platform", Decimal("1")),
    ]
    assert settings.payout_days == 10
