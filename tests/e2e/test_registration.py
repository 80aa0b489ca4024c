"""Registration, language and profile, driven through the Bot API emulator as users would."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import MerchantStatus, Role, User, Village
from tests.conftest import COORDINATOR_ID, BotRunner
from tests.e2e.flows import register_farmer
from tests.emulator import BotApiEmulator


async def _user(session: AsyncSession, telegram_id: int) -> User:
    user = await session.scalar(select(User).where(User.telegram_id == telegram_id))
    assert user is not None
    await session.refresh(user)
    await session.commit()
    return user


async def test_farmer_registers_in_chinese(
    emulator: BotApiEmulator, running_bot: BotRunner, villages: list[Village], session: AsyncSession
) -> None:
    chat = emulator.user(101, first_name="Li", language_code="zh-hans")
    welcome = await register_farmer(chat, "zh")
    assert "欢迎，李伟" in welcome.text and "Conggang" in welcome.text
    assert "📦 上报收成" in welcome.reply_buttons
    user = await _user(session, 101)
    assert (user.role, user.name, user.phone, user.language, user.price_digest) == (
        Role.FARMER,
        "李伟",
        "+8613800000001",
        "zh",
        True,
    )
    assert user.village_id == villages[0].id


async def test_deep_link_preselects_the_village_in_english(
    emulator: BotApiEmulator, running_bot: BotRunner, villages: list[Village], session: AsyncSession
) -> None:
    chat = emulator.user(102, first_name="Ann", language_code="en")
    await chat.send("/start v_nankang")
    assert "Choose your language" in (await chat.receive()).text
    await chat.press("English")
    assert "grow coffee or buy" in (await chat.receive_until(lambda m: bool(m.buttons))).text
    await chat.press("🌱 I grow coffee")
    assert (await chat.receive_until(lambda m: "name" in m.text)).text == "What is your name?"
    await chat.send("Ann Lee")
    await chat.receive()
    await chat.send_contact("+8613900000002")
    assert "+8613900000002" in (await chat.receive()).text
    asked = await chat.receive()
    assert asked.text == "Do you want today's coffee prices every morning?"
    assert asked.buttons == ["✅ Yes", "No"]
    await chat.press("No")
    welcome = await chat.receive_until(lambda m: m.reply_keyboard is not None)
    assert "Welcome, Ann Lee! You are registered as a farmer of Nankang." in welcome.text
    assert "📦 Report harvest" in welcome.reply_buttons
    user = await _user(session, 102)
    assert (user.village_id, user.price_digest) == (villages[1].id, False)


async def test_contact_of_someone_else_is_refused(
    emulator: BotApiEmulator, running_bot: BotRunner, villages: list[Village]
) -> None:
    chat = emulator.user(103, language_code="zh")
    await chat.send("/start")
    await chat.receive()
    await chat.press("中文")
    await chat.receive_until(lambda m: bool(m.buttons))
    await chat.press("🌱 我种咖啡")
    await chat.receive_until(lambda m: "名字" in m.text)
    await chat.send("王芳")
    await chat.receive()
    await chat.send_contact("+8613700000000", own=False, user_id=999)
    refusal = await chat.receive()
    assert "别人的联系人" in refusal.text
    again = await chat.receive()
    assert again.reply_keyboard and again.reply_keyboard[0][0].request_contact
    await chat.send("13700000000")
    assert "不要手动输入" in (await chat.receive()).text
    await chat.receive()
    await chat.send_contact("+8613700000003")
    await chat.receive()
    assert "Conggang" in (await chat.receive()).buttons


async def test_bad_input_during_registration_asks_again(
    emulator: BotApiEmulator, running_bot: BotRunner, villages: list[Village]
) -> None:
    chat = emulator.user(104, language_code="en")
    await chat.send("/start")
    await chat.receive()
    await chat.send_sticker()
    assert "not an answer" in (await chat.receive()).text
    assert "English" in (await chat.receive()).buttons
    await chat.press("English")
    await chat.receive_until(lambda m: bool(m.buttons))
    await chat.press("🌱 I grow coffee")
    await chat.receive_until(lambda m: "name" in m.text)
    await chat.send("12345")
    assert "does not look like a name" in (await chat.receive()).text
    assert (await chat.receive()).text == "What is your name?"
    await chat.send_voice()
    assert "not an answer" in (await chat.receive()).text
    assert (await chat.receive()).text == "What is your name?"


async def test_merchant_registers_and_waits_for_approval(
    emulator: BotApiEmulator, running_bot: BotRunner, session: AsyncSession
) -> None:
    chat = emulator.user(105, language_code="en")
    await chat.send("/start")
    await chat.receive()
    await chat.press("English")
    await chat.receive_until(lambda m: bool(m.buttons))
    await chat.press("🏢 I buy coffee")
    assert "company" in (await chat.receive_until(lambda m: "company" in m.text)).text
    await chat.send("Baoshan Coffee Trading")
    assert "e-mail" in (await chat.receive()).text
    await chat.send("+86 138 0000 0105")
    assert "every morning" in (await chat.receive()).text
    await chat.send("no")  # typed: read as the button it names
    done = await chat.receive_until(lambda m: "approval" in m.text)
    assert "waiting for a coordinator's approval" in done.text
    user = await _user(session, 105)
    assert (user.role, user.company, user.merchant_status, user.price_digest) == (
        Role.MERCHANT,
        "Baoshan Coffee Trading",
        MerchantStatus.PENDING,
        False,
    )


async def test_language_switch_is_persisted(
    emulator: BotApiEmulator, running_bot: BotRunner, villages: list[Village]
) -> None:
    chat = emulator.user(106, language_code="zh")
    await register_farmer(chat, "zh")
    await chat.send("/language")
    await chat.receive()
    await chat.press("English")
    changed = await chat.receive_until(lambda m: m.reply_keyboard is not None)
    assert changed.text == "Language changed."
    assert "📦 Report harvest" in changed.reply_buttons
    await running_bot.restart()
    await chat.send("/help")
    assert "Report harvest" in (await chat.receive()).text
    # The old Chinese keyboard still works after switching.
    await chat.send("📋 我的上报")
    assert "no harvest reports yet" in (await chat.receive()).text


async def test_commands_are_registered_per_language(
    emulator: BotApiEmulator, running_bot: BotRunner
) -> None:
    zh = {c["command"]: c["description"] for c in emulator.commands(language_code="zh")}
    en = {c["command"]: c["description"] for c in emulator.commands(language_code="en")}
    default = {c["command"]: c["description"] for c in emulator.commands()}
    assert zh["report"] == "上报收成" and en["report"] == "Report a harvest"
    assert default == zh
    assert set(zh) == set(en) >= {"start", "help", "cancel", "language", "report", "reports"}


async def test_help_is_role_aware(
    emulator: BotApiEmulator, running_bot: BotRunner, villages: list[Village]
) -> None:
    stranger = emulator.user(107, language_code="en")
    await stranger.send("/help")
    assert "Send /start to register" in (await stranger.receive()).text
    coordinator = emulator.user(COORDINATOR_ID, language_code="en")
    await coordinator.send("/start")
    await coordinator.receive()
    await coordinator.press("English")
    assert "coordinator" in (await coordinator.receive()).text
    await coordinator.send("/help")
    assert "You are a coordinator of farmgate" in (await coordinator.receive()).text
    farmer = emulator.user(108, language_code="en")
    await register_farmer(farmer, "en", name="Bo")
    await farmer.send("❓ Help")
    assert "My reports: see your reports" in (await farmer.receive()).text


async def test_farmer_changes_profile(
    emulator: BotApiEmulator, running_bot: BotRunner, villages: list[Village], session: AsyncSession
) -> None:
    chat = emulator.user(109, language_code="en")
    await register_farmer(chat, "en", name="Chen")
    await chat.send("👤 Profile")
    profile = await chat.receive()
    assert "Name: Chen" in profile.text and "Village: Conggang" in profile.text
    await chat.press("Change name")
    await chat.receive()
    await chat.send("Chen Jie")
    await chat.receive_until(lambda m: "Name: Chen Jie" in m.text)
    await chat.press("Change village")
    await chat.receive()
    await chat.press("Nankang")
    assert "Village: Nankang" in (await chat.receive_until(lambda m: "Village:" in m.text)).text
    await chat.press("Change phone")
    await chat.receive()
    await chat.send_contact("+8613500000009")
    assert "Phone: +8613500000009" in (await chat.receive_until(lambda m: "Phone:" in m.text)).text
    user = await _user(session, 109)
    assert (user.name, user.village_id) == ("Chen Jie", villages[1].id)
