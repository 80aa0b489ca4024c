"""Payouts after they are scheduled, over a real database (SQLite and PostgreSQL): marking
paid (once, even at once from two coordinators), all due at once, the pay-date reminders (once,
across a restart and with two schedulers), a farmer's history and totals, disputes resolved
both ways, and who may do what. Payout rows are made directly (`make_payout`): collection,
which writes them, is not built here. The notices' texts are checked in both languages."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.auction import PriceProblem, PriceRejected
from bot.config import REPO_ROOT
from bot.db import make_engine, make_sessionmaker
from bot.i18n import make_i18n
from bot.models import (
    AuditAction,
    AuditEntry,
    CoordinatorVia,
    DisputeStatus,
    Grade,
    HarvestReport,
    Lot,
    LotReport,
    LotStatus,
    Notice,
    Payout,
    PayoutStatus,
    Process,
    Product,
    ReportStatus,
    User,
    Village,
    utcnow,
)
from bot.notice_texts import render
from bot.payouts import settle_lot
from bot.scheduler import PayoutReminders, Scheduler
from bot.services import harvests, payouts, users
from bot.services.access import OPERATOR
from bot.services.coordination import make_coordinator
from bot.services.errors import DomainError
from bot.services.harvests import HarvestDraft
from handlers import payout_notices  # noqa: F401 (registers the notice texts)
from tests.conditions import LockRequests, eventually

TZ = ZoneInfo("Asia/Shanghai")
AT = time(9, 0)
PAY_DAY = date(2026, 12, 10)
# 09:30 in Shanghai on the pay date: its reminder is due.
MORNING = datetime(2026, 12, 10, 1, 30, tzinfo=UTC)
FEE = Decimal("0.02")


# --- Fixture helpers ---------------------------------------------------------------------------


async def make_farmer(
    session: AsyncSession, village: Village, tid: int, name: str = "", language: str = "zh"
) -> User:
    user = await users.ensure_user(session, tid)
    await users.register_farmer(
        session, user, name=name or f"Farmer {tid}", phone="13800000000", village_id=village.id
    )
    user.language = language
    await session.flush()
    return user


async def make_coordinator_user(session: AsyncSession, tid: int) -> User:
    user = await users.ensure_user(session, tid)
    await make_coordinator(session, user, OPERATOR, CoordinatorVia.CHAT)
    return user


async def make_payout(
    session: AsyncSession,
    farmer: User,
    *,
    grams: int = 300_000,
    price_fen: int = 2200,
    due_on: date = PAY_DAY,
    created_by: User | None = None,
    status: PayoutStatus = PayoutStatus.SCHEDULED,
) -> Payout:
    """A collected lot of one report of this farmer, and its scheduled payout (a 2 %
    cooperative fee), as collection would leave them."""
    draft = HarvestDraft(
        product="parchment", process="washed", variety="catimor", quantity_g=grams, grade="AA"
    )
    report = await harvests.submit_report(session, farmer, draft)
    report.status = ReportStatus.COLLECTED
    assert farmer.village_id is not None
    now = utcnow()
    lot = Lot(
        village_id=farmer.village_id,
        product=Product.PARCHMENT,
        process=Process.WASHED,
        grade=Grade.AA,
        grams=grams,
        farmers=1,
        reserve_fen=2000,
        increment_fen=10,
        extension_s=0,
        status=LotStatus.SOLD,
        opens_at=now,
        closes_at=now,
        leading_fen=price_fen,
        created_by=(created_by or farmer).id,
    )
    session.add(lot)
    await session.flush()
    session.add(
        LotReport(
            lot_id=lot.id,
            report_id=report.id,
            farmer_id=farmer.id,
            grams=grams,
            weighed_grams=grams,
            delivered=True,
        )
    )
    settled = settle_lot(price_fen, [grams], [FEE])
    (share,) = settled.shares
    payout = Payout(
        lot_id=lot.id,
        report_id=report.id,
        farmer_id=farmer.id,
        grams=grams,
        price_fen=price_fen,
        gross_fen=share.gross,
        fees={"cooperative": share.fees[0]},
        net_fen=share.net,
        due_on=due_on,
        status=status,
    )
    session.add(payout)
    await session.flush()
    return payout


async def notices(session: AsyncSession, kind: str) -> list[Notice]:
    return list(
        await session.scalars(
            select(Notice)
            .where(Notice.kind == kind)
            .order_by(Notice.id)
            .execution_options(populate_existing=True)
        )
    )


async def audits(session: AsyncSession, action: AuditAction) -> int:
    return int(
        await session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action)
        )
        or 0
    )


@pytest.fixture
async def people(session: AsyncSession, villages: list[Village]) -> dict[str, User]:
    found = {
        "li": await make_farmer(session, villages[0], 1, "李伟"),
        "wang": await make_farmer(session, villages[0], 2, "Wang", language="en"),
        "coord": await make_coordinator_user(session, 900),
        "coord2": await make_coordinator_user(session, 901),
    }
    await session.commit()
    return found


# --- Paying --------------------------------------------------------------------------------------


async def test_a_payout_is_itemised_by_the_existing_arithmetic(
    session: AsyncSession, people: dict[str, User]
) -> None:
    payout = await make_payout(session, people["li"])
    # 300 kg at ¥22.00: ¥6,600.00; 2 % is ¥132.00.
    assert payout.gross_fen == 660_000
    assert payout.fees == {"cooperative": 13_200}
    assert payouts.amount_fen(payout) == 646_800


async def test_marking_paid_twice_at_once_pays_once(
    session: AsyncSession, people: dict[str, User], database_url: str
) -> None:
    payout = await make_payout(session, people["li"])
    await session.commit()
    engine = make_engine(database_url, pool_size=5)
    maker = make_sessionmaker(engine)
    requests = LockRequests(
        engine,
        expected=2,
        on_postgres=lambda s, _p: (
            s.startswith("SELECT") and "FROM payouts" in s and "FOR UPDATE" in s
        ),
    )

    async def pay(coordinator: User, reference: str) -> str:
        try:
            async with maker() as s, s.begin():
                actor = await s.get(User, coordinator.id)
                assert actor is not None
                await payouts.mark_paid(s, actor, payout.id, reference)
                await requests.all_asked()
                return "paid"
        except DomainError as exc:
            return exc.reason

    try:
        results = await asyncio.gather(pay(people["coord"], "TX-1"), pay(people["coord2"], "TX-2"))
    finally:
        await engine.dispose()
    assert sorted(results) == ["paid", "payout_paid_already"]
    stored = await session.get(Payout, payout.id, populate_existing=True)
    assert stored is not None and stored.status == PayoutStatus.PAID
    assert stored.reference in {"TX-1", "TX-2"} and stored.paid_at is not None
    (notice,) = await notices(session, "payout_paid")
    assert notice.dedup_key == f"payout-paid:{payout.id}"
    assert notice.recipient_id == people["li"].id
    assert notice.payload["reference"] == stored.reference
    assert await audits(session, AuditAction.PAYOUT_PAID) == 1
    report = await session.get(HarvestReport, payout.report_id, populate_existing=True)
    assert report is not None and report.status == ReportStatus.PAID  # My reports: finished


async def test_only_coordinators_pay_and_see_what_is_due(
    session: AsyncSession, people: dict[str, User]
) -> None:
    payout = await make_payout(session, people["li"])
    farmer = people["li"]
    for attempt in (
        payouts.mark_paid(session, farmer, payout.id, "TX"),
        payouts.mark_all_due_paid(session, farmer, PAY_DAY, "TX"),
        payouts.due(session, farmer, PAY_DAY),
        payouts.open_disputes(session, farmer),
        payouts.resolve_with_explanation(session, farmer, 1, "no"),
        payouts.resolve_with_correction(session, farmer, 1, 100),
    ):
        with pytest.raises(DomainError) as refused:
            await attempt
        assert refused.value.reason == "not_allowed"
    assert payout.status == PayoutStatus.SCHEDULED
    for bad, reason in (("  ", "reference_empty"), ("x" * 101, "reference_too_long")):
        with pytest.raises(DomainError) as refused:
            await payouts.mark_paid(session, people["coord"], payout.id, bad)
        assert refused.value.reason == reason
    with pytest.raises(DomainError, match="payout_not_found"):
        await payouts.mark_paid(session, people["coord"], 9999, "TX")


async def test_all_due_are_paid_with_one_reference(
    session: AsyncSession, people: dict[str, User]
) -> None:
    li, wang, coord = people["li"], people["wang"], people["coord"]
    early = await make_payout(session, li, due_on=PAY_DAY - timedelta(days=3))
    today = await make_payout(session, wang, due_on=PAY_DAY)
    later = await make_payout(session, li, due_on=PAY_DAY + timedelta(days=1))
    done = await make_payout(session, wang, due_on=PAY_DAY - timedelta(days=1))
    await payouts.mark_paid(session, coord, done.id, "EARLIER")
    await session.commit()

    listed = await payouts.due(session, coord, PAY_DAY)
    assert [line.payout.id for line in listed] == [early.id, today.id]
    assert listed[0].farmer_name == "李伟"

    paid = await payouts.mark_all_due_paid(session, coord, PAY_DAY, "BULK-7")
    await session.commit()
    assert sorted(p.id for p in paid) == sorted([early.id, today.id])
    assert {p.reference for p in paid} == {"BULK-7"}
    assert later.status == PayoutStatus.SCHEDULED and done.reference == "EARLIER"
    keys = {n.dedup_key for n in await notices(session, "payout_paid")}
    assert keys == {f"payout-paid:{p}" for p in (early.id, today.id, done.id)}
    assert await audits(session, AuditAction.PAYOUT_PAID) == 3
    assert await payouts.mark_all_due_paid(session, coord, PAY_DAY, "AGAIN") == []


# --- Reminders -----------------------------------------------------------------------------------


async def test_reminders_go_once_per_coordinator_and_pay_date(
    session: AsyncSession, people: dict[str, User]
) -> None:
    li, wang = people["li"], people["wang"]
    first = await make_payout(session, li, due_on=PAY_DAY)
    second = await make_payout(session, wang, due_on=PAY_DAY)
    await make_payout(session, li, due_on=PAY_DAY + timedelta(days=1))
    await session.commit()

    before_time = datetime(2026, 12, 10, 0, 59, tzinfo=UTC)  # 08:59 local
    assert await payouts.send_reminders(session, before_time, TZ, AT) == 0
    assert await payouts.next_reminder_at(session, TZ, AT) == datetime(
        2026, 12, 10, 9, 0, tzinfo=TZ
    )
    assert await payouts.send_reminders(session, MORNING, TZ, AT) == 2
    await session.commit()
    assert await payouts.send_reminders(session, MORNING, TZ, AT) == 0
    sent = await notices(session, "payout_reminder")
    assert sorted(n.dedup_key for n in sent) == [
        f"payout-reminder:{people['coord'].id}:2026-12-10",
        f"payout-reminder:{people['coord2'].id}:2026-12-10",
    ]
    payload = sent[0].payload
    assert payload["count"] == 2
    assert [p["payout_id"] for p in payload["payouts"]] == [first.id, second.id]
    assert payload["total_fen"] == payouts.amount_fen(first) + payouts.amount_fen(second)
    assert await payouts.next_reminder_at(session, TZ, AT) == datetime(
        2026, 12, 11, 9, 0, tzinfo=TZ
    )
    # Days later (the bot was down): the next pay date's reminder goes at once.
    assert await payouts.send_reminders(session, MORNING + timedelta(days=3), TZ, AT) == 2
    await session.commit()
    assert await payouts.next_reminder_at(session, TZ, AT) is None


def _reminders_now() -> PayoutReminders:
    """Reminders due from a minute ago today, in the programme's zone."""
    local = utcnow().astimezone(TZ) - timedelta(minutes=1)
    return PayoutReminders(at=local.time().replace(second=0, microsecond=0), tz=TZ)


