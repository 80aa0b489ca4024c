"""People services on a real database (SQLite and PostgreSQL): coordinator checks in every
coordinator service, demotion (in chat and by configuration), the audit log, re-applying
merchants, and notice keys that name their cause."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot import migrate
from bot.models import (
    AuditAction,
    AuditEntry,
    AuditVia,
    BroadcastStatus,
    CoordinatorVia,
    MerchantStatus,
    Notice,
    Role,
    User,
    Village,
    utcnow,
)
from bot.services import audit, broadcasts, coordination, users
from bot.services import villages as places
from bot.services.access import OPERATOR
from bot.services.broadcasts import Audience
from bot.services.errors import DomainError
from tests.conditions import LockRequests


async def _coordinator(session: AsyncSession, telegram_id: int = 90) -> User:
    return await users.ensure_user(session, telegram_id, coordinator_ids={telegram_id})


async def _merchant(session: AsyncSession, telegram_id: int = 20, company: str = "Co") -> User:
    user = await users.ensure_user(session, telegram_id)
    return await users.register_merchant(session, user, company=company, contact="1234567")


async def _farmer(session: AsyncSession, village: Village, telegram_id: int = 10) -> User:
    user = await users.ensure_user(session, telegram_id)
    return await users.register_farmer(
        session, user, name="Li", phone="13800000000", village_id=village.id
    )


async def _notices(session: AsyncSession, user: User) -> list[Notice]:
    return list(
        await session.scalars(
            select(Notice).where(Notice.recipient_id == user.id).order_by(Notice.id)
        )
    )


async def _reasons(coro: object) -> str:
    with pytest.raises(DomainError) as caught:
        await coro  # type: ignore[misc]
    return caught.value.reason


# Every coordinator service checks the role itself


async def test_coordinator_services_refuse_everyone_else(
    session: AsyncSession, villages: list[Village]
) -> None:
    coordinator = await _coordinator(session)
    farmer = await _farmer(session, villages[0])
    merchant = await _merchant(session)
    other = await _merchant(session, 21, "Other")
    broadcast = await broadcasts.create_broadcast(
        session, coordinator, Audience("all"), {"": "Hi"}, scheduled_at=utcnow() + timedelta(1)
    )
    for outsider in (farmer, merchant):
        attempts = [
            broadcasts.cancel_broadcast(session, outsider, broadcast.id),
            broadcasts.create_broadcast(session, outsider, Audience("all"), {"": "x"}),
            places.add_village(session, outsider, "Mangshi"),
            places.rename_village(session, outsider, villages[0].id, "Elsewhere"),
            coordination.approve_merchant(session, outsider, other.id),
            coordination.reject_merchant(session, outsider, other.id, "no"),
            coordination.promote(session, outsider, farmer.telegram_id),
            coordination.demote(session, outsider, coordinator.telegram_id),
            audit.page(session, outsider),
        ]
        for attempt in attempts:
            assert await _reasons(attempt) == "not_allowed"
    await session.refresh(broadcast)
    assert broadcast.status == BroadcastStatus.SCHEDULED
    assert (await session.get(User, other.id)).merchant_status == MerchantStatus.PENDING  # type: ignore[union-attr]
    assert (await session.get(User, farmer.id)).role == Role.FARMER  # type: ignore[union-attr]
    assert [v.name for v in await places.list_villages(session)] == ["Conggang", "Nankang"]
    logged = (await audit.page(session, coordinator)).entries
    assert [e.action for e in logged if e.via == AuditVia.CHAT] == [AuditAction.SCHEDULE]


async def test_a_coordinator_demoted_meanwhile_cannot_act(
    session: AsyncSession, villages: list[Village]
) -> None:
    """The role is read from the database, not from the user loaded with the update."""
    coordinator = await _coordinator(session)
    await session.execute(
        update(User).where(User.id == coordinator.id).values(role=None),
        execution_options={"synchronize_session": False},
    )
    assert coordinator.role == Role.COORDINATOR  # the stale object still says so
    assert await _reasons(places.add_village(session, coordinator, "Mangshi")) == "not_allowed"


# Demoting


async def test_demote_a_coordinator_promoted_in_chat(
    session: AsyncSession, villages: list[Village]
) -> None:
    boss = await _coordinator(session)
    farmer = await _farmer(session, villages[0])
    merchant = await _merchant(session)
    newcomer = await users.ensure_user(session, 30)
    for user in (farmer, merchant, newcomer):
        promoted = await coordination.promote(session, boss, user.telegram_id)
        assert (promoted.role, promoted.coordinator_via) == (Role.COORDINATOR, CoordinatorVia.CHAT)

    assert (await coordination.demote(session, boss, farmer.telegram_id)).role == Role.FARMER
    demoted = await coordination.demote(session, boss, merchant.telegram_id)
    assert (demoted.role, demoted.merchant_status) == (Role.MERCHANT, MerchantStatus.PENDING)
    stranger = await coordination.demote(session, boss, newcomer.telegram_id, {boss.telegram_id})
    assert (stranger.role, stranger.registered) == (None, False)  # /start registers them
    assert [n.kind for n in await _notices(session, farmer)] == ["promoted", "demoted"]

    assert await _reasons(coordination.demote(session, boss, farmer.telegram_id)) == (
        "not_coordinator"
    )
    assert await _reasons(coordination.demote(session, boss, 424242)) == "not_coordinator"
    # Promoted again: a new occurrence of the same kind of cause, so a new notice.
    await coordination.promote(session, boss, farmer.telegram_id)
    await coordination.demote(session, boss, farmer.telegram_id)
    assert [n.kind for n in await _notices(session, farmer)] == [
        "promoted",
        "demoted",
        "promoted",
        "demoted",
    ]


async def test_configured_and_last_coordinators_are_not_demoted_in_chat(
    session: AsyncSession,
) -> None:
    boss = await _coordinator(session, 90)
    assert await _reasons(coordination.demote(session, boss, 90, {90})) == (
        "coordinator_configured"
    )
    assert await _reasons(coordination.demote(session, boss, 90)) == "last_coordinator"
    helper = await users.ensure_user(session, 91)
    await coordination.promote(session, boss, 91)
    await coordination.demote(session, helper, 91, {90})  # steps down: not the last one
    assert helper.role is None
    assert await _reasons(coordination.demote(session, helper, 90, {90})) == "not_allowed"


async def test_removing_an_id_from_the_configuration_takes_the_role_away(
    session: AsyncSession, villages: list[Village]
) -> None:
    configured = await _coordinator(session, 90)
    other = await _coordinator(session, 91)
    promoted = await users.ensure_user(session, 92)
    await coordination.promote(session, configured, 92)
    farmer = await _farmer(session, villages[0], 93)
    assert configured.coordinator_via == CoordinatorVia.CONFIG

    # Next start: 91 left COORDINATOR_IDS, 93 joined it.
    removed = await coordination.apply_configured_coordinators(session, {90, 93})
    assert [u.telegram_id for u in removed] == [91]
    assert other.role is None and not other.registered
    assert promoted.role == Role.COORDINATOR, "promoted in chat: kept"
    assert (farmer.role, farmer.coordinator_via) == (Role.COORDINATOR, CoordinatorVia.CONFIG)
    assert [n.kind for n in await _notices(session, other)] == ["demoted"]
    assert await coordination.apply_configured_coordinators(session, {90, 93}) == []
    # ensure_user no longer promotes 91 either.
    assert (await users.ensure_user(session, 91, {90, 93})).role is None
    entries = (await audit.page(session, configured)).entries
    assert (entries[0].action, entries[0].via, entries[0].actor_id, entries[0].subject_id) == (
        AuditAction.PROMOTE,
        AuditVia.CONFIG,
        None,
        farmer.id,
    )
    assert (entries[1].action, entries[1].via, entries[1].subject_id) == (
        AuditAction.DEMOTE,
        AuditVia.CONFIG,
        other.id,
    )


# The audit log


async def test_audit_log_records_each_action_with_who_and_what(session: AsyncSession) -> None:
    boss = await _coordinator(session)
    merchant = await _merchant(session)
    second = await _merchant(session, 21, "Second")
    await users.ensure_user(session, 30)
    await coordination.approve_merchant(session, boss, merchant.id)
    await coordination.reject_merchant(session, boss, second.id, "No licence")
    await coordination.promote(session, boss, 30)
    await coordination.demote(session, boss, 30)
    now = await broadcasts.create_broadcast(session, boss, Audience("farmers"), {"": "Hi"})
    later = await broadcasts.create_broadcast(
        session, boss, Audience("all"), {"": "Hi"}, scheduled_at=utcnow() + timedelta(days=1)
    )
    await broadcasts.cancel_broadcast(session, boss, later.id)
    village = await places.add_village(session, boss, "Mangshi")
    await places.rename_village(session, boss, village.id, "Mangshi Town")

    entries = list(await session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
    assert [(e.action, e.actor_id) for e in entries[1:]] == [
        (AuditAction.APPROVE, boss.id),
        (AuditAction.REJECT, boss.id),
        (AuditAction.PROMOTE, boss.id),
        (AuditAction.DEMOTE, boss.id),
        (AuditAction.BROADCAST, boss.id),
        (AuditAction.SCHEDULE, boss.id),
        (AuditAction.CANCEL, boss.id),
        (AuditAction.VILLAGE_ADD, boss.id),
        (AuditAction.VILLAGE_RENAME, boss.id),
    ]
    by_action = {e.action: e for e in entries}
    assert by_action[AuditAction.REJECT].details["reason"] == "No licence"
    assert by_action[AuditAction.REJECT].subject_id == second.id
    assert by_action[AuditAction.BROADCAST].broadcast_id == now.id
    assert by_action[AuditAction.CANCEL].broadcast_id == later.id
    assert by_action[AuditAction.VILLAGE_RENAME].details == {
        "old": "Mangshi",
        "name": "Mangshi Town",
    }
    assert all(e.created_at is not None and e.via == AuditVia.CHAT for e in entries[1:])

    first = await audit.page(session, boss, limit=4)
    assert [e.id for e in first.entries] == [e.id for e in entries[::-1][:4]] and first.more
    rest = await audit.page(session, boss, before=first.entries[-1].id, limit=20)
    assert [e.id for e in rest.entries] == [e.id for e in entries[::-1][4:]] and not rest.more


async def test_an_action_that_fails_leaves_no_audit_entry(database_url: str) -> None:
    """The entry is written in the action's transaction: rolled back with it."""
    from bot.db import make_engine, make_sessionmaker

    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as s:
            boss = await _coordinator(s)
            await s.commit()
            await places.add_village(s, boss, "Mangshi")
            await s.rollback()
            count = await s.scalar(select(func.count()).select_from(AuditEntry))
            assert count == 1  # only the configured coordinator's promotion
    finally:
        await engine.dispose()


