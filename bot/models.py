"""Database models. Quantities are integer grams, moisture integer tenths of a percent."""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    TypeDecorator,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UtcDateTime()}


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    return Enum(
        cls, name=name, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e]
    )


class Role(enum.StrEnum):
    FARMER = "farmer"
    MERCHANT = "merchant"
    COORDINATOR = "coordinator"


class CoordinatorVia(enum.StrEnum):
    """How someone became a coordinator: a configured one loses the role when their id leaves
    COORDINATOR_IDS; one promoted in chat keeps it until demoted in chat."""

    CONFIG = "config"
    CHAT = "chat"


class MerchantStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class Product(enum.StrEnum):
    CHERRY = "cherry"
    PARCHMENT = "parchment"
    GREEN = "green"


class Process(enum.StrEnum):
    WASHED = "washed"
    NATURAL = "natural"
    HONEY = "honey"


class Variety(enum.StrEnum):
    CATIMOR = "catimor"
    TYPICA = "typica"
    BOURBON = "bourbon"
    OTHER = "other"


class Grade(enum.StrEnum):
    AA = "AA"
    A = "A"
    AB = "AB"
    PB = "PB"
    C = "C"


class ReportStatus(enum.StrEnum):
    SUBMITTED = "submitted"
    POOLED = "pooled"
    SOLD = "sold"
    COLLECTED = "collected"
    PAID = "paid"
    WITHDRAWN = "withdrawn"
    NOT_DELIVERED = "not_delivered"  # in a sold lot, but not brought to the collection


class Village(Base):
    __tablename__ = "villages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    telegram_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    role: Mapped[Role | None] = mapped_column(_enum(Role, "role"))
    name: Mapped[str | None] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(32))
    company: Mapped[str | None] = mapped_column(String(200))
    contact: Mapped[str | None] = mapped_column(String(200))
    merchant_status: Mapped[MerchantStatus | None] = mapped_column(
        _enum(MerchantStatus, "merchant_status")
    )
    language: Mapped[str | None] = mapped_column(String(8))
    village_id: Mapped[int | None] = mapped_column(ForeignKey("villages.id"))
    blocked: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    merchant_reject_reason: Mapped[str | None] = mapped_column(String(500))
    # The merchant's application number (1 for the first, 2 after re-applying once...): names
    # which application a decision notice is about, so each can be told exactly once.
    merchant_application: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    coordinator_via: Mapped[CoordinatorVia | None] = mapped_column(
        _enum(CoordinatorVia, "coordinator_via")
    )
    # The bot's last dialogue question with inline buttons in this user's chat: its buttons are
    # removed when a later question, the end of the dialogue or /cancel supersedes it.
    question_message_id: Mapped[int | None] = mapped_column(BigInteger)
    next_notice_at: Mapped[datetime | None] = mapped_column()
    # The daily price digest (issue 10): asked at registration, default yes; /prices changes it.
    price_digest: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    registered_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        default=utcnow, onupdate=utcnow, server_default=func.now()
    )

    village: Mapped[Village | None] = relationship(lazy="joined")

    @property
    def registered(self) -> bool:
        return self.registered_at is not None


