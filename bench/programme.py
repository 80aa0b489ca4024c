"""The whole programme through the bot: ``python bench/programme.py [--quick]``.

Plays the real programme farmgate is modelled on (Baoshan, Yunnan: 792 farmers, 42 t of
coffee, six merchants, a month) as its people would, through the real bot (build_app, long
polling) and the Bot API emulator (tests/emulator): every step is an update a user sends (a
typed message, a shared contact, a pressed button) and the bot's replies are read back from
their chats before the next step. Nothing is written to the database from here; it is only
read (the new lots' numbers, the reported grams a scale reading is near, and at the end to
reconcile).

1. Two coordinators (COORDINATOR_IDS) add the villages Conggang and Nankang.
2. The farmers register (language, role, name, phone contact, village, the daily prices:
   yes or no), many at once, and each reports one harvest of parchment typed in mixed units
   (``52 kg``, ``53公斤``, ``0.061吨``, ``104斤``; sizes spread around 53 kg, seeded, about
   42 t in all).
3. Six merchants apply; a coordinator approves them.
4. Each coordinator opens auctions on a village's pool, cut into ~5 t lots (1 t with
   ``--quick``); the farmers are told their coffee is up for sale.
5. Merchants bid on every lot from its new-lot notice: a quick bid at the reserve, a typed
   price, or a proxy maximum (three of the six bid by proxy, and are outbid-then-raised by
   the system); the coordinator closes each lot early, so every lot is sold.
6. Collection: the coordinator sets a place and time for each lot, records the weighed kilograms
   of each report (slightly different from the reports, seeded), and completes it: the merchant's
   invoice and the farmers' collection and payout-scheduled notices.
7. The bot is stopped and started again (as `farmgate run` would be; the emulator keeps the
   chats), and a coordinator marks the payouts paid with /due: three one by one, each with its
   transfer reference, then all the others at once with one (PAYOUT_DAYS=0: due at once).
8. Reconciled from the database and the chats: the farmers' gross shares equal the invoices to
   the fen, and each farmer's chat holds exactly one sold, one collection, one payout-scheduled
   and one paid notice.

Runs on SQLite (a file in a temporary folder) or PostgreSQL (``--postgres``: a scratch
database on FARMGATE_TEST_POSTGRES_URL, created and dropped; ``--database-url`` another one).
NOTICE_RATE is 1,000 (Telegram's paid broadcasts; ``--notice-rate 30`` for the free limit,
which replies share): at 30 a second the five notices of each of 792 farmers alone would take
over two minutes. ``--concurrency`` farmers are in the middle of their dialogues at once.
``--quick`` plays 40 farmers and the same six merchants (tests/test_programme.py runs it on
both databases). Human-readable
progress lines first; the last line is one JSON object: farmers, merchants, lots_sold,
kg_sold, invoices_fen, payouts_gross_fen, reconciled, wall_s and more.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import random
import re
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

if __package__ in (None, ""):  # run as a script: make the checkout importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select

from bench.updates import TOKEN, farmgate, scratch_postgres
from bot import migrate
from bot.app import App
from bot.config import REPO_ROOT
from bot.db import make_engine, make_sessionmaker
from bot.formatting import schedule_example
from bot.i18n import make_i18n
from bot.models import (
    Collection,
    Lot,
    LotReport,
    LotStatus,
    Payout,
    PayoutStatus,
    Role,
    User,
    utcnow,
)
from handlers.callbacks import (
    AuctionCb,
    ChoiceCb,
    CollectCb,
    DigestAnswerCb,
    LotCb,
    PayoutCb,
    QuickBidCb,
    SummaryCb,
    VillageAdminCb,
)
from tests.e2e.flows import WORDS
from tests.emulator import BotApiEmulator, BotMessage, UserChat

log = logging.getLogger("bench.programme")

VILLAGES = ("Conggang", "Nankang")
COORDINATORS = (9001, 9002)  # one for each village; the first adds both villages
FARMER_IDS = 700_000
MERCHANT_IDS = 800_000
RESERVE_FEN = 2_200  # CNY 22.00 a kg of parchment: the default reserve button
INCREMENT_FEN = 10
STEP_TIMEOUT = 60.0  # seconds for one reply, under the load of hundreds of users at once
NOTICES_TIMEOUT = 600.0  # seconds for a notice to reach every farmer

Predicate = Callable[[BotMessage], object]


# ---------------------------------------------------------------- the cast


@dataclass(frozen=True)
class Farmer:
    tid: int
    name: str
    lang: str
    village: str
    typed: str  # the quantity as typed, with its unit
    grams: int  # what the bot should read from it


@dataclass(frozen=True)
class Merchant:
    tid: int
    company: str
    contact: str
    lang: str
    proxy: bool  # bids with a maximum the system bids up to, rather than typed prices


@dataclass
class Plan:
    farmers: list[Farmer]
    merchants: list[Merchant]
    lot_kg: int
    seed: int

    @property
    def reported_grams(self) -> int:
        return sum(f.grams for f in self.farmers)


SURNAMES = "李王张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀英华平刚桂兰"
COMPANIES = (
    ("保山咖啡贸易有限公司", "zh", "sales@bscoffee.cn"),
    ("Yunnan Green Bean Co.", "en", "+86 871 6512 3456"),
    ("隆阳精品咖啡", "zh", "13908751234"),
    ("Mekong Roasters Ltd", "en", "buying@mekongroasters.com"),
    ("普洱高原咖啡合作社", "zh", "13577012345"),
    ("滇西咖啡收购站", "zh", "13887512345"),
)


def typed_quantity(kg: int, rng: random.Random) -> tuple[str, int]:
    """A harvest of about `kg` as a farmer might type it: kg, 公斤, 斤 or 吨, and its grams."""
    unit = rng.choices(["kg", "公斤", "斤", "吨"], weights=[35, 30, 25, 10])[0]
    if unit == "斤":
        jin = max(2, kg * 2 + rng.choice([-1, 0, 0, 1]))
        return f"{jin}斤", jin * 500
    if unit == "吨":
        return f"{kg / 1000:.3f}".rstrip("0").rstrip(".") + "吨", kg * 1000
    if unit == "kg":
        return rng.choice([f"{kg} kg", f"{kg}kg", f"{kg} KG"]), kg * 1000
    return f"{kg}公斤", kg * 1000


def make_plan(farmers: int, total_kg: int, lot_kg: int, seed: int = 2024) -> Plan:
    """Deterministic people and harvests: sizes spread around the mean (log-normal, 5 to
    400 kg), scaled so that they add up to about `total_kg`."""
    rng = random.Random(seed)
    raw = [rng.lognormvariate(0, 0.55) for _ in range(farmers)]
    scale = total_kg / sum(raw)
    cast = []
    for index, weight in enumerate(raw):
        kg = min(400, max(5, round(weight * scale)))
        typed, grams = typed_quantity(kg, rng)
        lang = "en" if index % 10 == 9 else "zh"  # a few read English
        name = rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.choice([1, 2])))
        cast.append(Farmer(FARMER_IDS + index, name, lang, VILLAGES[index % 2], typed, grams))
    merchants = [
        Merchant(MERCHANT_IDS + i, company, contact, lang, proxy=i % 2 == 0)
        for i, (company, lang, contact) in enumerate(COMPANIES)
    ]
    return Plan(cast, merchants, lot_kg, seed)


# ---------------------------------------------------------------- talking to the bot


def with_button(data: str) -> Predicate:
    return lambda m: data in m.callback_datas


def with_buttons_like(prefix: str) -> Predicate:
    return lambda m: any(d and d.startswith(prefix) for d in m.callback_datas)


def decided(card: BotMessage) -> Predicate:
    """The card itself, its buttons replaced by the outcome."""
    return lambda m: m is card and not m.inline_keyboard


def asks_contact(m: BotMessage) -> bool:
    return bool(m.reply_keyboard and m.reply_keyboard[0][0].request_contact)


def shows_menu(m: BotMessage) -> bool:
    return m.reply_keyboard is not None


def redrawn(screen: BotMessage) -> Predicate:
    """The same message, edited once more (a screen redrawn in place)."""
    edits = screen.edits
    return lambda m: m is screen and m.edits > edits


def containing(*parts: str) -> Predicate:
    return lambda m: all(p in m.text for p in parts)


async def exchange(
    chat: UserChat,
    action: Awaitable[object],
    until: Predicate,
    within: float = STEP_TIMEOUT,
    edited: bool = False,
) -> BotMessage:
    """Do `action` (a send or press of `chat`), then wait for a new message of the bot in this
    chat (or, with `edited`, one edited since) that satisfies `until` (notices may arrive in
    between)."""
    start = len(chat.messages)
    edits = {m.message_id: m.edits for m in chat.messages}
    await action

    def found(c: UserChat) -> BotMessage | None:  # None: not yet
        for m in c.messages[start:]:
            if until(m):
                return m
        for m in c.messages[:start] if edited else []:
            if m.edits != edits.get(m.message_id) and until(m):
                return m
        return None

    message = await chat.wait_for(found, within)  # type: ignore[arg-type]
    assert message is not None
    return message


class Words:
    """The bot's own words in each language (its catalogs), to recognise notices and labels."""

    def __init__(self) -> None:
        self.i18n = make_i18n(REPO_ROOT / "locales", "zh")

    def __call__(self, msgid: str, lang: str) -> str:
        return self.i18n.gettext(msgid, locale=lang)

    def mark(self, msgid: str, lang: str) -> str:
        """The longest fixed part of a message (between its placeholders): how a notice of
        this kind is recognised in a chat, whatever it says of its lot."""
        return max(re.split(r"\{[^}]*\}", self(msgid, lang)), key=len).strip()

    def lot(self, lot_id: int, lang: str) -> str:
        return self("Lot #{id}", lang).format(id=lot_id)


