"""The quick programme (bench/programme.py --quick) played through the bot and the emulator,
on SQLite and on PostgreSQL: 40 farmers of Conggang and Nankang register and report in mixed
units, six merchants are approved and bid (by proxy too) until every lot is sold, the lots are
collected and weighed, the payouts scheduled, the bot restarted and the payouts paid; then the
invoices must equal the farmers' gross shares to the fen and every farmer must have exactly
one notice of each step. It takes tens of seconds per database (`-m "not programme"` leaves
it out)."""

from __future__ import annotations

import pytest

from bench.programme import play, quick_plan


@pytest.mark.programme
@pytest.mark.timeout(300)
async def test_the_quick_programme_is_played_through_the_bot_and_reconciles(
    database_url: str,
) -> None:
    plan = quick_plan()
    figures = await play(plan, database_url)

    assert figures["farmers"] == len(plan.farmers) == 40
    assert figures["merchants"] == 6
    assert figures["lots_sold"] == figures["lots"] >= 3
    # Every kilogram reported was sold, each quantity read as typed (kg, 公斤, 斤, 吨).
    assert figures["kg_sold"] == figures["kg_reported"] == plan.reported_grams / 1000
    assert figures["notices_once"] == {
        "sold": True,
        "collection": True,
        "payout_scheduled": True,
        "paid": True,
    }
    assert figures["invoices_fen"] == figures["payouts_gross_fen"] > 0
    assert figures["payouts_paid"] == 40
    assert figures["kg_weighed"] != figures["kg_sold"]  # the scale is not the report
    assert figures["reconciled"] is True
