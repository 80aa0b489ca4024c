"""Domain services against a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import make_engine, make_sessionmaker
from bot.models import MerchantStatus, Notice, ReportStatus, Role, User, Village
from bot.services import coordination, harvests, users, villages
from bot.services.access import OPERATOR
from bot.services.errors import DomainError
from bot.services.harvests import HarvestDraft
from tests.conditions import LockRequests, reads_row


async def _farmer(session: AsyncSession, village: Village, telegram_id: int = 1):
    user = await users.ensure_user(session, telegram_id)
    return await users.register_farmer(
        session, user, name="  Li   Wei ", phone="138 0000 0000", village_id=village.id
    )


def _draft(**changes: object) -> HarvestDraft:
    draft = HarvestDraft(
        product="parchment", process="washed", variety="catimor", quantity_g=120_000
    )
    for key, value in changes.items():
        setattr(draft, key, value)
    return draft


async def test_village_codes_are_unique_and_names_too(session: AsyncSession) -> None:
    first = await villages.add_village(session, OPERATOR, "Conggang")
    assert first.code == "conggang"
    with pytest.raises(DomainError) as caught:
        await villages.add_village(session, OPERATOR, "conggang ")
    assert caught.value.reason == "village_exists"
    chinese = await villages.add_village(session, OPERATOR, "南康村")
    assert chinese.code and chinese.code != first.code
    assert await villages.village_by_code(session, chinese.code) == chinese
    assert [v.name for v in await villages.list_villages(session)] == ["Conggang", "南康村"]


async def test_coordinators_come_from_configuration(session: AsyncSession) -> None:
    user = await users.ensure_user(session, 42, coordinator_ids={42})
    assert user.role == Role.COORDINATOR and user.registered
    again = await users.ensure_user(session, 42, coordinator_ids={42})
    assert again.id == user.id


async def test_farmer_registration_cleans_input(
    session: AsyncSession, villages: list[Village]
) -> None:
    farmer = await _farmer(session, villages[0])
    assert (farmer.role, farmer.name, farmer.phone) == (Role.FARMER, "Li Wei", "+13800000000")
    assert farmer.village is not None and farmer.village.name == "Conggang"
    with pytest.raises(DomainError):
        users.clean_name("12345")
    with pytest.raises(DomainError):
        users.check_own_contact(1, 2)


async def test_merchant_waits_for_approval(session: AsyncSession) -> None:
    user = await users.ensure_user(session, 7)
    merchant = await users.register_merchant(
        session, user, company="Baoshan Coffee Co.", contact="sales@bscoffee.cn"
    )
    assert merchant.role == Role.MERCHANT
    assert merchant.merchant_status == MerchantStatus.PENDING


async def test_report_submit_list_withdraw(session: AsyncSession, villages: list[Village]) -> None:
    farmer = await _farmer(session, villages[1])
    report = await harvests.submit_report(session, farmer, _draft(moisture_tenths=115, grade="AA"))
    assert report.village_id == villages[1].id and report.status == ReportStatus.SUBMITTED
    cherry = await harvests.submit_report(session, farmer, _draft(product="cherry"))
    assert cherry.process is None
    assert [r.id for r in await harvests.list_reports(session, farmer)] == [cherry.id, report.id]
    withdrawn = await harvests.withdraw_report(session, farmer, report.id)
    assert withdrawn.status == ReportStatus.WITHDRAWN
    with pytest.raises(DomainError) as caught:
        await harvests.withdraw_report(session, farmer, report.id)
    assert caught.value.reason == "report_not_withdrawable"


async def test_sold_report_cannot_be_withdrawn(
    session: AsyncSession, villages: list[Village]
) -> None:
    farmer = await _farmer(session, villages[0])
    report = await harvests.submit_report(session, farmer, _draft())
    report.status = ReportStatus.SOLD
    with pytest.raises(DomainError):
        await harvests.withdraw_report(session, farmer, report.id)


async def test_reports_belong_to_their_farmer(
    session: AsyncSession, villages: list[Village]
) -> None:
    owner = await _farmer(session, villages[0], 1)
    other = await _farmer(session, villages[0], 2)
    report = await harvests.submit_report(session, owner, _draft())
    with pytest.raises(DomainError) as caught:
        await harvests.withdraw_report(session, other, report.id)
    assert caught.value.reason == "report_not_found"


async def test_incomplete_draft_is_refused(session: AsyncSession, villages: list[Village]) -> None:
    farmer = await _farmer(session, villages[0])
    with pytest.raises(DomainError) as caught:
        await harvests.submit_report(session, farmer, _draft(process=None))
    assert caught.value.details["field"] == "process"
    merchant = await users.register_merchant(
        session, await users.ensure_user(session, 5), company="Co", contact="13800000005"
    )
    with pytest.raises(DomainError):
        await harvests.submit_report(session, merchant, _draft())


async def test_reports_are_numbered_per_farmer_and_keep_the_unit(
    session: AsyncSession, villages: list[Village]
) -> None:
    first = await _farmer(session, villages[0], 1)
    second = await _farmer(session, villages[0], 2)
    a1 = await harvests.submit_report(session, first, _draft(quantity_unit="jin"))
    b1 = await harvests.submit_report(session, second, _draft())
    a2 = await harvests.submit_report(session, first, _draft(quantity_unit="t"))
    assert [(r.farmer_seq, r.quantity_unit) for r in (a1, b1, a2)] == [
        (1, "jin"),
        (1, None),
        (2, "t"),
    ]
    with pytest.raises(DomainError):
        await harvests.submit_report(session, first, _draft(quantity_unit="lb"))


@pytest.mark.parametrize("detail", [{"grade": "AA"}, {"moisture_tenths": 120}])
async def test_fresh_cherry_carries_no_grade_or_moisture(
    session: AsyncSession, villages: list[Village], detail: dict[str, object]
) -> None:
    farmer = await _farmer(session, villages[0])
    with pytest.raises(DomainError) as caught:
        await harvests.submit_report(session, farmer, _draft(product="cherry", **detail))
    assert caught.value.reason == "cherry_no_bean_facts"
    with pytest.raises(DomainError):
        harvests.check_bean_fact("cherry", "grade")
    harvests.check_bean_fact("green", "grade")
    report = await harvests.submit_report(session, farmer, _draft(product="cherry"))
    assert (report.grade, report.moisture_tenths, report.process) == (None, None, None)


async def test_simultaneous_decisions_on_a_merchant_make_one(database_url: str) -> None:
    """Two coordinators pressing Approve and Reject at the same moment: one decision, one
    notice; the others are told the merchant was decided."""
    engine = make_engine(database_url)
    maker = make_sessionmaker(engine)
    try:
        async with maker() as s:
            coordinator = await users.ensure_user(s, 1, {1})
            merchant = await users.ensure_user(s, 2)
            await users.register_merchant(s, merchant, company="Dehong Co", contact="13900000000")
            await s.commit()
            coordinator_id, merchant_id = coordinator.id, merchant.id

        # The first to lock the merchant holds it until the other two have asked for it.
        requests = LockRequests(engine, expected=3, on_postgres=reads_row(merchant_id))

        async def decide(approve: bool) -> str:
            async with maker() as s:
                me = await s.get(User, coordinator_id)
                assert me is not None
                try:
                    if approve:
                        await coordination.approve_merchant(s, me, merchant_id)
                    else:
                        await coordination.reject_merchant(s, me, merchant_id, "late")
                    await requests.all_asked()
                    await s.commit()
                except DomainError as exc:
                    return exc.reason
                return "decided"

        outcomes = await asyncio.gather(decide(True), decide(False), decide(True))
        assert sorted(outcomes) == ["decided", "merchant_decided", "merchant_decided"]
        async with maker() as s:
            assert await s.scalar(select(func.count()).select_from(Notice)) == 1
    finally:
        await engine.dispose()
