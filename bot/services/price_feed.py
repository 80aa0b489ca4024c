"""The price feed (PRICE_FEED_URL): fetched on a schedule, its prices stored as references.

A run is two steps. `fetch` reads and converts the feed with no transaction open (no network
wait while a write lock is held); `store` then writes what came of it in one transaction,
under the feed state's row lock (PostgreSQL; SQLite's write lock is taken when it begins), so
two processes fetching at once store each price once and tell coordinators once:

- prices: each one that differs from its reference is recorded (bot.services.prices.record);
  one that moved more than PRICE_HOLD_PERCENT is held, and every coordinator gets one notice
  with Confirm / Reject (keyed by the price). A price equal to its reference, or to what the
  feed said last (live, waiting for a coordinator, or rejected by one), is skipped: no history
  spam, no question asked twice, and a coordinator's own newer price stands until the feed
  moves. A held price the feed has since moved away from is superseded (rejected, nobody
  decided it).
- failures (timeout, HTTP error, malformed or absurd data) change no price. They count in the
  feed state and set the next attempt, backing off from a minute up to PRICE_FEED_MINUTES;
  the first failure of an outage tells every coordinator, and the first success after it
  tells them it is back. Both notices are keyed by the outage's start (`failing_since`), the
  one thing that names an outage: retries of it find the key taken.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import aiohttp
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot import price_feed
from bot.models import Price, PriceFeedState, PriceSource, PriceStatus, Role, User, utcnow
from bot.outbox import enqueue
from bot.price_feed import Conversion, Converted, FeedRejected
from bot.services import prices
from bot.services.prices import Key

log = logging.getLogger(__name__)

NAME = "default"  # the feed's row in price_feed_state (one feed)
FIRST_RETRY = timedelta(minutes=1)  # after the first failure; doubles up to PRICE_FEED_MINUTES
MAX_BODY = 1 << 20  # bytes: a feed is a few hundred; more is not a price feed

# Why a fetch failed (besides price_feed.MALFORMED and price_feed.ABSURD).
TIMEOUT = "timeout"
HTTP = "http"
NETWORK = "network"


@dataclass(frozen=True)
class FeedConfig:
    """The feed's settings (PRICE_FEED_*, PRICE_HOLD_PERCENT, the conversion's)."""

    url: str
    every: timedelta = timedelta(minutes=60)
    timeout: float = 10.0
    conversion: Conversion = field(default_factory=Conversion)
    hold_percent: Decimal = Decimal(15)

    @classmethod
    def from_settings(cls, settings: Any) -> FeedConfig | None:
        """None when no PRICE_FEED_URL is set: there is no feed."""
        if not settings.price_feed_url:
            return None
        return cls(
            url=settings.price_feed_url,
            every=timedelta(minutes=settings.price_feed_minutes),
            timeout=settings.price_feed_timeout_s,
            conversion=Conversion.from_settings(settings),
            hold_percent=settings.price_hold_percent,
        )


@dataclass(frozen=True)
class Failure:
    """Why a fetch gave no prices: `reason` (TIMEOUT, HTTP, NETWORK, MALFORMED, ABSURD),
    `detail` for the log, `facts` for the coordinators' notice (an HTTP status, an absurd
    value and its bounds)."""

    reason: str
    detail: str
    facts: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return f"{self.reason}: {self.detail}"[:500]


Fetched = dict[Key, Converted] | Failure


@dataclass
class Outcome:
    """What a run stored and told."""

    stored: list[Price] = field(default_factory=list)  # new rows, live or held
    skipped: int = 0  # prices equal to their reference or to the one waiting
    failure: Failure | None = None
    told: int = 0  # notices written
    next_attempt_at: datetime | None = None

    @property
    def held(self) -> list[Price]:
        return [p for p in self.stored if p.status == PriceStatus.HELD]


async def fetch(config: FeedConfig) -> Fetched:
    """Read the feed and convert it; a Failure instead of raising for what a feed can do."""
    try:
        body = await _get(config.url, config.timeout)
    except TimeoutError:
        return Failure(TIMEOUT, f"no answer within {config.timeout:g} s")
    except _HttpError as exc:
        return Failure(HTTP, f"HTTP {exc.status}", {"status": str(exc.status)})
    except FeedRejected as exc:
        return Failure(exc.reason, exc.detail)
    except (aiohttp.ClientError, OSError, ValueError) as exc:  # ValueError: a bad URL
        return Failure(NETWORK, f"{type(exc).__name__}: {exc}"[:300])
    try:
        return price_feed.convert(price_feed.parse(body), config.conversion)
    except FeedRejected as exc:
        return Failure(exc.reason, exc.detail, dict(exc.facts))


class _HttpError(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


async def _get(url: str, timeout: float) -> bytes:  # noqa: ASYNC109 (the feed's own timeout)
    """The body of a 200 answer, at most MAX_BODY bytes, within `timeout` seconds in all."""
    async with (
        asyncio.timeout(timeout),
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as http,
        http.get(url) as response,
    ):
        if response.status != 200:
            raise _HttpError(response.status)
        body = bytearray()
        async for chunk in response.content.iter_chunked(1 << 16):
            body += chunk
            if len(body) > MAX_BODY:
                raise FeedRejected(price_feed.MALFORMED, f"longer than {MAX_BODY} bytes")
        return bytes(body)


async def store(
    session: AsyncSession, fetched: Fetched, config: FeedConfig, now: datetime | None = None
) -> Outcome:
    """Write what a fetch gave, in the caller's transaction (see the module's docstring)."""
    now = now or utcnow()
    state = await locked_state(session)
    if isinstance(fetched, Failure):
        return await _failed(session, state, fetched, config, now)
    outcome = Outcome()
    for key, converted in sorted(fetched.items(), key=lambda item: item[0].code):
        price = await _record(session, key, converted, config, now)
        if price is None:
            outcome.skipped += 1
        else:
            outcome.stored.append(price)
    coordinators = await coordinator_ids(session)
    for price in outcome.held:
        payload = held_facts(price)
        for coordinator in coordinators:
            outcome.told += await enqueue(
                session, coordinator, "price_held", payload, f"price-held:{price.id}:{coordinator}"
            )
    if state.failing_since is not None and state.outage_told:
        payload = {"since": state.failing_since.isoformat(), "failures": state.failures}
        outage = outage_name(state.failing_since)
        for coordinator in coordinators:
            outcome.told += await enqueue(
                session,
                coordinator,
                "price_feed_up",
                payload,
                f"price-feed-up:{outage}:{coordinator}",
            )
    state.last_ok_at = now
    state.failing_since = None
    state.failures = 0
    state.last_error = None
    state.outage_told = False
    state.next_attempt_at = outcome.next_attempt_at = now + config.every
    return outcome


async def _record(
    session: AsyncSession, key: Key, converted: Converted, config: FeedConfig, now: datetime
) -> Price | None:
    """Record one price unless it says nothing new; None when skipped."""
    fen = converted.fen_per_kg
    said = await last_said(session, key)
    if said is not None and said.fen_per_kg == fen:
        # Nothing new from the feed: it is live already, waiting for a coordinator, or was
        # rejected (not asked again); a coordinator's newer price is not overridden by it.
        return None
    # The feed moved on: nobody is asked about an older price any more.
    for stale in await held(session, key):
        stale.status = PriceStatus.REJECTED
        stale.decided_at = now
        stale.details = {**stale.details, "superseded": True}
    current = await prices.reference(session, key)
    if current is not None and current.fen_per_kg == fen:
        return None
    return await prices.record(
        session,
        key,
        fen,
        PriceSource.FEED,
        at=now,
        hold_percent=config.hold_percent,
        details=converted.details,
    )


async def _failed(
    session: AsyncSession,
    state: PriceFeedState,
    failure: Failure,
    config: FeedConfig,
    now: datetime,
) -> Outcome:
    outcome = Outcome(failure=failure)
    if state.failing_since is None:
        state.failing_since = now
    state.failures += 1
    state.last_error = failure.text
    state.next_attempt_at = outcome.next_attempt_at = now + backoff(state.failures, config.every)
    if not state.outage_told:
        payload = {
            "since": state.failing_since.isoformat(),
            "reason": failure.reason,
            **failure.facts,
        }
        outage = outage_name(state.failing_since)
        for coordinator in await coordinator_ids(session):
            outcome.told += await enqueue(
                session,
                coordinator,
                "price_feed_down",
                payload,
                f"price-feed-down:{outage}:{coordinator}",
            )
        state.outage_told = True
    log.warning("price feed failed (%s in a row): %s", state.failures, failure.text)
    return outcome


def backoff(failures: int, every: timedelta) -> timedelta:
    """How long after the `failures`-th failure in a row the feed is tried again: a minute,
    doubling, never longer than the usual interval."""
    return min(every, FIRST_RETRY * 2 ** min(failures - 1, 20))


def outage_name(failing_since: datetime) -> str:
    """An outage's name in dedup keys: its first failure's moment, in UTC to the microsecond
    (the same however the database returned it)."""
    return failing_since.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")


def _insert(session: AsyncSession) -> Any:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


async def locked_state(session: AsyncSession) -> PriceFeedState:
    """The feed's state row, made if missing and locked until the transaction ends
    (PostgreSQL; SQLite holds its write lock already): runs of two processes take turns."""
    await session.execute(
        _insert(session)(PriceFeedState)
        .values(name=NAME, failures=0, outage_told=False)
        .on_conflict_do_nothing(index_elements=["name"])
    )
    state = await session.scalar(
        select(PriceFeedState)
        .where(PriceFeedState.name == NAME)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert state is not None
    return state


async def state(session: AsyncSession) -> PriceFeedState | None:
    """The feed's state as it is, unlocked (for the scheduler's next run time)."""
    return await session.get(PriceFeedState, NAME, populate_existing=True)


def next_run(current: PriceFeedState | None, every: timedelta, now: datetime) -> datetime:
    """When the feed is fetched next: at once the first time, at the state's next attempt
    (a retry, backing off), and while healthy no later than PRICE_FEED_MINUTES after the last
    success (a shorter interval configured since takes effect)."""
    if current is None or current.next_attempt_at is None:
        return now
    when = current.next_attempt_at
    if current.failing_since is None and current.last_ok_at is not None:
        when = min(when, current.last_ok_at + every)
    return when


async def last_said(session: AsyncSession, key: Key) -> Price | None:
    """The feed's newest price of `key`, whatever became of it."""
    return await session.scalar(
        select(Price)
        .where(prices.is_key(key), Price.source == PriceSource.FEED)
        .order_by(Price.observed_at.desc(), Price.id.desc())
        .limit(1)
    )