async def test_a_missed_reminder_goes_at_start_and_once_across_restarts_and_processes(
    session: AsyncSession, people: dict[str, User], database_url: str
) -> None:
    reminders = _reminders_now()
    today = utcnow().astimezone(TZ).date()
    if reminders.at > utcnow().astimezone(TZ).time():  # just after local midnight
        today -= timedelta(days=1)
    await make_payout(session, people["li"], due_on=today - timedelta(days=1))  # missed
    await make_payout(session, people["wang"], due_on=today)
    await session.commit()
    engines = [make_engine(database_url, pool_size=5) for _ in range(2)]
    schedulers = [Scheduler(make_sessionmaker(e), reminders=reminders) for e in engines]
    try:
        # Two processes at once: each pay date reminds each coordinator once.
        results = await asyncio.gather(*(s.run_reminders() for s in schedulers))
        assert sum(results) == 4
        # A restart: the job is set from the database, and finds nothing left to say.
        await schedulers[0].start()
        await schedulers[0].resync()
        assert schedulers[0].aps.get_job("payout-reminders") is None
        assert await schedulers[1].run_reminders() == 0
    finally:
        for s in schedulers:
            await s.stop()
        for e in engines:
            await e.dispose()
    keys = [n.dedup_key for n in await notices(session, "payout_reminder")]
    assert len(keys) == len(set(keys)) == 4


