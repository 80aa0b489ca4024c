"""Coordinator tools through the emulator: approving and rejecting merchants, villages with
their links and QR codes, promoting coordinators, and that nobody else can use any of them."""

from __future__ import annotations

import io
from typing import Any

import zxingcpp
from PIL import Image
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.formatting import format_date
from bot.models import MerchantStatus, Notice, Role, User, Village
from handlers.callbacks import ApprovalCb, AuditCb, VillageAdminCb
from tests.conftest import COORDINATOR_ID, BotRunner
from tests.e2e.flows import answer_digest, register_farmer
from tests.emulator import BotApiEmulator, BotMessage, UserChat

NOT_ALLOWED = "Sorry, only coordinators can do that."
WAITING = "Merchants waiting for approval"
REASON_QUESTION = "Type the reason in one message"
NEW_VILLAGE_QUESTION = "Type the name of the new village"
PROMOTE_QUESTION = "Whom do you want to make a coordinator?"


async def register_merchant(
    chat: UserChat, company: str, contact: str = "sales@bscoffee.cn"
) -> None:
    """An English-speaking merchant registers and waits for approval."""
    await chat.send("/start")
    await chat.receive_until(lambda m: bool(m.buttons))
    await chat.press("English")
    await chat.receive_until(lambda m: bool(m.buttons))
    await chat.press("🏢 I buy coffee")
    await chat.receive_until(lambda m: "company" in m.text)
    await chat.send(company)
    await chat.receive_until(lambda m: "e-mail" in m.text)
    await chat.send(contact)
    await answer_digest(chat, "en")
    await chat.receive_until(lambda m: "waiting for a coordinator's approval" in m.text)


async def _user(session: AsyncSession, telegram_id: int) -> User:
    """What the bot stored; ends the read so SQLite's write lock is free for the bot."""
    session.expire_all()
    user = await session.scalar(select(User).where(User.telegram_id == telegram_id))
    await session.commit()
    assert user is not None
    return user


async def _notices(session: AsyncSession, telegram_id: int) -> list[Notice]:
    """The user's notices as committed: read them once the bot handled the update that wrote
    them (BotRunner.idle), since it may reply before its transaction commits."""
    session.expire_all()
    rows = list(
        await session.scalars(
            select(Notice)
            .join(User, User.id == Notice.recipient_id)
            .where(User.telegram_id == telegram_id)
            .order_by(Notice.id)
        )
    )
    await session.commit()
    return rows


async def _no_notices(session: AsyncSession) -> list[Notice]:
    session.expire_all()
    rows = list(await session.scalars(select(Notice)))
    await session.commit()
    return rows


def qr_text(png: bytes | None) -> str:
    assert png, "no image was sent"
    results: Any = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert results, "no QR code found in the image"
    return str(results[0].text)


async def _pending_cards(coordinator: UserChat, count: int) -> list[BotMessage]:
    await coordinator.send("/approve")
    header = await coordinator.receive()
    assert header.text == f"{WAITING}: {count}", coordinator.transcript()
    return [await coordinator.receive() for _ in range(count)]


async def _asked_again(chat: UserChat, reason: str, question: str) -> None:
    said = await chat.receive()
    assert reason in said.text, chat.transcript()
    assert question in (await chat.receive()).text, chat.transcript()


# Approving merchants


