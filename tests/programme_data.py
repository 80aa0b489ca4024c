"""A small programme written straight into the tables, with rows on each side of the period
boundaries (midnight in Asia/Shanghai), for the figures and export tests.

"Now" is 25 November 2026, 10:00 Beijing time: this month is [1 Nov, 1 Dec), this season
[1 Oct 2026, 1 Oct 2027). The expected figures are in EXPECTED, derived by hand in the
comments beside each row."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import (
    AuditAction,
    AuditEntry,
    AuditVia,
    Collection,
    CollectionStatus,
    DisputeStatus,
    HarvestReport,
    Lot,
    LotBid,
    LotStatus,
    MerchantStatus,
    Payout,
    PayoutDispute,
    PayoutStatus,
    Process,
    Product,
    ReportStatus,
    Role,
    User,
    Variety,
    Village,
)

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=TZ)


def local(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    """A moment in programme time."""
    return datetime(year, month, day, hour, minute, second, tzinfo=TZ)


@dataclass
class Seeded:
    villages: dict[str, Village] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    lots: dict[str, Lot] = field(default_factory=dict)
    reports: dict[str, HarvestReport] = field(default_factory=dict)
    payouts: dict[str, Payout] = field(default_factory=dict)


async def seed(session: AsyncSession, coordinator_tid: int = 9000) -> Seeded:
    """The rows; `coordinator_tid` is the Telegram id of the coordinator who opened the lots
    (another than the running bot's configured one, which the bot makes itself)."""
    s = Seeded()
    for name, code in (("Conggang", "conggang"), ("Nankang", "nankang"), ("Empty", "empty")):
        s.villages[name] = Village(name=name, code=code)
    session.add_all(s.villages.values())
    await session.flush()
    cg, nk = s.villages["Conggang"], s.villages["Nankang"]

    def user(key: str, tid: int, role: Role, **kw: object) -> User:
        s.users[key] = User(telegram_id=tid, role=role, language="zh", **kw)
        session.add(s.users[key])
        return s.users[key]

    user("coord", coordinator_tid, Role.COORDINATOR, name="Coord", registered_at=local(2026, 1, 1))
    # A: 31 Oct 23:59:59 local: the season, not the month. B: 1 Nov 00:00: both.
    # C: 1 Oct 00:00 (the season's first instant). D: 30 Sep 23:59: only "all".
    user(
        "A",
        1,
        Role.FARMER,
        name="李伟",
        phone="+8613800000001",
        village_id=cg.id,
        registered_at=local(2026, 10, 31, 23, 59, 59),
    )
    user(
        "B",
        2,
        Role.FARMER,
        name='Wang, "Fang"',
        phone="+8613800000002",
        village_id=cg.id,
        registered_at=local(2026, 11, 1, 0, 0),
    )
    user(
        "C",
        3,
        Role.FARMER,
        name="张三",
        phone="+8613800000003",
        village_id=nk.id,
        registered_at=local(2026, 10, 1, 0, 0),
    )
    user(
        "D",
        4,
        Role.FARMER,
        name="赵六",
        phone="+8613800000004",
        village_id=cg.id,
        registered_at=local(2026, 9, 30, 23, 59),
    )
    user("unregistered", 5, Role.FARMER, name="Half", village_id=cg.id)
    for key, tid, status in (
        ("M1", 11, MerchantStatus.APPROVED),
        ("M2", 12, MerchantStatus.APPROVED),
        ("M3", 13, MerchantStatus.APPROVED),
        ("M4", 14, MerchantStatus.PENDING),
    ):
        user(
            key,
            tid,
            Role.MERCHANT,
            company=f"{key} 咖啡贸易",
            merchant_status=status,
            registered_at=local(2026, 8, 1),
        )
    await session.flush()
    u = s.users
    # Approvals (the audit log dates them): M1 in November, M2 in October, M3 in August.
    for key, when in (
        ("M1", local(2026, 11, 2)),
        ("M2", local(2026, 10, 10)),
        ("M3", local(2026, 8, 1)),
    ):
        session.add(
            AuditEntry(
                via=AuditVia.CLI,
                action=AuditAction.APPROVE,
                subject_id=u[key].id,
                created_at=when,
                details={},
            )
        )

    def report(
        key: str, farmer: str, seq: int, grams: int, when: datetime, status: ReportStatus
    ) -> None:
        s.reports[key] = HarvestReport(
            farmer_id=u[farmer].id,
            farmer_seq=seq,
            village_id=cg.id,
            product=Product.PARCHMENT,
            process=Process.WASHED,
            variety=Variety.CATIMOR,
            quantity_g=grams,
            quantity_unit="kg",
            moisture_tenths=115,
            status=status,
            created_at=when,
        )
        session.add(s.reports[key])

    report("R1", "A", 1, 100_000, local(2026, 11, 3), ReportStatus.SUBMITTED)
    report("R2", "B", 1, 50_500, local(2026, 11, 4), ReportStatus.WITHDRAWN)  # never counted
    report("R3", "C", 1, 200_000, local(2026, 10, 15), ReportStatus.POOLED)
    report("R4", "D", 1, 300_000, local(2026, 9, 1), ReportStatus.SOLD)
    await session.flush()

    def lot(
        key: str,
        status: LotStatus,
        grams: int,
        opens: datetime,
        closed: datetime | None,
        leading: int | None,
        leader: str | None,
    ) -> Lot:
        s.lots[key] = Lot(
            village_id=cg.id,
            product=Product.PARCHMENT,
            process=Process.WASHED,
            grams=grams,
            farmers=2,
            reserve_fen=2000,
            increment_fen=10,
            extension_s=180,
            status=status,
            opens_at=opens,
            closes_at=closed or opens + timedelta(days=2),
            closed_at=closed,
            leading_fen=leading,
            leader_id=u[leader].id if leader else None,
            bids=1 if leader else 0,
            created_by=u["coord"].id,
        )
        session.add(s.lots[key])
        return s.lots[key]

    # L1: sold in November, collected: 990 kg weighed, invoice 22.35 x 990 = 22,126.50.
    lot("L1", LotStatus.SOLD, 1_000_500, local(2026, 11, 8), local(2026, 11, 10), 2235, "M1")
    # L2: sold in November, collection only scheduled: 22.01 x 500 kg = 11,005.00.
    lot("L2", LotStatus.SOLD, 500_000, local(2026, 11, 18), local(2026, 11, 20), 2201, "M1")
    lot("L3", LotStatus.UNSOLD, 300_000, local(2026, 11, 3), local(2026, 11, 5), None, None)
    # L4: sold at 23:30 on 31 October local (15:30 UTC: the season, not the month): 40,000.00.
    lot(
        "L4",
        LotStatus.SOLD,
        2_000_000,
        local(2026, 10, 29),
        local(2026, 10, 31, 23, 30),
        2000,
        "M2",
    )
    lot("L5", LotStatus.CANCELLED, 100_000, local(2026, 11, 2), local(2026, 11, 3), None, None)
    # L6: sold before the season: 30.00 x 100 kg = 3,000.00.
    lot("L6", LotStatus.SOLD, 100_000, local(2026, 8, 30), local(2026, 9, 1), 3000, "M3")
    lot("L7", LotStatus.OPEN, 200_000, local(2026, 11, 24), None, None, None)
    await session.flush()
    lots = s.lots
    session.add_all(
        [
            Collection(
                lot_id=lots["L1"].id,
                place="Conggang school",
                collect_at=local(2026, 11, 12, 9),
                status=CollectionStatus.COMPLETED,
                set_by=u["coord"].id,
                price_fen=2235,
                weighed_grams=990_000,
                invoice_fen=2_212_650,
                completed_at=local(2026, 11, 12, 12),
                completed_by=u["coord"].id,
            ),
            Collection(
                lot_id=lots["L2"].id,
                place="Nankang",
                collect_at=local(2026, 11, 28, 9),
                status=CollectionStatus.SCHEDULED,
                set_by=u["coord"].id,
            ),
            LotBid(
                lot_id=lots["L1"].id,
                merchant_id=u["M1"].id,
                price_fen=2235,
                leading_fen=2235,
                leader_id=u["M1"].id,
                placed_at=local(2026, 11, 8, 10),
            ),
            LotBid(
                lot_id=lots["L2"].id,
                merchant_id=u["M1"].id,
                maximum_fen=2500,
                leading_fen=2201,
                leader_id=u["M1"].id,
                placed_at=local(2026, 11, 19, 10),
            ),
            LotBid(
                lot_id=lots["L4"].id,
                merchant_id=u["M2"].id,
                price_fen=2000,
                leading_fen=2000,
                leader_id=u["M2"].id,
                placed_at=local(2026, 10, 30, 10),
            ),
            LotBid(
                lot_id=lots["L6"].id,
                merchant_id=u["M3"].id,
                price_fen=3000,
                leading_fen=3000,
                leader_id=u["M3"].id,
                placed_at=local(2026, 8, 31, 10),
            ),
        ]
    )

    def payout(
        key: str,
        lot_key: str,
        report_key: str,
        farmer: str,
        grams: int,
        net: int,
        created: datetime,
        status: PayoutStatus,
        correction: int = 0,
        fees: dict[str, int] | None = None,
    ) -> None:
        gross = net + sum((fees or {}).values())
        s.payouts[key] = Payout(
            lot_id=lots[lot_key].id,
            report_id=s.reports[report_key].id,
            farmer_id=u[farmer].id,
            grams=grams,
            price_fen=2235,
            gross_fen=gross,
            fees=fees or {},
            net_fen=net,
            correction_fen=correction,
            due_on=date(2026, 11, 30),
            status=status,
            paid_at=created + timedelta(days=3) if status == PayoutStatus.PAID else None,
            reference="TX-1" if status == PayoutStatus.PAID else None,
            created_at=created,
        )
        session.add(s.payouts[key])

    payout(
        "P1",
        "L1",
        "R1",
        "A",
        45_000,
        100_000,
        local(2026, 11, 12, 12),
        PayoutStatus.SCHEDULED,
        correction=500,
        fees={"transport": 450, "cooperative": 1_000},
    )
    payout("P2", "L1", "R2", "B", 89_000, 200_000, local(2026, 11, 12, 12), PayoutStatus.PAID)
    payout("P3", "L6", "R4", "D", 100_000, 300_000, local(2026, 9, 5), PayoutStatus.PAID)
    await session.flush()
    p = s.payouts
    session.add_all(
        [
            PayoutDispute(
                payout_id=p["P1"].id,
                farmer_id=u["A"].id,
                reason="short weight",
                status=DisputeStatus.OPEN,
                opened_at=local(2026, 11, 14),
            ),
            PayoutDispute(
                payout_id=p["P2"].id,
                farmer_id=u["B"].id,
                reason="fee?",
                status=DisputeStatus.EXPLAINED,
                explanation="usual fee",
                opened_at=local(2026, 11, 14),
            ),
            PayoutDispute(
                payout_id=p["P3"].id,
                farmer_id=u["D"].id,
                reason="price",
                status=DisputeStatus.CORRECTED,
                correction_fen=1000,
                opened_at=local(2026, 9, 6),
            ),
        ]
    )
    await session.flush()
    return s


def at_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)