async def test_a_started_scheduler_sends_a_missed_reminder(
    session: AsyncSession, people: dict[str, User], database_url: str
) -> None:
    reminders = _reminders_now()
    await make_payout(session, people["li"], due_on=date(2026, 1, 5))  # long overdue
    await session.commit()
    engine = make_engine(database_url, pool_size=5)
    scheduler = Scheduler(make_sessionmaker(engine), reminders=reminders)
    try:
        await scheduler.start()

        async def reminded() -> bool:
            found = await notices(session, "payout_reminder")
            await session.commit()  # SQLite: the check must not hold the write lock
            return len(found) == 2

        await eventually(reminded, "the missed reminder was sent at start")
    finally:
        await scheduler.stop()
        await engine.dispose()


# --- A farmer's history --------------------------------------------------------------------------


async def test_history_shows_only_the_farmers_own_payouts_with_totals(
    session: AsyncSession, people: dict[str, User]
) -> None:
    li, coord = people["li"], people["coord"]
    last_season = await make_payout(session, li, due_on=date(2026, 5, 1))
    this_paid = await make_payout(session, li, due_on=date(2026, 10, 20))
    this_coming = await make_payout(session, li, due_on=date(2026, 12, 15))
    await make_payout(session, people["wang"], due_on=date(2026, 11, 1))
    await payouts.mark_paid(session, coord, last_season.id, "OLD")
    await payouts.mark_paid(session, coord, this_paid.id, "NEW")
    this_coming.correction_fen = 500
    await session.commit()

    found = await payouts.history(session, li, MORNING, TZ, (10, 1))
    assert [p.id for p in found.lines] == [this_coming.id, this_paid.id, last_season.id]
    assert found.season_from == date(2026, 10, 1)
    each = payouts.amount_fen(last_season)
    assert found.season == payouts.Totals(each, each + 500, 2)
    assert found.all_time == payouts.Totals(2 * each, each + 500, 3)
    assert found.more == 0
    # Before 1 October the season began the year before.
    early = await payouts.history(session, li, datetime(2026, 9, 1, tzinfo=UTC), TZ, (10, 1))
    assert early.season_from == date(2025, 10, 1)

    with pytest.raises(DomainError, match="not_farmer"):
        await payouts.history(session, coord, MORNING, TZ)
    with pytest.raises(DomainError, match="payout_not_found"):
        await payouts.farmer_payout(session, people["wang"], this_paid.id)