async def test_coordinator_approves_a_merchant_once(
    emulator: BotApiEmulator, running_bot: BotRunner, session: AsyncSession
) -> None:
    merchant = emulator.user(201, language_code="en")
    await register_merchant(merchant, "Baoshan Coffee Trading", "sales@bscoffee.cn")
    await running_bot.idle(merchant)
    registered_at = (await _user(session, 201)).registered_at
    assert registered_at is not None
    coordinator = emulator.user(COORDINATOR_ID, language_code="en")

    (stale,) = await _pending_cards(coordinator, 1)
    (card,) = await _pending_cards(coordinator, 1)
    assert card.text == (
        "🏢 Baoshan Coffee Trading\nContact: sales@bscoffee.cn\nRegistered: "
        + format_date(registered_at, "en", running_bot.settings.tz)
    )
    assert card.buttons == ["✅ Approve", "✖ Reject"]
    approve_data = card.button("✅ Approve").callback_data
    assert approve_data is not None

    await coordinator.press("✅ Approve", message=card)
    await coordinator.wait_for(lambda c: "✅ Approved" in card.text)
    assert card.text.startswith("🏢 Baoshan Coffee Trading") and not card.inline_keyboard
    await running_bot.idle(coordinator)
    notices = await _notices(session, 201)
    assert [(n.kind, n.payload) for n in notices] == [("merchant_approved", {})]
    assert (await _user(session, 201)).merchant_status == MerchantStatus.APPROVED

    # The same merchant on an older list: a second decision is refused, nothing is written.
    query = await coordinator.press("✅ Approve", message=stale)
    answer = await coordinator.wait_callback_answer(query)
    assert answer["text"] == "This merchant was already approved."
    await coordinator.wait_for(lambda c: "already approved" in stale.text)
    assert not stale.inline_keyboard
    await coordinator.press(callback_data=approve_data, message=card, force=True)
    assert "already approved" in (await coordinator.wait_callback_answer())["text"]
    await running_bot.idle(coordinator)
    assert len(await _notices(session, 201)) == 1

    await coordinator.send("/approve")
    assert (await coordinator.receive()).text == "No merchants are waiting for approval."


async def test_coordinator_rejects_a_merchant_with_a_reason(
    emulator: BotApiEmulator, running_bot: BotRunner, session: AsyncSession
) -> None:
    first = emulator.user(202, language_code="en")
    await register_merchant(first, "Nujiang Beans", "+8613800000202")
    second = emulator.user(203, language_code="en")
    await register_merchant(second, "Pu'er Green Ltd", "+8613800000203")
    coordinator = emulator.user(COORDINATOR_ID, language_code="en")

    card, other = await _pending_cards(coordinator, 2)
    assert "Nujiang Beans" in card.text and "Pu'er Green Ltd" in other.text
    approve_data = card.button("✅ Approve").callback_data
    assert approve_data is not None

    await coordinator.press("✖ Reject", message=card)
    question = await coordinator.receive()
    assert question.text.startswith("Why is Nujiang Beans not approved?")
    await coordinator.send("   ")
    await _asked_again(coordinator, "Please type the reason", REASON_QUESTION)
    await coordinator.send_sticker()
    await _asked_again(coordinator, "not an answer", REASON_QUESTION)
    await coordinator.send("x" * 501)
    await _asked_again(coordinator, "at most 500 characters", REASON_QUESTION)
    assert card.inline_keyboard, "the card stays usable while the reason is asked"

    await coordinator.send("No business licence  yet")
    done = await coordinator.receive()
    assert done.text == (
        "✖ Nujiang Beans is not approved. The merchant is told why: No business licence yet"
    )
    assert card.text.endswith("✖ Not approved: No business licence yet")
    assert not card.inline_keyboard
    await running_bot.idle(coordinator)
    notices = await _notices(session, 202)
    assert [(n.kind, n.payload) for n in notices] == [
        ("merchant_rejected", {"reason": "No business licence yet"})
    ]
    stored = await _user(session, 202)
    assert (stored.merchant_status, stored.merchant_reject_reason) == (
        MerchantStatus.REJECTED,
        "No business licence yet",
    )

    # Pressing the rejected merchant's old Approve or Reject says it was decided already.
    await coordinator.press(callback_data=approve_data, message=card, force=True)
    assert (await coordinator.wait_callback_answer())["text"] == (
        "This merchant was already turned down."
    )
    (third,) = await _pending_cards(coordinator, 1)
    assert "Pu'er Green Ltd" in third.text
    await coordinator.press("✖ Reject", message=other)
    assert REASON_QUESTION in (await coordinator.receive()).text
    # Approving instead of typing the reason ends the question: the next text is no reason.
    await coordinator.press("✅ Approve", message=third)
    await coordinator.wait_for(lambda c: "✅ Approved" in third.text)
    await coordinator.send("Too small")
    assert "did not understand" in (await coordinator.receive()).text
    await coordinator.press("✖ Reject", message=other)
    assert (await coordinator.wait_callback_answer())["text"] == (
        "This merchant was already approved."
    )
    await running_bot.idle(coordinator)
    assert [n.kind for n in await _notices(session, 203)] == ["merchant_approved"]
    assert (await _user(session, 203)).merchant_status == MerchantStatus.APPROVED