# The farmers' notices counted at the end (msgids as in the handlers; several when the
# wording changed), recognised in each farmer's language.
SOLD = (
    "✅ Sold! {lot} ({title}) was sold at {price}. Your share: {farmer_kg}, about "
    "{farmer_value} before fees. We will tell you when and where to bring it; you are "
    "paid for the weight measured there."
)
COLLECTION = (
    "📍 Bring your coffee of {lot} ({title}, {farmer_kg}) to {place}, {collect_at}. "
    "It is weighed there, and you are paid for the weighed kilograms.",
)
PAYOUT_SCHEDULED = ("💴 Your payout for report #{number} in {lot} is scheduled for {day}.",)
PAID = (
    "✅ Paid: {amount} for {lot} was sent to you. Transfer reference: {reference}. "
    "If it has not arrived in a few days, tell the cooperative.",
)


# ---------------------------------------------------------------- the programme


class Programme:
    """The people's chats with the running bot, and the steps they take in order."""

    def __init__(
        self,
        emulator: BotApiEmulator,
        database_url: str,
        plan: Plan,
        concurrency: int,
        notice_rate: float,
        coordinators: tuple[int, ...] = COORDINATORS,
    ) -> None:
        self.emu = emulator
        self.url = database_url
        self.plan = plan
        self.concurrency = concurrency
        self.notice_rate = notice_rate
        self.words = Words()
        self.started = time.monotonic()
        self.lot_ids: list[int] = []
        self.opened_by: dict[int, list[int]] = {}  # coordinator -> the lots they opened
        self.coordinators = [self.emu.user(tid, language_code="en") for tid in coordinators]

    def chat(self, tid: int, lang: str = "zh") -> UserChat:
        return self.emu.user(tid, language_code=lang)

    @contextlib.asynccontextmanager
    async def bot(self) -> AsyncIterator[App]:
        """The bot as `farmgate run` builds it; leaving stops it (its process would end)."""
        async with farmgate(
            self.emu.base_url,
            self.url,
            coordinator_ids=frozenset(c.id for c in self.coordinators),
            notice_rate=self.notice_rate,
            lot_sizes_kg=(self.plan.lot_kg,),
            payout_days=0,  # due the day the collection completes (7 by default): /due lists them
        ) as app:
            yield app

    def progress(self, line: str) -> None:
        elapsed = time.monotonic() - self.started
        print(f"[{elapsed:6.1f} s] {line}", flush=True)

    async def everyone(
        self, people: list[Any], play: Callable[[Any], Awaitable[None]], what: str
    ) -> None:
        """Many people at once (at most `concurrency` in the middle of a dialogue), as a
        village's farmers do after a meeting; progress every tenth."""
        gate = asyncio.Semaphore(self.concurrency)
        done = 0
        step = max(1, len(people) // 10)

        async def one(person: Any) -> None:
            nonlocal done
            async with gate:
                await play(person)
            done += 1
            if done % step == 0 and done < len(people):
                self.progress(f"  {done} of {len(people)} {what}")

        await asyncio.gather(*(one(p) for p in people))

    # ------------------------------------------------------------ 1. villages

    async def coordinators_start(self) -> None:
        for chat in self.coordinators:
            await exchange(chat, chat.send("/start"), lambda m: bool(m.inline_keyboard))
            await exchange(chat, chat.press("English"), lambda m: m.reply_keyboard is not None)

    async def add_villages(self) -> None:
        chat = self.coordinators[0]
        for name in VILLAGES:
            add = VillageAdminCb(action="add").pack()
            listing = await exchange(chat, chat.send("/villages"), with_button(add))
            await exchange(
                chat, chat.press(callback_data=add, message=listing), containing("/cancel")
            )
            await exchange(chat, chat.send(name), containing("✅", name))
        self.progress(f"villages added by coordinator {chat.id}: {', '.join(VILLAGES)}")

    # ------------------------------------------------------------ 2. farmers

    async def farmer_joins(self, farmer: Farmer) -> None:
        """Registration and one harvest report, as tests/e2e/flows.py's register_farmer and
        report_parchment tap them, with a wait for each reply fit for hundreds at once (theirs
        is a test's 5 s) and the farmer's own phone number."""
        chat = self.chat(farmer.tid, farmer.lang)
        chat.update_profile(first_name=farmer.name)
        w = WORDS[farmer.lang]
        await exchange(chat, chat.send("/start"), with_buttons_like("lang:"))
        await exchange(chat, chat.press(w["language"]), with_buttons_like("role:"))
        await exchange(chat, chat.press(w["farmer"]), lambda m: m.remove_keyboard)
        await exchange(chat, chat.send(farmer.name), asks_contact)
        villages = await exchange(chat, chat.send_contact(chat.phone), with_buttons_like("vil:"))
        digest = await exchange(
            chat, chat.press(farmer.village, message=villages), with_buttons_like("dgst:")
        )
        # The daily prices: most say yes (the default, the first button), some no.
        want = DigestAnswerCb(want=farmer.tid % 5 != 0).pack()
        await exchange(chat, chat.press(callback_data=want, message=digest), shows_menu)
        await exchange(chat, chat.send(w["report"]), with_buttons_like("hv:product:"))
        for question, answer, then in (
            ("product", "parchment", "hv:process:"),
            ("process", "washed", "hv:variety:"),
            ("variety", "catimor", SummaryCb(action="cancel").pack()),
        ):
            data = ChoiceCb(field=question, value=answer).pack()
            await exchange(chat, chat.press(callback_data=data), with_buttons_like(then))
        confirm = SummaryCb(action="confirm").pack()
        summary = await exchange(chat, chat.send(farmer.typed), with_button(confirm))
        await exchange(  # "✅ Report #1 is saved", with the menu again
            chat, chat.press(callback_data=confirm, message=summary), shows_menu
        )

    async def farmers_join(self) -> None:
        await self.everyone(self.plan.farmers, self.farmer_joins, "farmers registered and reported")
        tonnes = self.plan.reported_grams / 1e6
        self.progress(f"{len(self.plan.farmers)} farmers registered and reported {tonnes:,.3f} t")

    # ------------------------------------------------------------ 3. merchants

    async def merchant_applies(self, merchant: Merchant) -> None:
        chat = self.chat(merchant.tid, merchant.lang)
        w = WORDS[merchant.lang]
        await exchange(chat, chat.send("/start"), lambda m: bool(m.inline_keyboard))
        await exchange(chat, chat.press(w["language"]), lambda m: bool(m.inline_keyboard))
        await exchange(chat, chat.press(w["merchant"]), lambda m: m.remove_keyboard)
        await exchange(chat, chat.send(merchant.company), lambda m: m.reply_keyboard is not None)
        digest = await exchange(chat, chat.send(merchant.contact), with_buttons_like("dgst:"))
        await exchange(
            chat,
            chat.press(callback_data=DigestAnswerCb(want=True).pack(), message=digest),
            containing(merchant.company),
        )

    async def merchants_approved(self) -> None:
        for merchant in self.plan.merchants:
            await self.merchant_applies(merchant)
        chat = self.coordinators[0]
        await exchange(chat, chat.send("/approve"), containing(self.plan.merchants[-1].company))
        cards = [m for m in chat.messages if with_buttons_like("appr:yes:")(m)]
        for merchant in self.plan.merchants:
            card = next(m for m in reversed(cards) if merchant.company in m.text)
            yes = next(d for d in card.callback_datas if d and d.startswith("appr:yes:"))
            await exchange(
                chat,
                chat.press(callback_data=yes, message=card),
                decided(card),
                edited=True,
            )
        for merchant in self.plan.merchants:
            await self.chat(merchant.tid).wait_for(  # "✅ Your merchant account is approved"
                lambda c: any("/lots" in m.text and "✅" in m.text for m in c.messages),
                STEP_TIMEOUT,
            )
        self.progress(f"{len(self.plan.merchants)} merchants applied and were approved")

    # ------------------------------------------------------------ 4. auctions

    async def open_auctions(self) -> None:
        for index, village in enumerate(VILLAGES):  # each village by a coordinator of its own
            chat = self.coordinators[index % len(self.coordinators)]
            before = set(await self.open_lot_ids())
            pools = await exchange(chat, chat.send("/pools"), with_buttons_like("pool:"))
            button = next(
                b.callback_data
                for row in pools.inline_keyboard
                for b in row
                if b.callback_data and b.callback_data.startswith("pool:") and village in b.text
            )
            size = str(self.plan.lot_kg)
            sizes = await exchange(
                chat,
                chat.press(callback_data=button, message=pools),
                with_buttons_like("auc:size:"),
            )
            if AuctionCb(action="size", value=size).pack() not in sizes.callback_datas:
                size = "all"  # a pool smaller than a lot is sold whole
            steps = [
                (AuctionCb(action="size", value=size), "auc:reserve:"),
                (AuctionCb(action="reserve", value=str(RESERVE_FEN)), "auc:increment:"),
                (AuctionCb(action="increment", value=str(INCREMENT_FEN)), "auc:hours:"),
                (AuctionCb(action="hours", value="24"), "auc:accept:"),
                (AuctionCb(action="accept", value="auto"), "auc:confirm"),
            ]
            message = sizes
            for data, next_question in steps:
                message = await exchange(
                    chat,
                    chat.press(callback_data=data.pack(), message=message),
                    with_buttons_like(next_question),
                )
            await exchange(
                chat,
                chat.press(callback_data=AuctionCb(action="confirm").pack(), message=message),
                lambda m: "✅" in m.text and not m.inline_keyboard,
            )
            opened = sorted(set(await self.open_lot_ids()) - before)
            self.opened_by.setdefault(chat.id, []).extend(opened)
        self.lot_ids = await self.open_lot_ids()
        self.progress(f"{len(self.lot_ids)} lots opened on the two pools: #{self.lot_ids}")

    async def open_lot_ids(self) -> list[int]:
        engine = make_engine(self.url)
        try:
            async with make_sessionmaker(engine)() as session:
                return list(await session.scalars(select(Lot.id).order_by(Lot.id)))
        finally:
            await engine.dispose()

    # ------------------------------------------------------------ 5. bidding

    async def lot_card(self, merchant: Merchant, lot_id: int) -> BotMessage:
        """The lot's card, from its new-lot notice's "See the lot" button."""
        chat = self.chat(merchant.tid)
        see = LotCb(action="card", lot_id=lot_id).pack()
        notice = await chat.wait_for(
            lambda c: next((m for m in c.messages if see in m.callback_datas), None), STEP_TIMEOUT
        )
        return await exchange(
            chat,
            chat.press(callback_data=see, message=notice),
            with_button(LotCb(action="max", lot_id=lot_id).pack()),
        )

    async def bid(self, merchant: Merchant, lot_id: int, fen: int, how: str) -> BotMessage:
        """One bid on the lot's card: "quick" (a price button), "typed" or "proxy"."""
        chat = self.chat(merchant.tid)
        card = await self.lot_card(merchant, lot_id)
        name = self.words.lot(lot_id, merchant.lang)
        if how == "quick":
            return await exchange(
                chat,
                chat.press(callback_data=QuickBidCb(lot_id=lot_id, price=fen).pack(), message=card),
                containing(name, "✅"),
            )
        action = "max" if how == "proxy" else "bid"
        await exchange(
            chat,
            chat.press(callback_data=LotCb(action=action, lot_id=lot_id).pack(), message=card),
            containing(name, "/cancel"),
        )
        return await exchange(
            chat,
            chat.send(f"{fen / 100:.2f}"),
            lambda m: name in m.text and "/cancel" not in m.text,
        )

    async def sell(self, index: int, lot_id: int) -> None:
        """Bids on one lot, then the coordinator closes it: its winner is `index`'s merchant."""
        merchants = self.plan.merchants
        winner = merchants[index % len(merchants)]
        rival = merchants[(index + 1) % len(merchants)]
        rng = random.Random(self.plan.seed * 1000 + lot_id)
        await self.bid(rival, lot_id, RESERVE_FEN, "quick")
        top = RESERVE_FEN + rng.randrange(5, 40) * INCREMENT_FEN
        if winner.proxy:
            await self.bid(winner, lot_id, top, "proxy")
            # The rival tries once more, under the maximum: the system raises the winner.
            await self.bid(rival, lot_id, top - 5 * INCREMENT_FEN, "typed")
        else:
            await self.bid(winner, lot_id, top, "typed")

    async def close_lot(self, lot_id: int) -> None:
        """/auctions, the lot's "⏹ Close now", "⏹ Yes, close it now" (the card asks in place)."""
        chat = self.coordinators[0]
        close = LotCb(action="close", lot_id=lot_id).pack()
        yes = LotCb(action="close_yes", lot_id=lot_id).pack()
        card = await exchange(chat, chat.send("/auctions"), with_button(close))
        await exchange(
            chat, chat.press(callback_data=close, message=card), with_button(yes), edited=True
        )
        await exchange(
            chat,
            chat.press(callback_data=yes, message=card),
            lambda m: m is card and yes not in m.callback_datas,
            edited=True,
        )

    async def auctions(self) -> None:
        for index, lot_id in enumerate(self.lot_ids):
            await self.sell(index, lot_id)
        self.progress(f"{len(self.lot_ids)} lots bid on by {len(self.plan.merchants)} merchants")
        for lot_id in self.lot_ids:
            await self.close_lot(lot_id)
        await self.every_farmer_told(SOLD, "sold")

    async def every_farmer_told(
        self, msgids: str | tuple[str, ...], what: str, farmers: list[Farmer] | None = None
    ) -> None:
        """Wait until each farmer's chat (of `farmers`, default all) holds the notice (the
        outbox sends at NOTICE_RATE). Looked at five times a second, not on every message
        (hundreds of chats), and a farmer once told is not looked at again."""
        kinds = (msgids,) if isinstance(msgids, str) else msgids
        marks = {lang: [self.words.mark(m, lang) for m in kinds] for lang in ("zh", "en")}
        told = self.plan.farmers if farmers is None else farmers
        waiting = {f.tid: (self.chat(f.tid), marks[f.lang]) for f in told}
        deadline = time.monotonic() + NOTICES_TIMEOUT
        while True:
            for tid, (chat, chat_marks) in list(waiting.items()):
                if any(mark in m.text for m in reversed(chat.messages) for mark in chat_marks):
                    del waiting[tid]
            if not waiting:
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"no {what} notice for farmers {sorted(waiting)[:20]}")
            await asyncio.sleep(0.2)
        self.progress(f"every farmer has the {what} notice")

    # ------------------------------------------------------------ 6. collection

    def weighed(self, farmer_tid: int, reported_g: int) -> str | None:
        """What the scale shows for a farmer's report, as the coordinator types it; None: as
        reported (the ✓ button). Seeded: a third as reported, the rest within a few percent."""
        rng = random.Random(self.plan.seed * 7919 + farmer_tid)
        if rng.random() < 0.35:
            return None
        grams = round(reported_g * (1 + max(-0.06, min(0.06, rng.gauss(0, 0.02)))), -2)
        kg = f"{max(grams, 500) / 1000:.1f}"
        return rng.choice([f"{kg} kg", f"{kg}公斤", f"{kg}kg"])

    async def collect(
        self, chat: UserChat, lot_id: int, reported: dict[int, tuple[int, int]]
    ) -> None:
        """/collect, the lot's "📦 Collection": place, time, each report weighed (✓ as reported
        or ✏️ typed), page by page, then "✅ Complete collection" and "✅ Yes, complete it"."""

        def cb(action: str, report_id: int = 0, page: int = 0) -> str:
            return CollectCb(action=action, lot_id=lot_id, report_id=report_id, page=page).pack()

        cancel = CollectCb(action="cancel", lot_id=0).pack()
        card = await exchange(chat, chat.send("/collect"), with_button(cb("open")))
        await exchange(
            chat, chat.press(callback_data=cb("open"), message=card), with_button(cancel)
        )
        await exchange(chat, chat.send("Village school yard"), with_button(cancel))
        when = schedule_example(utcnow(), ZoneInfo("Asia/Shanghai"))
        screen = await exchange(chat, chat.send(when), with_buttons_like("col:ok:"))
        page = 0
        while True:
            for data in [d for d in screen.callback_datas if d and d.startswith("col:ok:")]:
                report_id = CollectCb.unpack(data).report_id
                typed = self.weighed(*reported[report_id])
                if typed is None:
                    await exchange(
                        chat,
                        chat.press(callback_data=data, message=screen),
                        redrawn(screen),
                        edited=True,
                    )
                    continue
                await exchange(
                    chat,
                    chat.press(callback_data=cb("type", report_id, page), message=screen),
                    with_button(cancel),
                )
                screen = await exchange(chat, chat.send(typed), with_buttons_like("col:ok:"))
            if cb("page", page=page + 1) in screen.callback_datas:
                page += 1
                await exchange(
                    chat,
                    chat.press(callback_data=cb("page", page=page), message=screen),
                    redrawn(screen),
                    edited=True,
                )
                continue
            break
        complete, yes = cb("complete", page=page), cb("complete_yes")
        assert complete in screen.callback_datas, chat.transcript()
        await exchange(
            chat, chat.press(callback_data=complete, message=screen), with_button(yes), edited=True
        )
        await exchange(
            chat, chat.press(callback_data=yes, message=screen), redrawn(screen), edited=True
        )

    async def collection(self) -> None:
        """Each lot collected by the coordinator who opened it, the two at once."""
        reported = await self.reported_grams()

        async def coordinator(chat: UserChat, lots: list[int]) -> None:
            for lot_id in lots:
                await self.collect(chat, lot_id, reported)

        await asyncio.gather(
            *(coordinator(self.chat(tid), lots) for tid, lots in self.opened_by.items())
        )
        self.progress(f"{len(self.lot_ids)} lots collected and weighed; invoices sent")
        await self.every_farmer_told(COLLECTION, "collection")
        await self.every_farmer_told(PAYOUT_SCHEDULED, "payout-scheduled")

    async def reported_grams(self) -> dict[int, tuple[int, int]]:
        """Each sold report's farmer and reported grams (read only to type a weight near it)."""
        engine = make_engine(self.url)
        try:
            async with make_sessionmaker(engine)() as session:
                rows = await session.execute(
                    select(LotReport.report_id, User.telegram_id, LotReport.grams).join(
                        User, User.id == LotReport.farmer_id
                    )
                )
                return {int(r): (int(t), int(g)) for r, t, g in rows.all()}
        finally:
            await engine.dispose()

    # ------------------------------------------------------------ 7. payouts

    async def pay(self) -> None:
        """/due: the first few paid one by one ("✅ #12 paid", a reference each), then "✅ Mark
        all due paid" with one reference for the rest."""

        chat = self.coordinators[0]
        for _ in range(3):
            due = await exchange(chat, chat.send("/due"), with_buttons_like("pay:"))
            one = next(d for d in due.callback_datas if d and d.startswith("pay:paid:"))
            await exchange(chat, chat.press(callback_data=one, message=due), containing("/cancel"))
            payout = PayoutCb.unpack(one).payout_id
            await exchange(
                chat, chat.send(f"WX2026{payout:08d}"), containing("✅", f"#{payout}", "WX2026")
            )
        due = await exchange(chat, chat.send("/due"), with_buttons_like("pay:all:"))
        every = next(d for d in due.callback_datas if d and d.startswith("pay:all:"))
        await exchange(chat, chat.press(callback_data=every, message=due), containing("/cancel"))
        await exchange(chat, chat.send("BOC-BAOSHAN-0001"), containing("✅", "BOC-BAOSHAN-0001"))
        self.progress("every payout is marked paid (three one by one, then all due at once)")
        await self.every_farmer_told(PAID, "paid")

    # ------------------------------------------------------------ 8. reconciliation

    def notices(self, *msgids: str) -> dict[int, int]:
        """How many messages each farmer's chat holds that are one of these notices."""
        marks = {lang: [self.words.mark(m, lang) for m in msgids] for lang in ("zh", "en")}
        return {
            f.tid: sum(
                any(mark in m.text for mark in marks[f.lang]) for m in self.chat(f.tid).messages
            )
            for f in self.plan.farmers
        }

    async def reconcile(self, through: str) -> dict[str, Any]:
        """The figures, read from the database at the end, and the farmers' chats counted."""
        engine = make_engine(self.url)
        try:
            async with make_sessionmaker(engine)() as session:
                sold = list(
                    await session.scalars(select(Lot.id).where(Lot.status == LotStatus.SOLD))
                )
                grams = await session.scalar(
                    select(func.coalesce(func.sum(LotReport.grams), 0)).where(
                        LotReport.lot_id.in_(sold)
                    )
                )
                farmers = await session.scalar(
                    select(func.count(User.id)).where(User.role == Role.FARMER)
                )
                invoices = dict(
                    (await session.execute(select(Collection.lot_id, Collection.invoice_fen))).all()
                )
                weighed = await session.scalar(
                    select(func.coalesce(func.sum(Collection.weighed_grams), 0))
                )
                gross = dict(
                    (
                        await session.execute(
                            select(Payout.lot_id, func.sum(Payout.gross_fen)).group_by(
                                Payout.lot_id
                            )
                        )
                    ).all()
                )
                paid = await session.scalar(
                    select(func.count(Payout.id)).where(Payout.status == PayoutStatus.PAID)
                )
                net = await session.scalar(select(func.coalesce(func.sum(Payout.net_fen), 0)))
        finally:
            await engine.dispose()
        counts = {
            "sold": self.notices(SOLD),
            "collection": self.notices(*COLLECTION),
            "payout_scheduled": self.notices(*PAYOUT_SCHEDULED),
            "paid": self.notices(*PAID),
        }
        kinds = ["sold"] if through == "sold" else list(counts)
        once = {kind: all(n == 1 for n in counts[kind].values()) for kind in kinds}
        invoices_fen = sum(int(v or 0) for v in invoices.values())
        gross_fen = sum(int(v or 0) for v in gross.values())
        per_lot = {lot: int(v or 0) for lot, v in invoices.items()} == {
            lot: int(v or 0) for lot, v in gross.items()
        }
        figures: dict[str, Any] = {
            "farmers": int(farmers or 0),
            "merchants": len(self.plan.merchants),
            "lots": len(self.lot_ids),
            "lots_sold": len(sold),
            "kg_reported": round(self.plan.reported_grams / 1000, 3),
            "kg_sold": round(int(grams or 0) / 1000, 3),
            "kg_weighed": round(int(weighed or 0) / 1000, 3),
            "invoices_fen": invoices_fen,
            "payouts_gross_fen": gross_fen,
            "payouts_net_fen": int(net or 0),
            "payouts_paid": int(paid or 0),
            "notices_once": once,
        }
        figures["reconciled"] = (
            all(once.values())
            and len(sold) == len(self.lot_ids) > 0
            and (through == "sold" or (per_lot and invoices_fen == gross_fen > 0))
        )
        self.progress(
            f"reconciled: {figures['reconciled']} (invoices {invoices_fen / 100:,.2f} yuan, "
            f"farmers' gross {gross_fen / 100:,.2f} yuan; each farmer told once: {once})"
        )
        return figures