# --- Disputes ------------------------------------------------------------------------------------


async def test_a_dispute_corrected_changes_the_payout_and_tells_the_farmer(
    session: AsyncSession, people: dict[str, User]
) -> None:
    li, coord = people["li"], people["coord"]
    payout = await make_payout(session, li)
    before = payouts.amount_fen(payout)
    await session.commit()

    with pytest.raises(DomainError, match="payout_not_found"):
        await payouts.open_dispute(session, people["wang"], payout.id, "not mine")
    for bad, reason in (("   ", "dispute_reason_empty"), ("x" * 1001, "dispute_reason_too_long")):
        with pytest.raises(DomainError) as refused:
            await payouts.open_dispute(session, li, payout.id, bad)
        assert refused.value.reason == reason
    dispute = await payouts.open_dispute(session, li, payout.id, " I brought 310 kg ")
    await session.commit()
    assert dispute.reason == "I brought 310 kg"
    told = await notices(session, "dispute_opened")
    assert sorted(n.dedup_key for n in told) == sorted(
        f"dispute-opened:{dispute.id}:{c.id}" for c in (coord, people["coord2"])
    )
    with pytest.raises(DomainError, match="dispute_open_already"):
        await payouts.open_dispute(session, li, payout.id, "again")
    (line,) = await payouts.open_disputes(session, coord)
    assert line.dispute.id == dispute.id and line.farmer_name == "李伟"

    with pytest.raises(DomainError, match="correction_below_zero"):
        await payouts.resolve_with_correction(session, coord, dispute.id, -before - 1)
    await payouts.resolve_with_correction(session, coord, dispute.id, 21_560)
    await session.commit()
    stored = await session.get(Payout, payout.id, populate_existing=True)
    assert stored is not None and payouts.amount_fen(stored) == before + 21_560
    (resolved,) = await notices(session, "dispute_resolved")
    assert resolved.dedup_key == f"dispute-resolved:{dispute.id}"
    assert resolved.recipient_id == li.id
    assert resolved.payload["amount_fen"] == before + 21_560
    assert resolved.payload["outcome"] == "corrected"
    assert await audits(session, AuditAction.DISPUTE_RESOLVE) == 1
    with pytest.raises(DomainError, match="dispute_resolved_already"):
        await payouts.resolve_with_explanation(session, coord, dispute.id, "late")
    assert await payouts.open_disputes(session, coord) == []
    # Paying it now pays the corrected amount.
    paid = await payouts.mark_paid(session, coord, payout.id, "TX-9")
    assert (await notices(session, "payout_paid"))[0].payload["amount_fen"] == before + 21_560
    assert paid.correction_fen == 21_560