async def test_approval_in_chinese(
    emulator: BotApiEmulator, running_bot: BotRunner, session: AsyncSession
) -> None:
    merchant = emulator.user(204, language_code="en")
    await register_merchant(merchant, "Yunnan Arabica Co")
    coordinator = emulator.user(COORDINATOR_ID, language_code="zh")
    await coordinator.send("/approve")
    assert (await coordinator.receive()).text == "等待审核的收购商：1"
    card = await coordinator.receive()
    assert "联系方式：" in card.text and card.buttons == ["✅ 通过", "✖ 拒绝"]
    await coordinator.press("✖ 拒绝")
    assert "为什么不通过Yunnan Arabica Co" in (await coordinator.receive()).text
    await coordinator.send("资料不全")
    assert "未通过审核" in (await coordinator.receive()).text
    await running_bot.idle(coordinator)
    assert [n.payload for n in await _notices(session, 204)] == [{"reason": "资料不全"}]


# Villages


async def test_villages_list_with_links_and_qr_codes(
    emulator: BotApiEmulator, running_bot: BotRunner, villages: list[Village]
) -> None:
    farmer = emulator.user(301, language_code="en")
    await register_farmer(farmer, "en", name="Bo", village="Conggang")
    coordinator = emulator.user(COORDINATOR_ID, language_code="en")
    await coordinator.send("/villages")
    listing = await coordinator.receive()
    assert "Conggang · farmers: 1" in listing.text
    assert "Nankang · farmers: 0" in listing.text
    assert listing.buttons == [
        "🔗 Conggang",
        "✏️ Conggang",
        "🔗 Nankang",
        "✏️ Nankang",
        "➕ Add village",
    ]

    await coordinator.press("🔗 Nankang")
    qr = await coordinator.receive()
    link = f"https://t.me/{emulator.bot_username}?start=v_nankang"
    assert qr.media == "photo" and link in qr.text and qr.text.startswith("Nankang\n")
    assert qr.photo is not None and qr.photo_bytes == emulator.uploaded(qr.photo)
    assert qr_text(qr.photo_bytes) == link

    await coordinator.press("🔗 Conggang", message=listing)
    assert qr_text((await coordinator.receive()).photo_bytes) == link.replace("nankang", "conggang")

    # The link registers a new farmer straight into the village it belongs to.
    newcomer = emulator.user(302, language_code="en")
    await newcomer.send("/start " + link.split("?start=")[1])
    await newcomer.receive()
    await newcomer.press("English")
    await newcomer.receive_until(lambda m: bool(m.buttons))
    await newcomer.press("🌱 I grow coffee")
    await newcomer.receive_until(lambda m: "name" in m.text)
    await newcomer.send("Dao")
    await newcomer.receive()
    await newcomer.send_contact("+8613900000302")
    await answer_digest(newcomer, "en")
    welcome = await newcomer.receive_until(lambda m: "Welcome" in m.text)
    assert "farmer of Nankang" in welcome.text