async def play(
    plan: Plan,
    database_url: str,
    concurrency: int = 80,
    notice_rate: float = 1000.0,
    through: str = "all",
) -> dict[str, Any]:
    """The programme from the first village to the reconciliation, on a database (empty or
    migrated); `through="sold"` stops once every lot is sold. Returns the figures."""
    started = time.monotonic()
    await asyncio.to_thread(migrate.upgrade, database_url)
    emu = BotApiEmulator(TOKEN)
    await emu.start()
    try:
        p = Programme(emu, database_url, plan, concurrency, notice_rate)
        phases: dict[str, float] = {}

        async def timed(name: str, step: Awaitable[None]) -> None:
            since = time.monotonic()
            await step
            phases[name] = round(time.monotonic() - since, 1)

        async with p.bot():
            await p.coordinators_start()
            await timed("villages", p.add_villages())
            await timed("farmers", p.farmers_join())
            await timed("merchants", p.merchants_approved())
            await timed("auctions", p.open_auctions())
            await timed("bids_and_sold", p.auctions())
            if through == "all":
                await timed("collection", p.collection())
        if through == "all":
            p.progress("the bot is stopped and started again")
            async with p.bot():
                await timed("paid", p.pay())
        figures = await p.reconcile(through)
        figures["phases_s"] = phases
    finally:
        await emu.stop()
    figures["wall_s"] = round(time.monotonic() - started, 1)
    return figures