async def held(session: AsyncSession, key: Key) -> list[Price]:
    """Feed prices of `key` waiting for a coordinator, oldest first, locked."""
    rows = await session.scalars(
        select(Price)
        .where(
            prices.is_key(key),
            Price.status == PriceStatus.HELD,
            Price.source == PriceSource.FEED,
        )
        .order_by(Price.observed_at, Price.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return list(rows)


async def coordinator_ids(session: AsyncSession) -> list[int]:
    rows = await session.scalars(
        select(User.id).where(User.role == Role.COORDINATOR, User.blocked.is_(False))
    )
    return sorted(rows)


def held_facts(price: Price) -> dict[str, Any]:
    """What a held price's notice says: the price, the reference it would replace, the move."""
    change = prices.change_percent(price.previous_fen, price.fen_per_kg)
    return {
        "price_id": price.id,
        "product": price.product.value,
        "grade": price.grade.value if price.grade else None,
        "fen_per_kg": price.fen_per_kg,
        "previous_fen": price.previous_fen,
        "change": str(change) if change is not None else None,
        "observed_at": price.observed_at.isoformat(),
    }


async def run(sessionmaker: Any, config: FeedConfig) -> Outcome:
    """One run: fetch with no transaction open, then store in one transaction."""
    fetched = await fetch(config)
    async with sessionmaker() as session, session.begin():
        return await store(session, fetched, config)