async def test_coordinator_adds_and_renames_a_village(
    emulator: BotApiEmulator, running_bot: BotRunner, session: AsyncSession
) -> None:
    coordinator = emulator.user(COORDINATOR_ID, language_code="en")
    await coordinator.send("/villages")
    empty = await coordinator.receive()
    assert "no villages yet" in empty.text and empty.buttons == ["➕ Add village"]

    await coordinator.press("➕ Add village")
    assert NEW_VILLAGE_QUESTION in (await coordinator.receive()).text
    await coordinator.send("   ")
    await _asked_again(coordinator, "Please type the village's name.", NEW_VILLAGE_QUESTION)
    await coordinator.send("M" * 101)
    await _asked_again(coordinator, "at most 100 characters", NEW_VILLAGE_QUESTION)
    await coordinator.send("Mangshi")
    added = await coordinator.receive()
    assert added.text.startswith("✅ Mangshi is added.")
    qr = await coordinator.receive()
    link = f"https://t.me/{emulator.bot_username}?start=v_mangshi"
    assert link in qr.text and qr_text(qr.photo_bytes) == link

    await coordinator.send("/villages")
    listing = await coordinator.receive()
    assert "Mangshi · farmers: 0" in listing.text
    await coordinator.press("➕ Add village", message=listing)
    await coordinator.receive()
    await coordinator.send("mangshi")
    await _asked_again(
        coordinator, "There is a village called mangshi already.", NEW_VILLAGE_QUESTION
    )
    await coordinator.send("/cancel")
    assert "Cancelled" in (await coordinator.receive()).text

    await coordinator.press("➕ Add village", message=listing)
    await coordinator.receive()
    await coordinator.send("Lujiang")
    await coordinator.receive_until(lambda m: m.media == "photo")

    await coordinator.press("✏️ Mangshi", message=listing)
    question = await coordinator.receive()
    assert question.text.startswith("Type the new name for Mangshi")
    await coordinator.send("LUJIANG")
    await _asked_again(coordinator, "There is a village called LUJIANG already.", "new name")
    await coordinator.send("Mangshi Town")
    renamed = await coordinator.receive()
    assert renamed.text.startswith("✅ Mangshi is now called Mangshi Town.")
    relisted = await coordinator.receive()
    assert "Mangshi Town · farmers: 0" in relisted.text and "Lujiang" in relisted.text
    await coordinator.press("🔗 Mangshi Town", message=relisted)
    assert qr_text((await coordinator.receive()).photo_bytes) == link, "the code stays the same"

    session.expire_all()
    rows = list(await session.scalars(select(Village).order_by(Village.name)))
    await session.commit()
    assert [(v.name, v.code) for v in rows] == [
        ("Lujiang", "lujiang"),
        ("Mangshi Town", "mangshi"),
    ]


# Promoting coordinators


async def test_promote_by_id_gives_the_coordinator_tools(
    emulator: BotApiEmulator, running_bot: BotRunner, villages: list[Village], session: AsyncSession
) -> None:
    farmer = emulator.user(401, language_code="en")
    await register_farmer(farmer, "en", name="Bo")
    assert emulator.commands(scope={"type": "chat", "chat_id": 401}, language_code="en") == []
    merchant = emulator.user(402, language_code="en")
    await register_merchant(merchant, "Salween Coffee")
    coordinator = emulator.user(COORDINATOR_ID, language_code="en")

    await coordinator.send("/promote 401")
    done = await coordinator.receive()
    assert done.text.startswith("✅ Bo (401) is a coordinator now.")
    await running_bot.idle(coordinator)
    assert [n.kind for n in await _notices(session, 401)] == ["promoted"]
    assert (await _user(session, 401)).role == Role.COORDINATOR
    menus = {
        lang: [
            c["command"]
            for c in emulator.commands(scope={"type": "chat", "chat_id": 401}, language_code=lang)
        ]
        for lang in ("en", "zh", None)
    }
    for commands in menus.values():
        assert {"approve", "villages", "promote", "broadcast", "broadcasts", "help"} <= set(
            commands
        )
    descriptions = emulator.commands(scope={"type": "chat", "chat_id": 401}, language_code="zh")
    assert {"command": "villages", "description": "村子、登记链接和二维码"} in descriptions

    # The new coordinator can use the tools at once.
    await farmer.send("/approve")
    await farmer.receive_until(lambda m: m.text == f"{WAITING}: 1")
    card = await farmer.receive()
    assert "Salween Coffee" in card.text
    await farmer.send("/help")
    assert (
        "/promote: make a user a coordinator"
        in (await farmer.receive_until(lambda m: "/approve" in m.text)).text
    )

    await coordinator.send("/promote 401")
    assert (await coordinator.receive()).text == "401 is a coordinator already."
    await running_bot.idle(coordinator)
    assert len(await _notices(session, 401)) == 1