def quick_plan(seed: int = 2024) -> Plan:
    """40 farmers, about 2.1 t: 1 t lots, three or four of them."""
    return make_plan(40, round(40 * 42_000 / 792), lot_kg=1000, seed=seed)


def full_plan(farmers: int = 792, seed: int = 2024) -> Plan:
    """The real programme: 792 farmers, about 42 t, ~5 t lots."""
    return make_plan(farmers, round(farmers * 42_000 / 792), lot_kg=5000, seed=seed)


async def main(args: argparse.Namespace) -> dict[str, Any]:
    if args.quick:
        plan = quick_plan(args.seed)
    else:
        plan = full_plan(args.farmers or 792, args.seed)
    options = {
        "concurrency": args.concurrency,
        "notice_rate": args.notice_rate,
        "through": args.through,
    }
    if args.database_url:
        figures = await play(plan, args.database_url, **options)
    elif args.postgres:
        async with scratch_postgres("bench_programme") as url:
            figures = await play(plan, url, **options)
    else:
        with tempfile.TemporaryDirectory() as directory:
            url = f"sqlite+aiosqlite:///{directory}/programme.db"
            figures = await play(plan, url, **options)
    return figures


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="40 farmers (under two minutes)")
    parser.add_argument("--farmers", type=int, help="how many farmers (792, quick 40)")
    parser.add_argument(
        "--postgres", action="store_true", help="a scratch database on FARMGATE_TEST_POSTGRES_URL"
    )
    parser.add_argument("--database-url", help="this (empty or migrated) database instead")
    parser.add_argument("--concurrency", type=int, default=80, help="users mid-dialogue at once")
    parser.add_argument(
        "--notice-rate", type=float, default=1000.0, help="NOTICE_RATE (replies are paced too)"
    )
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument(
        "--through", choices=["sold", "all"], default="all", help="stop after that step"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    figures = asyncio.run(main(args))
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    cli()