async def test_a_dispute_explained_leaves_the_payout_as_it_is(
    session: AsyncSession, people: dict[str, User]
) -> None:
    li, coord = people["li"], people["coord"]
    payout = await make_payout(session, li)
    before = payouts.amount_fen(payout)
    dispute = await payouts.open_dispute(session, li, payout.id, "fee too high")
    await session.commit()
    with pytest.raises(DomainError, match="explanation_empty"):
        await payouts.resolve_with_explanation(session, coord, dispute.id, " ")
    done, _ = await payouts.resolve_with_explanation(
        session, coord, dispute.id, "The fee is 2 % for everyone."
    )
    await session.commit()
    assert done.status == DisputeStatus.EXPLAINED and done.resolved_by == coord.id
    (told,) = await notices(session, "dispute_resolved")
    assert told.payload["explanation"] == "The fee is 2 % for everyone."
    stored = await session.get(Payout, payout.id, populate_existing=True)
    assert stored is not None and payouts.amount_fen(stored) == before
    # Resolved, the payout may be disputed again.
    assert (await payouts.open_dispute(session, li, payout.id, "still wrong")).id != dispute.id


# --- Notices in both languages -------------------------------------------------------------------


@pytest.fixture(scope="module")
def i18n() -> Any:
    return make_i18n(REPO_ROOT / "locales", "zh")


def _payload(**extra: Any) -> dict[str, Any]:
    base = {
        "payout_id": 7,
        "lot_id": 3,
        "report_id": 5,
        "grams": 300_000,
        "price_fen": 2200,
        "gross_fen": 660_000,
        "fees": {"cooperative": 13_200},
        "net_fen": 646_800,
        "correction_fen": 0,
        "amount_fen": 646_800,
        "due_on": "2026-12-10",
        "reference": "TX-42",
    }
    return base | extra


