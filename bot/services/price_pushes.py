"""Price pushes (issue 10, docs/prices.md "Pushes"): the daily digest and price alerts.

Both go to subscribers: registered users who did not block the bot and kept the digest on
(users.price_digest; a merchant once approved, as for announcements), each about the products
and grades they deal in (bot.services.prices.board_keys: every priced one when none has a
price). Notices are BULK and held through the quiet hours (bot.quiet): `not_before` is the
end of them.

The digest of a local day is due from PRICE_DIGEST_TIME. Whoever sends it first inserts the
day's `price_pushes` row (unique per kind and day) in the same transaction as every notice:
a second process waits on that row's unique key and then finds it taken, a crash before the
commit leaves neither row nor notices (the next run, at start, sends it), and a restart finds
the row and sends nothing. A digest missed while the bot was down is sent at start while it
can still arrive the day it was meant for; one that the quiet hours would hold past midnight
(the bot came back at 22:00) is skipped: the next morning's digest says the same, newer.

An alert is sent when the reference price of a product and grade moved more than
PRICE_ALERT_PERCENT from what its last push told (the `details` of the last digest or
alert, {"green/AA": fen}). It is found by a scan of the reference prices, every minute and at
start, not by whoever stores a price: the scan needs nothing from /setprice, the feed or a
confirmed held price, and reads only the database, so a price stored while the bot was down,
or by another process, is found too. An alert locks its price row and records a push with the
price's id: two processes alert once per price.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.models import Price, PricePush, User
from bot.outbox import BULK, dialect_insert, enqueue_for
from bot.quiet import Quiet, next_allowed
from bot.services import prices
from bot.services.broadcasts import Audience
from bot.services.prices import Key, Line

DIGEST = "digest"
ALERT = "alert"
# Recipients per INSERT ... SELECT: an id list well within every driver's parameter limit.
CHUNK = 500


@dataclass(frozen=True)
class PushRules:
    """PRICE_DIGEST_TIME, TIMEZONE, QUIET_HOURS and PRICE_ALERT_PERCENT."""

    at: time = time(8, 0)
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    quiet: Quiet | None = (time(21, 0), time(7, 0))
    alert_percent: Decimal = Decimal(5)

    @classmethod
    def from_settings(cls, settings: Settings) -> PushRules:
        return cls(
            at=settings.digest_time,
            tz=settings.tz,
            quiet=settings.quiet,
            alert_percent=settings.price_alert_percent,
        )

    def on_time(self, day: date) -> datetime:
        """When the digest of local `day` is due."""
        return datetime.combine(day, self.at, tzinfo=self.tz)

    def release(self, now: datetime) -> datetime:
        """When a push made at `now` may be delivered: now, or the end of the quiet hours."""
        return next_allowed(now, self.quiet, self.tz)


def subscribers() -> Select[Any]:
    """Ids of the users pushes go to."""
    return select(User.id).where(Audience("all").condition(), User.price_digest.is_(True))


async def audience(session: AsyncSession) -> dict[int, list[Key]]:
    """Each subscriber and the keys they are shown (`prices.board_keys` for all of them in
    three queries); nobody when nothing has a price."""
    priced = await prices.priced_keys(session)
    if not priced:
        return {}
    dealt = await prices.dealt_keys(session, subscribers())
    return {
        user_id: prices.shown_keys(dealt.get(user_id, ()), priced)
        for user_id in await session.scalars(subscribers().order_by(User.id))
    }


async def _enqueue(
    session: AsyncSession,
    user_ids: Sequence[int],
    kind: str,
    payload: dict[str, Any],
    dedup_prefix: str,
    not_before: datetime,
) -> int:
    sent = 0
    for i in range(0, len(user_ids), CHUNK):
        chunk = user_ids[i : i + CHUNK]
        sent += await enqueue_for(
            session,
            select(User.id).where(User.id.in_(chunk)),
            kind,
            payload,
            dedup_prefix,
            priority=BULK,
            not_before=not_before,
        )
    return sent


# --- The daily digest ----------------------------------------------------------------------------


def digest_day(now: datetime, rules: PushRules) -> date | None:
    """The local day whose digest is due at `now`, or None: before PRICE_DIGEST_TIME, or so
    late that the quiet hours would hold it into a later day than it would have gone on time."""
    day = now.astimezone(rules.tz).date()
    on_time = rules.on_time(day)
    if now < on_time:
        return None
    late, due = rules.release(now), rules.release(on_time)
    if late.astimezone(rules.tz).date() > due.astimezone(rules.tz).date():
        return None
    return day


async def digest_sent(session: AsyncSession, day: date) -> bool:
    found = await session.scalar(
        select(PricePush.id).where(PricePush.kind == DIGEST, PricePush.day == day)
    )
    return found is not None


async def next_digest_at(session: AsyncSession, now: datetime, rules: PushRules) -> datetime:
    """When the digest job should run: today's digest time (perhaps past: missed while the
    bot was down, so at once) unless today's was sent or can no longer go; else tomorrow's."""
    today = now.astimezone(rules.tz).date()
    if now < rules.on_time(today) or (
        digest_day(now, rules) == today and not await digest_sent(session, today)
    ):
        return rules.on_time(today)
    return rules.on_time(today + timedelta(days=1))


def _line_json(line: Line) -> dict[str, Any]:
    return {
        "key": line.key.code,
        "fen": line.fen,
        "yesterday_fen": line.yesterday_fen,
        "auction_fen": line.auction_fen,
        "auction_at": line.auction_at.astimezone(UTC).isoformat() if line.auction_at else None,
    }


async def digest(session: AsyncSession, now: datetime, rules: PushRules) -> int:
    """Send today's digest if it is due and nobody sent it: one notice per subscriber with a
    line per key they are shown (each key's line computed once). Returns how many were
    written; 0 when not due or sent already. The caller commits (one transaction)."""
    day = digest_day(now, rules)
    if day is None:
        return 0
    claimed = await session.scalar(
        dialect_insert(session)(PricePush)
        .values(kind=DIGEST, day=day, pushed_at=now, recipients=0, details={})
        .on_conflict_do_nothing(index_elements=["kind", "day"])
        .returning(PricePush.id)
    )
    if claimed is None:
        return 0
    lines = {
        key: await prices.line(session, key, now=now, tz=rules.tz)
        for key in await prices.priced_keys(session)
    }
    groups: dict[tuple[Key, ...], list[int]] = {}
    for user_id, shown in (await audience(session)).items():
        groups.setdefault(tuple(shown), []).append(user_id)
    sent = 0
    for keys, user_ids in groups.items():
        payload = {"day": day.isoformat(), "lines": [_line_json(lines[k]) for k in keys]}
        sent += await _enqueue(
            session,
            user_ids,
            "price_digest",
            payload,
            f"price-digest:{day.isoformat()}:",
            rules.release(now),
        )
    told = {key.code: line.fen for key, line in lines.items() if line.fen is not None}
    await session.execute(
        update(PricePush).where(PricePush.id == claimed).values(recipients=sent, details=told)
    )
    return sent


# --- Alerts --------------------------------------------------------------------------------------


async def last_told(session: AsyncSession) -> dict[str, int]:
    """What the pushes last told of each key, {"green/AA": fen}: the newest alert of a key,
    else the last digest (which tells every priced key). Reads the pushes since that digest."""
    since = await session.scalar(select(func.max(PricePush.id)).where(PricePush.kind == DIGEST))
    rows = await session.scalars(
        select(PricePush.details).where(PricePush.id >= (since or 0)).order_by(PricePush.id.desc())
    )
    told: dict[str, int] = {}
    for details in rows:
        for code, fen in (details or {}).items():
            told.setdefault(code, int(fen))
    return told


async def _claim_alert(session: AsyncSession, price: Price) -> bool:
    """Lock the price row, then check nobody alerted it: a second process waits for the
    first's commit and finds its push (SQLite: one writer at a time)."""
    await session.execute(select(Price.id).where(Price.id == price.id).with_for_update())
    done = await session.scalar(
        select(PricePush.id).where(PricePush.kind == ALERT, PricePush.price_id == price.id)
    )
    return done is None


async def alerts(session: AsyncSession, now: datetime, rules: PushRules) -> int:
    """Alert the subscribers shown a key whose reference price moved more than
    PRICE_ALERT_PERCENT from what they were last told (a key never pushed has nothing to
    move from: the next digest tells it). Once per price; returns how many notices were
    written. The caller commits."""
    told = await last_told(session)
    moved = sorted(
        (
            price
            for key, price in (await prices.references(session)).items()
            if prices.moved_beyond(told.get(key.code), price.fen_per_kg, rules.alert_percent)
        ),
        key=lambda p: p.id,
    )
    if not moved:
        return 0
    shown = await audience(session)
    sent = 0
    for price in moved:
        if not await _claim_alert(session, price):
            continue
        key = prices.key_of(price)
        payload = {
            "key": key.code,
            "fen": price.fen_per_kg,
            "told_fen": told[key.code],
            "at": price.observed_at.astimezone(UTC).isoformat(),
        }
        recipients = [user_id for user_id, keys in shown.items() if key in keys]
        written = await _enqueue(
            session,
            recipients,
            "price_alert",
            payload,
            f"price-alert:{price.id}:",
            rules.release(now),
        )
        session.add(
            PricePush(
                kind=ALERT,
                price_id=price.id,
                pushed_at=now,
                recipients=written,
                details={key.code: price.fen_per_kg},
            )
        )
        sent += written
    await session.flush()
    return sent
