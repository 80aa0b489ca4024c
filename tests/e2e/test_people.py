"""People through the emulator: a rejected merchant applies again, coordinators are demoted
in chat or by leaving COORDINATOR_IDS, and /audit shows who did what and when."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.db import make_engine, make_sessionmaker
from bot.formatting import format_datetime
from bot.models import AuditEntry, MerchantStatus, Notice, Role, User, Village
from bot.services import villages as places
from bot.services.access import OPERATOR
from handlers.callbacks import AuditCb
from tests.conditions import eventually
from tests.conftest import COORDINATOR_ID, BotRunner
from tests.e2e.flows import DIGEST_QUESTION, WORDS, Tr, register_farmer, stored_user, translator
from tests.emulator import BotApiEmulator, UserChat


async def _stored_when(
    session: AsyncSession, telegram_id: int, check: Callable[[User], bool]
) -> User:
    """The stored user once `check` holds; AssertionError if it never does."""

    async def holds() -> bool:
        return check(await stored_user(session, telegram_id))

    await eventually(holds, f"user {telegram_id} stored as expected")
    return await stored_user(session, telegram_id)


async def _apply(chat: UserChat, t: Tr, company: str, contact: str) -> None:
    """Answer the merchant questions: company, then contact, until the waiting message."""
    await chat.receive_until(lambda m: m.text == t("What is the name of your company?"))
    await chat.send(company)
    await chat.receive_until(lambda m: bool(m.reply_keyboard))  # the contact question
    await chat.send(contact)
    await chat.receive_until(lambda m: m.text == t(DIGEST_QUESTION))
    await chat.press(t("✅ Yes"))
    waiting = t(
        "Thank you! {company} is registered and waiting for a coordinator's "
        "approval. We will message you here as soon as you can bid."
    ).format(company=company)
    await chat.receive_until(lambda m: m.text == waiting)


async def _reject(coordinator: UserChat, company: str, reason: str) -> None:
    await coordinator.send("/approve")
    card = await coordinator.receive_until(lambda m: company in m.text)
    await coordinator.press("✖ Reject", message=card)
    await coordinator.receive_until(lambda m: "Type the reason" in m.text)
    await coordinator.send(reason)
    await coordinator.receive_until(lambda m: "is not approved" in m.text)


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_rejected_merchant_applies_again(
    emulator: BotApiEmulator, running_bot: BotRunner, session: AsyncSession, lang: str
) -> None:
    t = translator(running_bot, lang)
    merchant = emulator.user(601, language_code=lang)
    await merchant.send("/start")
    await merchant.receive_until(lambda m: bool(m.buttons))
    await merchant.press(WORDS[lang]["language"])
    await merchant.receive_until(lambda m: bool(m.buttons))
    await merchant.press(WORDS[lang]["merchant"])
    await _apply(merchant, t, "Baoshan Trading", "bs1@baoshan-trading.cn")
    coordinator = emulator.user(COORDINATOR_ID, language_code="en")
    await _reject(coordinator, "Baoshan Trading", "No business licence")

    told = t(
        "Your merchant registration was not approved. Reason: {reason}\n\n"
        "Send /start to register again with corrected details."
    ).format(reason="No business licence")
    await merchant.receive_until(lambda m: m.text == told, timeout=10)

    # What the notice says works: /start asks the merchant questions again.
    await merchant.send("/start")
    again = await merchant.receive()
    assert again.text == t(
        "Your last application was not approved. Reason: {reason}\n\n"
        "Apply again with corrected details."
    ).format(reason="No business licence"), merchant.transcript()
    await _apply(merchant, t, "Baoshan Trading Ltd", "+8613800000601")
    stored = await _stored_when(session, 601, lambda u: u.merchant_application == 2)
    merchant_id = stored.id
    assert (stored.merchant_status, stored.merchant_application, stored.company) == (
        MerchantStatus.PENDING,
        2,
        "Baoshan Trading Ltd",
    )

    # Coordinators see them in /approve again, with the earlier reason.
    await coordinator.send("/approve")
    assert (await coordinator.receive()).text == "Merchants waiting for approval: 1"
    card = await coordinator.receive()
    assert card.text.startswith("🏢 Baoshan Trading Ltd\nContact: +8613800000601")
    assert card.text.endswith("Application 2; the last one was not approved: No business licence")
    # Turned down again: a second occurrence, so a second notice.
    await _reject(coordinator, "Baoshan Trading Ltd", "Licence expired")
    await merchant.receive_until(lambda m: "Licence expired" in m.text, timeout=10)
    session.expire_all()
    keys = list(
        await session.scalars(
            select(Notice.dedup_key).where(Notice.recipient_id == merchant_id).order_by(Notice.id)
        )
    )
    await session.commit()
    assert keys == [f"merchant_decision:{merchant_id}:1", f"merchant_decision:{merchant_id}:2"]

    # While turned down, the menu and /help say what they can do.
    await merchant.send("/help")
    assert "/start" in (await merchant.receive()).text
    await merchant.send("/start")
    await merchant.receive_until(lambda m: m.text == t("What is the name of your company?"))
    await merchant.send("/cancel")
    assert (await merchant.receive()).text == t("Cancelled. Nothing was saved.")
    assert (await stored_user(session, 601)).merchant_status == MerchantStatus.REJECTED, "unchanged"


def _menu(emulator: BotApiEmulator, chat_id: int, lang: str | None = "en") -> set[str]:
    scope = {"type": "chat", "chat_id": chat_id}
    return {c["command"] for c in emulator.commands(scope=scope, language_code=lang)}


async def test_demote_in_chat(
    emulator: BotApiEmulator, running_bot: BotRunner, villages: list[Village], session: AsyncSession
) -> None:
    farmer = emulator.user(611, language_code="en")
    await register_farmer(farmer, "en", name="Bo")
    helper = emulator.user(612, language_code="en")
    await helper.send("/start")
    await helper.receive()
    coordinator = emulator.user(COORDINATOR_ID, language_code="en")
    for telegram_id in (611, 612):
        await coordinator.send(f"/promote {telegram_id}")
        await coordinator.receive_until(lambda m: "is a coordinator now" in m.text)
    assert {"demote", "audit", "promote"} <= _menu(emulator, 611)
    await farmer.receive_until(lambda m: "You are now a coordinator" in m.text, timeout=10)
    await farmer.send("/villages")
    await farmer.press("➕ Add village", message=await farmer.receive())
    await farmer.receive_until(lambda m: "name of the new village" in m.text)

    await coordinator.send("/demote 611")
    done = await coordinator.receive()
    assert done.text.startswith("✅ Bo (611) is no longer a coordinator."), done.text
    for lang in ("en", "zh", None):
        assert _menu(emulator, 611, lang) == set(), "back to everyone's menu"
    await farmer.receive_until(
        lambda m: m.text.startswith("You are no longer a coordinator"), timeout=10
    )
    assert (await stored_user(session, 611)).role == Role.FARMER
    await farmer.send("Mangshi")  # no longer a village name: their coordinator dialogue ended
    assert "did not understand" in (await farmer.receive()).text, farmer.transcript()
    await farmer.send("/approve")
    assert (await farmer.receive()).text == "Sorry, only coordinators can do that."
    await farmer.send("/demote 612")
    assert (await farmer.receive()).text == "Sorry, only coordinators can do that."

    # Refusals, each in words, and the question asked again when the id was wrong.
    await coordinator.send(f"/demote {COORDINATOR_ID}")
    assert "configuration (COORDINATOR_IDS)" in (await coordinator.receive()).text
    await coordinator.send("/demote")
    question = "Who should no longer be a coordinator?"
    assert question in (await coordinator.receive()).text
    await coordinator.send("abc")
    assert "not a Telegram user id" in (await coordinator.receive()).text
    assert question in (await coordinator.receive()).text
    await coordinator.send("611")
    assert (await coordinator.receive()).text == "611 is not a coordinator."
    assert question in (await coordinator.receive()).text
    await coordinator.send("/cancel")
    assert "Cancelled" in (await coordinator.receive()).text

    # A coordinator promoted in chat may step down (others remain).
    await helper.send("/demote 612")
    await helper.receive_until(lambda m: m.text == "You are no longer a coordinator.")
    assert (await _stored_when(session, 612, lambda u: u.role is None)).role is None
    assert _menu(emulator, 612) == set()


async def test_leaving_coordinator_ids_takes_the_role_away_at_the_next_start(
    emulator: BotApiEmulator, settings: Settings, session: AsyncSession
) -> None:
    both = settings.model_copy(update={"coordinator_ids": frozenset({COORDINATOR_ID, 621})})
    runner = BotRunner(both)
    await runner.start()
    try:
        configured = emulator.user(621, language_code="en")
        await configured.send("/start")
        await configured.receive()
        promoted = emulator.user(622, language_code="en")
        await promoted.send("/start")
        await promoted.receive()
        boss = emulator.user(COORDINATOR_ID, language_code="en")
        await boss.send("/promote 622")
        await boss.receive_until(lambda m: "is a coordinator now" in m.text)
        await configured.send("/demote 621")
        assert "configuration (COORDINATOR_IDS)" in (await configured.receive()).text
        await configured.send("/villages")
        await configured.press("➕ Add village", message=await configured.receive())
        await configured.receive_until(lambda m: "name of the new village" in m.text)
        await runner.stop()

        assert {"demote"} <= _menu(emulator, 621)
        runner = BotRunner(settings)  # 621 removed from COORDINATOR_IDS
        await runner.start()
        assert _menu(emulator, 621) == set()
        assert {"demote"} <= _menu(emulator, 622), "promoted in chat: kept"
        told = translator(runner, "zh")(  # no language chosen: the programme's default
            "You are no longer a coordinator of this programme. Send /start to see your menu."
        )
        await configured.receive_until(lambda m: m.text == told, timeout=10)
        await configured.send("Mangshi")  # the village question ended with the role
        assert "Choose your language" in (await configured.receive()).text, "registration"
        await configured.send("/approve")
        assert (await configured.receive()).text == "Sorry, only coordinators can do that."
        assert (await stored_user(session, 621)).role is None
        assert (await stored_user(session, 622)).role == Role.COORDINATOR
    finally:
        await runner.stop()


@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_audit_shows_who_did_what_and_when(
    emulator: BotApiEmulator,
    running_bot: BotRunner,
    database_url: str,
    session: AsyncSession,
    lang: str,
) -> None:
    t = translator(running_bot, lang)
    coordinator = emulator.user(COORDINATOR_ID, language_code=lang)
    await coordinator.send("/start")
    await coordinator.receive()
    await coordinator.send("/language")
    await coordinator.press(WORDS[lang]["language"])
    await coordinator.receive_until(lambda m: bool(m.reply_keyboard))
    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as s, s.begin():
            for n in range(24):
                await places.add_village(s, OPERATOR, f"Village {n:02}")
    finally:
        await engine.dispose()
    await coordinator.send("/promote 424242")
    await coordinator.receive()
    merchant = emulator.user(631, language_code="en")
    await merchant.send("/start")
    await merchant.receive()
    await coordinator.send("/promote 631")
    await coordinator.receive()

    session.expire_all()
    entries = list(await session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())))
    await session.commit()
    assert len(entries) == 26  # the coordinator's own (configured), 24 villages, 1 promotion
    tz = running_bot.settings.tz

    await coordinator.send("/audit")
    page = await coordinator.receive()
    lines = page.text.split("\n\n")
    assert lines[0] == t("Coordinator actions, newest first:")
    assert len(lines) == 21
    assert lines[1] == t("{when} · {who}: {what}").format(
        when=format_datetime(entries[0].created_at, lang, tz),
        who=f"{COORDINATOR_ID}",
        what=t("made {person} a coordinator").format(person="631"),
    )
    assert lines[2] == t("{when} · {who}: {what}").format(
        when=format_datetime(entries[1].created_at, lang, tz),
        who=t("the operator (command line)"),
        what=t("added the village {name}").format(name="Village 23"),
    )
    assert page.buttons == [t("Older actions ▸")]

    await coordinator.press(t("Older actions ▸"), message=page)
    older = await coordinator.receive()
    rest = older.text.split("\n\n")[1:]
    assert len(rest) == 6 and not older.buttons
    assert rest[-1].endswith(
        t("{when} · {who}: {what}").format(
            when=format_datetime(entries[-1].created_at, lang, tz),
            who=t("the configuration (COORDINATOR_IDS)"),
            what=t("made {person} a coordinator").format(person=str(COORDINATOR_ID)),
        )
    )
    await coordinator.wait_for(lambda c: not page.buttons)

    # Nobody else reads it.
    stranger = emulator.user(632, language_code="en")
    await stranger.send("/audit")
    said = await stranger.receive()
    assert said.text == "Sorry, only coordinators can do that."
    query = await stranger.press(
        callback_data=AuditCb(before=entries[0].id).pack(), message=said, force=True
    )
    answer = await stranger.wait_callback_answer(query)
    assert (answer["text"], answer.get("show_alert")) == (
        "Sorry, only coordinators can do that.",
        True,
    )
    await running_bot.idle(stranger)
    assert not stranger.unread