@pytest.mark.parametrize(
    ("locale", "words"),
    [
        ("zh", ["批次 #3", "300 公斤", "¥6,468.00", "TX-42", "合作社"]),
        ("en", ["Lot #3", "300 kg", "CN¥6,468.00", "TX-42", "Cooperative fee"]),
    ],
)
def test_payout_notices_in_both_languages(i18n: Any, locale: str, words: list[str]) -> None:
    scheduled = render("payout_scheduled", _payload(), locale, i18n, tz=TZ)
    paid = render("payout_paid", _payload(), locale, i18n, tz=TZ)
    for text in (scheduled.text, paid.text):
        for word in words[:3] + words[4:]:
            assert word in text, (word, text)
    assert words[3] in paid.text
    assert ("2026年12月10日" if locale == "zh" else "Dec 10, 2026") in scheduled.text
    for rendered in (scheduled, paid):
        assert rendered.markup is not None
        (button,) = [b for row in rendered.markup.inline_keyboard for b in row]  # type: ignore[union-attr]
        assert button.callback_data == "dsp:open:7"
    reminder = render(
        "payout_reminder",
        {
            "due_on": "2026-12-10",
            "count": 2,
            "total_fen": 1000,
            "payouts": [{"payout_id": 7, "lot_id": 3, "farmer": "李伟", "amount_fen": 1000}],
        },
        locale,
        i18n,
    )
    assert "李伟" in reminder.text and "/due" in reminder.text
    opened = render(
        "dispute_opened", _payload(dispute_id=4, farmer="李伟", reason="310 kg"), locale, i18n
    )
    assert "310 kg" in opened.text and "#7" in opened.text
    corrected = render(
        "dispute_resolved",
        _payload(outcome="corrected", correction=1250, amount_fen=648_050, paid=False),
        locale,
        i18n,
    )
    assert "6,480.50" in corrected.text and "+" in corrected.text
    explained = render(
        "dispute_resolved", _payload(outcome="explained", explanation="2 %"), locale, i18n
    )
    assert "2 %" in explained.text
    chinese = locale == "zh"
    for rendered in (scheduled, paid, reminder, opened, corrected, explained):
        has_han = any("\u4e00" <= ch <= "\u9fff" for ch in rendered.text.replace("李伟", ""))
        assert has_han == chinese, rendered.text


# --- Reading a correction ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "fen"),
    [
        ("12.5", 1250),
        ("12.5元", 1250),
        ("¥12.5", 1250),
        ("-3", -300),
        ("−3 元", -300),
        ("+0.01", 1),
        ("１２．５", 1250),
        ("－３", -300),
        ("-¥3", -300),
        ("1,234.56", 123_456),
    ],
)
def test_corrections_are_read_like_bids(typed: str, fen: int) -> None:
    assert payouts.parse_correction(typed) == fen


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        ("", PriceProblem.EMPTY),
        ("abc", PriceProblem.UNREADABLE),
        ("0", PriceProblem.ZERO),
        ("12,5", PriceProblem.AMBIGUOUS_SEPARATOR),
        ("1.234", PriceProblem.TOO_PRECISE),
        ("--3", PriceProblem.NEGATIVE),
        ("200000", PriceProblem.TOO_LARGE),
    ],
)
def test_unreadable_corrections_are_refused(typed: str, problem: PriceProblem) -> None:
    with pytest.raises(PriceRejected) as refused:
        payouts.parse_correction(typed)
    assert refused.value.problem == problem


@given(st.integers(min_value=-payouts.CORRECTION_MAX_FEN, max_value=payouts.CORRECTION_MAX_FEN))
def test_any_amount_written_plainly_reads_back(fen: int) -> None:
    if fen == 0:
        return
    yuan, rest = divmod(abs(fen), 100)
    for text in (
        f"{'-' if fen < 0 else ''}{yuan}.{rest:02d}",
        f"{'-' if fen < 0 else '+'}¥{yuan}.{rest:02d}元",
    ):
        assert payouts.parse_correction(text) == fen