async def test_operator_actions_are_audited_as_the_command_line(session: AsyncSession) -> None:
    boss = await _coordinator(session)
    await places.add_village(session, OPERATOR, "Lujiang")
    (entry, *_) = (await audit.page(session, boss)).entries
    assert (entry.action, entry.via, entry.actor_id) == (
        AuditAction.VILLAGE_ADD,
        AuditVia.CLI,
        None,
    )


# Re-applying after a rejection


async def test_rejected_merchant_applies_again(session: AsyncSession) -> None:
    boss = await _coordinator(session)
    merchant = await _merchant(session)
    assert (merchant.merchant_application, users.may_reapply(merchant)) == (1, False)
    await coordination.reject_merchant(session, boss, merchant.id, "No licence")
    assert users.may_reapply(merchant)
    again = await users.register_merchant(
        session, merchant, company="Co Ltd", contact="co@example.com"
    )
    assert (again.merchant_status, again.merchant_application, again.company) == (
        MerchantStatus.PENDING,
        2,
        "Co Ltd",
    )
    assert [m.id for m in await coordination.pending_merchants(session)] == [merchant.id]
    await coordination.reject_merchant(session, boss, merchant.id, "Still no licence")
    notices = await _notices(session, merchant)
    assert [n.payload["reason"] for n in notices] == ["No licence", "Still no licence"]
    await users.register_merchant(session, merchant, company="Co Ltd", contact="co@example.com")
    await coordination.approve_merchant(session, boss, merchant.id)
    assert not users.may_reapply(merchant)
    assert await _reasons(
        users.register_merchant(session, merchant, company="X", contact="1234567")
    ) == ("merchant_approved_already")