class HarvestReport(Base):
    __tablename__ = "harvest_reports"
    __table_args__ = (
        Index("ix_harvest_reports_farmer_created", "farmer_id", "created_at"),
        UniqueConstraint("farmer_id", "farmer_seq", name="uq_harvest_reports_farmer_seq"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    farmer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # The farmer's own report number (1, 2, ...): what the farmer sees; `id` is global.
    farmer_seq: Mapped[int] = mapped_column(Integer)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"))
    product: Mapped[Product] = mapped_column(_enum(Product, "product"))
    process: Mapped[Process | None] = mapped_column(_enum(Process, "process"))
    variety: Mapped[Variety] = mapped_column(_enum(Variety, "variety"))
    quantity_g: Mapped[int] = mapped_column(BigInteger)
    # The unit the farmer typed ("kg", "jin", "t"; None for reports from before it was kept):
    # the amount typed is quantity_g divided exactly by the unit's grams.
    quantity_unit: Mapped[str | None] = mapped_column(String(8))
    moisture_tenths: Mapped[int | None] = mapped_column(Integer)
    grade: Mapped[Grade | None] = mapped_column(_enum(Grade, "grade"))
    photo_file_id: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[ReportStatus] = mapped_column(
        _enum(ReportStatus, "report_status"), default=ReportStatus.SUBMITTED, index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        default=utcnow, onupdate=utcnow, server_default=func.now()
    )

    village: Mapped[Village] = relationship(lazy="joined")


class LotStatus(enum.StrEnum):
    OPEN = "open"  # bidding until closes_at
    AWAITING = "awaiting"  # bidding over, the sale waits for a coordinator's Accept / Reject
    SOLD = "sold"
    UNSOLD = "unsold"  # no valid bid: the reports went back to the pool
    REJECTED = "rejected"  # the coordinator rejected the sale, or did not answer in time
    CANCELLED = "cancelled"


class Lot(Base):
    """What is auctioned: whole harvest reports of one pool (lot_reports), and its standing.

    The standing (leader, price, the leader's proxy ceiling and the best other ceiling) is kept
    on the row, so a bid reads and writes one row under its lock; bids are the history."""

    __tablename__ = "lots"
    __table_args__ = (Index("ix_lots_status_closes", "status", "closes_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"))
    product: Mapped[Product] = mapped_column(_enum(Product, "product"))
    process: Mapped[Process | None] = mapped_column(_enum(Process, "process"))
    grade: Mapped[Grade | None] = mapped_column(_enum(Grade, "grade"))
    grams: Mapped[int] = mapped_column(BigInteger)
    farmers: Mapped[int] = mapped_column(Integer)
    moisture_min_tenths: Mapped[int | None] = mapped_column(Integer)
    moisture_max_tenths: Mapped[int | None] = mapped_column(Integer)
    reserve_fen: Mapped[int] = mapped_column(Integer)  # fen per kg, like every price here
    increment_fen: Mapped[int] = mapped_column(Integer)
    extension_s: Mapped[int] = mapped_column(Integer)  # soft close
    confirm_before_sale: Mapped[bool] = mapped_column(Boolean, default=False)
    accept_below_fen: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[LotStatus] = mapped_column(
        _enum(LotStatus, "lot_status"), default=LotStatus.OPEN
    )
    opens_at: Mapped[datetime] = mapped_column(default=utcnow)
    closes_at: Mapped[datetime] = mapped_column()
    closing_soon_sent: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    leader_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    leading_fen: Mapped[int | None] = mapped_column(Integer)
    leader_ceiling_fen: Mapped[int | None] = mapped_column(Integer)
    runner_up_fen: Mapped[int | None] = mapped_column(Integer)
    bids: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    acceptance_due_at: Mapped[datetime | None] = mapped_column()
    closed_at: Mapped[datetime | None] = mapped_column()
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class LotReport(Base):
    """A harvest report in a lot, whole. Kept when the lot ends unsold or cancelled, so a
    lot's farmers can be told and its history read; the report's status says where it is now."""

    __tablename__ = "lot_reports"

    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"), primary_key=True)
    report_id: Mapped[int] = mapped_column(
        ForeignKey("harvest_reports.id"), primary_key=True, index=True
    )
    farmer_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    grams: Mapped[int] = mapped_column(BigInteger)
    # At collection: the weighed grams (0 when the farmer did not deliver), who recorded them
    # and when; NULL until recorded. Payouts are for these grams, never the reported ones.
    weighed_grams: Mapped[int | None] = mapped_column(BigInteger)
    delivered: Mapped[bool | None] = mapped_column(Boolean)
    weighed_at: Mapped[datetime | None] = mapped_column()
    weighed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class CollectionStatus(enum.StrEnum):
    SCHEDULED = "scheduled"  # place and time set, weights being recorded
    COMPLETED = "completed"  # every contribution recorded, the merchant invoiced


class Collection(Base):
    """Where and when a sold lot is collected and weighed, and the invoice it ends with.

    One per sold lot. The invoice (and the price it used) is written once, at completion, in
    the transaction that schedules the farmers' payouts, so invoice and payouts reconcile."""

    __tablename__ = "collections"

    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"), primary_key=True)
    place: Mapped[str] = mapped_column(String(200))
    collect_at: Mapped[datetime] = mapped_column()
    status: Mapped[CollectionStatus] = mapped_column(
        _enum(CollectionStatus, "collection_status"), default=CollectionStatus.SCHEDULED
    )
    set_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    set_at: Mapped[datetime] = mapped_column(default=utcnow)
    price_fen: Mapped[int | None] = mapped_column(Integer)  # per kg, the winning price
    weighed_grams: Mapped[int | None] = mapped_column(BigInteger)
    invoice_fen: Mapped[int | None] = mapped_column(BigInteger)
    completed_at: Mapped[datetime | None] = mapped_column()
    completed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class PayoutStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    PAID = "paid"


class Payout(Base):
    """What one farmer is paid for one report in a collected lot, itemised.

    gross = the farmer's share of the invoice; fees = {fee name: fen}; net = gross - fees
    (+ corrections from resolved disputes, kept in `correction_fen`). `due_on` is the pay date
    in the programme's time zone; the reminder and the notices are keyed by the payout id."""

    __tablename__ = "payouts"
    __table_args__ = (
        UniqueConstraint("lot_id", "report_id", name="uq_payouts_lot_report"),
        Index("ix_payouts_status_due", "status", "due_on"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"), index=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("harvest_reports.id"))
    farmer_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    grams: Mapped[int] = mapped_column(BigInteger)  # weighed
    price_fen: Mapped[int] = mapped_column(Integer)  # per kg
    gross_fen: Mapped[int] = mapped_column(BigInteger)
    fees: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    net_fen: Mapped[int] = mapped_column(BigInteger)  # gross - fees, before corrections
    correction_fen: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    due_on: Mapped[date] = mapped_column(Date)
    status: Mapped[PayoutStatus] = mapped_column(
        _enum(PayoutStatus, "payout_status"), default=PayoutStatus.SCHEDULED
    )
    reminded: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    paid_at: Mapped[datetime | None] = mapped_column()
    paid_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reference: Mapped[str | None] = mapped_column(String(100))  # the transfer's id
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class DisputeStatus(enum.StrEnum):
    OPEN = "open"
    CORRECTED = "corrected"  # the payout was adjusted
    EXPLAINED = "explained"  # no change; the coordinator explained why


class PayoutDispute(Base):
    """A farmer's "this is wrong" on a payout, and how a coordinator resolved it."""

    __tablename__ = "payout_disputes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    payout_id: Mapped[int] = mapped_column(ForeignKey("payouts.id"), index=True)
    farmer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(String(1000))
    status: Mapped[DisputeStatus] = mapped_column(
        _enum(DisputeStatus, "dispute_status"), default=DisputeStatus.OPEN, index=True
    )
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column()
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    correction_fen: Mapped[int | None] = mapped_column(BigInteger)  # signed, added to net
    explanation: Mapped[str | None] = mapped_column(String(1000))


class LotBid(Base):
    """An accepted bid, in commit order (id). `price_fen` is a typed price, `maximum_fen` a
    proxy maximum; `leading_fen` and `leader_id` are the lot's standing right after it."""

    __tablename__ = "bids"
    __table_args__ = (Index("ix_bids_merchant_lot", "merchant_id", "lot_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"), index=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    price_fen: Mapped[int | None] = mapped_column(Integer)
    maximum_fen: Mapped[int | None] = mapped_column(Integer)
    leading_fen: Mapped[int] = mapped_column(Integer)
    leader_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    placed_at: Mapped[datetime] = mapped_column(default=utcnow)


class DialogueState(Base):
    """aiogram FSM state and data, one row per storage key."""

    __tablename__ = "dialogue_states"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    state: Mapped[str | None] = mapped_column(String(200))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(
        default=utcnow, onupdate=utcnow, server_default=func.now()
    )


class PriceSource(enum.StrEnum):
    COORDINATOR = "coordinator"  # typed with /setprice
    FEED = "feed"  # PRICE_FEED_URL, converted to CNY per kg (bot/price_feed.py)
    AUCTION = "auction"  # a lot's winning price: an observed market price


class PriceStatus(enum.StrEnum):
    LIVE = "live"  # in effect: the newest live price of a product and grade is the reference
    HELD = "held"  # moved more than PRICE_HOLD_PERCENT: waits for a coordinator, nobody told
    REJECTED = "rejected"  # a coordinator refused a held price; kept for the record


class Price(Base):
    """One price per kg of a product and grade (NULL: ungraded) at a moment: the history.

    Reference prices come from coordinators and the feed; auction prices are observations and
    never become the reference. `previous_fen` is the reference it replaced (the change shown
    on confirmation and in pushes)."""

    __tablename__ = "prices"
    __table_args__ = (Index("ix_prices_product_grade_observed", "product", "grade", "observed_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product: Mapped[Product] = mapped_column(_enum(Product, "product"))
    grade: Mapped[Grade | None] = mapped_column(_enum(Grade, "grade"))
    fen_per_kg: Mapped[int] = mapped_column(Integer)
    previous_fen: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[PriceSource] = mapped_column(_enum(PriceSource, "price_source"))
    status: Mapped[PriceStatus] = mapped_column(
        _enum(PriceStatus, "price_status"), default=PriceStatus.LIVE
    )
    observed_at: Mapped[datetime] = mapped_column(default=utcnow)
    set_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("lots.id"), unique=True)
    # What the feed said, for the record (the ICE price and rate it was converted from).
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class PriceFeedState(Base):
    """The price feed's health, one row per feed: an outage is told to coordinators once
    (`outage_told`), and retries back off from `next_attempt_at`."""

    __tablename__ = "price_feed_state"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    last_ok_at: Mapped[datetime | None] = mapped_column()
    failing_since: Mapped[datetime | None] = mapped_column()
    failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(String(500))
    next_attempt_at: Mapped[datetime | None] = mapped_column()
    outage_told: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")


class PricePush(Base):
    """A push of prices that went out: the daily digest of a local day (`day`) or an alert.
    The digest's row is written once per day by whichever process gets there first; alerts
    compare a price with the one last pushed for its product and grade (`fen_per_kg`)."""

    __tablename__ = "price_pushes"
    __table_args__ = (UniqueConstraint("kind", "day", name="uq_price_pushes_kind_day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # "digest" | "alert"
    day: Mapped[date | None] = mapped_column(Date)  # a digest's local day
    price_id: Mapped[int | None] = mapped_column(ForeignKey("prices.id"))
    pushed_at: Mapped[datetime] = mapped_column(default=utcnow)
    recipients: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The prices this push told, {"green/AA": fen, "cherry/-": fen}: what an alert compares with.
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ProcessedUpdate(Base):
    """Update ids already handled, so a redelivered update has no second effect."""

    __tablename__ = "processed_updates"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    processed_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class NoticeStatus(enum.StrEnum):
    PENDING = "pending"
    CLAIMED = "claimed"
    SENT = "sent"
    FAILED = "failed"
    DROPPED = "dropped"
    CANCELLED = "cancelled"


class Notice(Base):
    """One message to one user, written with its cause and delivered by the dispatcher."""

    __tablename__ = "notices"
    __table_args__ = (
        # Claims read pending notices in this order (bot/notices/claims.py): personal ones
        # first, then by due time, without sorting 100,000 pending broadcast notices.
        Index("ix_notices_due", "status", "priority", "next_attempt_at"),
        Index("ix_notices_broadcast_status", "broadcast_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    dedup_key: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[NoticeStatus] = mapped_column(
        _enum(NoticeStatus, "notice_status"), default=NoticeStatus.PENDING
    )
    broadcast_id: Mapped[int | None] = mapped_column(ForeignKey("broadcasts.id"))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Lower goes sooner: bot/outbox.py PERSONAL (0, the default) before BULK (broadcasts).
    priority: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    sent_at: Mapped[datetime | None] = mapped_column()


class BroadcastStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    SENDING = "sending"
    DONE = "done"
    CANCELLED = "cancelled"


class Broadcast(Base):
    """An announcement to an audience; its notices carry its id, its content lives here."""

    __tablename__ = "broadcasts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    audience: Mapped[dict[str, Any]] = mapped_column(JSON)
    texts: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    photo_file_id: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[BroadcastStatus] = mapped_column(
        _enum(BroadcastStatus, "broadcast_status"), index=True
    )
    scheduled_at: Mapped[datetime | None] = mapped_column()
    total: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    progress_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    progress_message_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()


class AuditAction(enum.StrEnum):
    PROMOTE = "promote"
    DEMOTE = "demote"
    APPROVE = "approve"
    REJECT = "reject"
    BROADCAST = "broadcast"
    SCHEDULE = "schedule"
    CANCEL = "cancel"
    VILLAGE_ADD = "village_add"
    VILLAGE_RENAME = "village_rename"
    LOT_OPEN = "lot_open"
    LOT_CLOSE = "lot_close"  # closed early
    LOT_CANCEL = "lot_cancel"
    SALE_ACCEPT = "sale_accept"
    SALE_REJECT = "sale_reject"
    COLLECTION_SET = "collection_set"
    COLLECTION_COMPLETE = "collection_complete"
    PAYOUT_PAID = "payout_paid"
    DISPUTE_RESOLVE = "dispute_resolve"
    EXPORT = "export"  # the programme's data exported as CSV (/export, farmgate export)
    PRICE_SET = "price_set"  # a reference price typed with /setprice
    PRICE_CONFIRM = "price_confirm"  # a held price confirmed
    PRICE_REJECT = "price_reject"  # a held price rejected


class AuditVia(enum.StrEnum):
    """Who acted: a coordinator in chat, the configuration at start, the operator's command."""

    CHAT = "chat"
    CONFIG = "config"
    CLI = "cli"
    SCHEDULER = "scheduler"  # a deadline passed (a sale nobody accepted in time)


class AuditEntry(Base):
    """One coordinator action, written by the service in the same transaction as the action.

    `details` keeps names as they were then (a company, a village's old and new name), so the
    log still reads right after later changes."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    via: Mapped[AuditVia] = mapped_column(_enum(AuditVia, "audit_via"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[AuditAction] = mapped_column(_enum(AuditAction, "audit_action"))
    subject_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    village_id: Mapped[int | None] = mapped_column(ForeignKey("villages.id"))
    broadcast_id: Mapped[int | None] = mapped_column(ForeignKey("broadcasts.id"))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    actor: Mapped[User | None] = relationship(foreign_keys=[actor_id], lazy="selectin")
    subject: Mapped[User | None] = relationship(foreign_keys=[subject_id], lazy="selectin")