async def test_promote_asks_for_the_id(
    emulator: BotApiEmulator, running_bot: BotRunner, session: AsyncSession
) -> None:
    merchant = emulator.user(403, language_code="en")
    await register_merchant(merchant, "Pacific Beans")
    coordinator = emulator.user(COORDINATOR_ID, language_code="en")
    await coordinator.send("/promote")
    assert PROMOTE_QUESTION in (await coordinator.receive()).text
    await coordinator.send("abc")
    await _asked_again(coordinator, "That is not a Telegram user id.", PROMOTE_QUESTION)
    await coordinator.send("424242")
    await _asked_again(
        coordinator,
        "Nobody with the Telegram id 424242 has used this bot yet.",
        PROMOTE_QUESTION,
    )
    await coordinator.send(" 403 ")
    done = await coordinator.receive()
    assert done.text.startswith("✅ Pacific Beans (403) is a coordinator now.")
    await running_bot.idle(coordinator)
    assert [n.kind for n in await _notices(session, 403)] == ["promoted"]
    await coordinator.send("Hello")
    assert "did not understand" in (await coordinator.receive()).text, "the question is over"

    await coordinator.send("/promote 4o3")
    assert (await coordinator.receive()).text.startswith("That is not a Telegram user id.")
    await coordinator.send(f"/promote {COORDINATOR_ID}")
    assert (await coordinator.receive()).text == f"{COORDINATOR_ID} is a coordinator already."
    await running_bot.idle(coordinator)
    assert not coordinator.unread, "a wrong /promote argument asks no question"


# Nobody else can use them


async def test_coordinator_tools_refuse_farmers_and_merchants(
    emulator: BotApiEmulator, running_bot: BotRunner, villages: list[Village], session: AsyncSession
) -> None:
    farmer = emulator.user(501, language_code="en")
    await register_farmer(farmer, "en", name="Bo")
    merchant = emulator.user(502, language_code="en")
    await register_merchant(merchant, "Dehong Traders")
    stranger = emulator.user(503, language_code="en")
    await running_bot.idle(merchant)
    merchant_id = (await _user(session, 502)).id

    commands = [
        "/approve",
        "/villages",
        "/promote",
        "/promote 501",
        "/demote 9000",
        "/audit",
        "/pools",
        "/broadcast",
        "/broadcasts",
    ]
    for chat in (farmer, merchant, stranger):
        for command in commands:
            await chat.send(command)
            said = await chat.receive()
            assert said.text == NOT_ALLOWED, chat.transcript()
        await running_bot.idle(chat)
        assert not chat.unread, chat.transcript()

    forged = [
        ApprovalCb(action="yes", merchant_id=merchant_id).pack(),
        ApprovalCb(action="no", merchant_id=merchant_id).pack(),
        VillageAdminCb(action="add").pack(),
        VillageAdminCb(action="link", village_id=villages[0].id).pack(),
        VillageAdminCb(action="rename", village_id=villages[0].id).pack(),
        AuditCb(before=1000).pack(),
    ]
    for chat in (farmer, merchant):
        assert chat.last is not None
        for data in forged:
            query = await chat.press(callback_data=data, message=chat.last.message_id, force=True)
            answer = await chat.wait_callback_answer(query)
            assert (answer["text"], answer.get("show_alert")) == (NOT_ALLOWED, True)
        await running_bot.idle(chat)
        assert not chat.unread, chat.transcript()
        # No question was started: the next text is not taken as a village name or a reason.
        await chat.send("Mangshi")
        assert "did not understand" in (await chat.receive()).text

    await running_bot.idle(farmer, merchant, stranger)
    stored = await _user(session, 502)
    assert (stored.role, stored.merchant_status) == (Role.MERCHANT, MerchantStatus.PENDING)
    assert (await _user(session, 501)).role == Role.FARMER
    assert await _no_notices(session) == []
    session.expire_all()
    names = [v.name for v in await session.scalars(select(Village).order_by(Village.id))]
    await session.commit()
    assert names == ["Conggang", "Nankang"]
    assert emulator.commands(scope={"type": "chat", "chat_id": 501}) == []