# De-duplication keys name their cause


async def test_the_same_decision_twice_makes_one_notice(session: AsyncSession) -> None:
    """A decision on one application replayed (the row put back to pending without a new
    application, as a retried transaction would) tells the merchant once, not twice."""
    boss = await _coordinator(session)
    merchant = await _merchant(session)
    for _ in range(2):
        await coordination.approve_merchant(session, boss, merchant.id)
        merchant.merchant_status = MerchantStatus.PENDING
        await session.flush()
    await coordination.reject_merchant(session, boss, merchant.id, "Changed my mind")
    assert len(await _notices(session, merchant)) == 1
    (notice,) = await _notices(session, merchant)
    assert notice.dedup_key == f"merchant_decision:{merchant.id}:1"


async def test_role_change_notices_are_keyed_by_their_audit_entry(session: AsyncSession) -> None:
    boss = await _coordinator(session)
    user = await users.ensure_user(session, 30)
    await coordination.promote(session, boss, 30)
    await coordination.demote(session, boss, 30)
    entries = {
        e.action: e.id for e in (await audit.page(session, boss)).entries if e.subject_id == user.id
    }
    assert [n.dedup_key for n in await _notices(session, user)] == [
        f"promoted:{user.id}:{entries[AuditAction.PROMOTE]}",
        f"demoted:{user.id}:{entries[AuditAction.DEMOTE]}",
    ]


