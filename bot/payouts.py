"""How a sold lot's money is split among its farmers: pure integer arithmetic, no database.

The merchant's invoice is the lot's value (one rounding, `bot.auction.lot_value_fen`, on the
total weighed grams). Each farmer's gross share is the invoice split in proportion to their
weighed grams, and each gross is split into the farmer's net and the fees, both with the
largest-remainder method: every share is its exact proportion rounded down, and the fen left
over go one each to the largest remainders (the earlier one first on a tie). So the gross
shares add up to the invoice and net + fees to each gross, exactly to the fen, for any lot;
no share is a fen or more away from its exact value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from bot.auction import lot_value_fen


def split(total: int, weights: Sequence[int]) -> list[int]:
    """`total` fen in proportion to `weights` (grams), adding up to `total` exactly."""
    if total < 0 or any(w < 0 for w in weights):
        raise ValueError("a split needs a non-negative total and weights")
    whole = sum(weights)
    if whole == 0:
        if total:
            raise ValueError("nothing to split the total by")
        return [0] * len(weights)
    shares = [total * w // whole for w in weights]
    remainders = [total * w % whole for w in weights]
    left = total - sum(shares)
    # One fen each to the largest remainders; the earlier index wins a tie (deterministic).
    for index in sorted(range(len(weights)), key=lambda i: (-remainders[i], i))[:left]:
        shares[index] += 1
    return shares


def _integer_weights(rates: Sequence[Decimal]) -> list[int]:
    """Fee rates (fractions) as integer weights, with the farmer's part first."""
    if any(rate < 0 for rate in rates) or sum(rates, Decimal(0)) > 1:
        raise ValueError("fee rates are fractions that add up to at most 1")
    places = max((-int(rate.as_tuple().exponent) for rate in rates), default=0)
    scale = 10 ** max(places, 0)
    fees = [int(rate * scale) for rate in rates]
    return [scale - sum(fees), *fees]


@dataclass(frozen=True)
class Share:
    """One farmer's part of a sold lot, itemised."""

    grams: int
    gross: int
    fees: tuple[int, ...]  # in the order of the rates given
    net: int


@dataclass(frozen=True)
class Settlement:
    invoice: int  # what the merchant pays: the gross shares add up to it
    fee_totals: tuple[int, ...]  # each fee's shares add up to it
    shares: tuple[Share, ...]  # in the order of the weights given


def settle_lot(
    price_fen_per_kg: int, weighed_grams: Sequence[int], fee_rates: Sequence[Decimal] = ()
) -> Settlement:
    """The invoice, each fee's total and every farmer's itemised share of a sold lot.

    A farmer's gross is split again, by the same method, into what they are paid and each fee
    (0.02 for a 2 % fee), so no part is negative and the parts add up to the gross exactly;
    a tie gives the fen to the farmer."""
    invoice = lot_value_fen(price_fen_per_kg, sum(weighed_grams))
    parts_weights = _integer_weights(fee_rates)
    shares = []
    for grams, gross in zip(weighed_grams, split(invoice, weighed_grams), strict=True):
        net, *fees = split(gross, parts_weights)
        shares.append(Share(grams, gross, tuple(fees), net))
    fee_totals = tuple(sum(share.fees[k] for share in shares) for k in range(len(fee_rates)))
    return Settlement(invoice, fee_totals, tuple(shares))