def test_migration_0003_tells_configured_from_promoted_coordinators(tmp_path: Path) -> None:
    """Existing coordinators: promoted in chat when a "promoted" notice was written for them
    (promoting always wrote one), else configured; existing merchants are on application 1."""
    path = tmp_path / "old.db"
    url = f"sqlite+aiosqlite:///{path}"
    migrate.upgrade(url, "0002")
    with sqlite3.connect(path) as db:
        db.executemany(
            "INSERT INTO users (id, telegram_id, role, blocked, created_at, updated_at) "
            "VALUES (?, ?, ?, 0, '2026-11-01', '2026-11-01')",
            [(1, 11, "coordinator"), (2, 12, "coordinator"), (3, 13, "merchant"), (4, 14, None)],
        )
        db.execute(
            "INSERT INTO notices (recipient_id, kind, payload, dedup_key, status, attempts, "
            "next_attempt_at, created_at) VALUES (2, 'promoted', '{}', 'promoted:2:x', 'sent', "
            "1, '2026-11-01', '2026-11-01')"
        )
    migrate.upgrade(url)
    with sqlite3.connect(path) as db:
        rows = db.execute(
            "SELECT telegram_id, coordinator_via, merchant_application FROM users ORDER BY id"
        ).fetchall()
    assert rows == [(11, "config", 0), (12, "chat", 0), (13, None, 1), (14, None, 0)]


async def test_simultaneous_demotions_leave_a_coordinator(database_url: str) -> None:
    """Two coordinators demoting each other, or both stepping down, at the same moment: the
    coordinator rows are locked first, so one demotion happens and the other is refused."""
    import asyncio

    from bot.db import make_engine, make_sessionmaker

    engine = make_engine(database_url)
    maker = make_sessionmaker(engine)

    requests: LockRequests | None = None

    async def demote(actor_id: int, target: int) -> str:
        async with maker() as s:
            me = await s.get(User, actor_id)
            assert me is not None
            try:
                await coordination.demote(s, me, target)
                assert requests is not None
                await requests.all_asked()  # hold the locks until the other one has asked
                await s.commit()
            except DomainError as exc:
                return exc.reason
            return "demoted"

    try:
        for pairs, refusal in [
            ([(0, 2), (1, 1)], "not_allowed"),  # A demotes B while B demotes A
            ([(0, 1), (1, 2)], "last_coordinator"),  # both step down
        ]:
            async with maker() as s, s.begin():
                await s.execute(update(User).values(role=None, coordinator_via=None))
                a = await users.ensure_user(s, 1)
                b = await users.ensure_user(s, 2)
                for user in (a, b):
                    user.role, user.coordinator_via = Role.COORDINATOR, CoordinatorVia.CHAT
                ids = [a.id, b.id]
            requests = LockRequests(
                engine, expected=2, on_postgres=lambda statement, _p: "FOR UPDATE" in statement
            )
            outcomes = await asyncio.gather(
                *(demote(ids[actor], target) for actor, target in pairs)
            )
            assert sorted(outcomes) == sorted(["demoted", refusal])
            async with maker() as s:
                left = await coordination.coordinators(s)
                assert len(left) == 1
    finally:
        await engine.dispose()
