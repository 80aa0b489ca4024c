"""What merchants and coordinators tripped over (issue 7), through the emulator in both
languages: the merchant's contact is checked, /help says what each user can do now, the
schedule question names the zone and confirms in the format asked for, announcements say who
speaks, and coordinators have a menu of their tools."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.models import MerchantStatus, Village
from bot.services import users
from tests.conditions import outbox_drained
from tests.conftest import COORDINATOR_ID, BotRunner
from tests.e2e.flows import WORDS, Tr, answer_digest, register_farmer, stored_user, translator
from tests.emulator import BotApiEmulator, UserChat

PROGRAMME = "Baoshan Coffee"
LANGS = pytest.mark.parametrize("lang", ["zh", "en"])
FARMER_MENU = [
    "📦 Report harvest",
    "📋 My reports",
    "👤 Profile",
    "💴 Payouts",
    "📈 Prices",
    "❓ Help",
]
PRICES_HELP = (
    '📈 Prices (/prices, or type 价格 or "price"): today\'s coffee prices and a chart of the '
    "last 30 days; its button turns the daily prices on or off."
)
PRICES_LINE = "/prices: today's coffee prices and a chart of the last 30 days."


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The shared settings with a programme name of its own (PROGRAMME_NAME)."""
    return settings.model_copy(update={"programme_name": PROGRAMME})


async def _coordinator(emulator: BotApiEmulator, lang: str) -> UserChat:
    """The configured coordinator's first /start: language, then the greeting and menu."""
    chat = emulator.user(COORDINATOR_ID, language_code=lang)
    await chat.send("/start")
    await chat.receive_until(lambda m: bool(m.buttons))
    await chat.press(WORDS[lang]["language"])
    await chat.receive_until(lambda m: m.reply_keyboard is not None)
    return chat


async def _to_contact_question(chat: UserChat, t: Tr, lang: str, company: str) -> None:
    await chat.send("/start")
    await chat.receive_until(lambda m: bool(m.buttons))
    await chat.press(WORDS[lang]["language"])
    await chat.receive_until(lambda m: bool(m.buttons))
    await chat.press(WORDS[lang]["merchant"])
    await chat.receive_until(lambda m: m.text == t("What is the name of your company?"))
    await chat.send(company)
    await chat.receive_until(lambda m: m.text == t(CONTACT_QUESTION))


CONTACT_QUESTION = (
    "How can the cooperative reach you? Type a phone number or an e-mail address, "
    "or share your Telegram contact with the button below."
)
WAITING = (
    "Thank you! {company} is registered and waiting for a coordinator's "
    "approval. We will message you here as soon as you can bid."
)


# Merchants: the contact


@LANGS
async def test_a_merchant_contact_is_a_phone_an_address_or_their_own_telegram_contact(
    emulator: BotApiEmulator, running_bot: BotRunner, session: AsyncSession, lang: str
) -> None:
    t = translator(running_bot, lang)
    merchant = emulator.user(701, language_code=lang)
    await _to_contact_question(merchant, t, lang, "Baoshan Trading")
    refusals = [
        (
            "😀",
            t(
                "The cooperative cannot reach you with that: it is neither a phone number nor "
                "an e-mail address. Type one of them, or share your Telegram contact with the "
                "button below."
            ),
        ),
        ("sales@", t("That e-mail address is not complete: it should look like name@example.com.")),
        (
            "138 000",
            t(
                "A phone number has {low} to {high} digits. Please check the number and type it "
                "again."
            ).format(low=7, high=15),
        ),
    ]
    for typed, reason in refusals:
        await merchant.send(typed)
        assert (await merchant.receive()).text == reason, merchant.transcript()
        asked = await merchant.receive()
        assert asked.text == t(CONTACT_QUESTION) and asked.reply_keyboard, merchant.transcript()
    await merchant.send_contact("+8613900000999", own=False, user_id=999)
    assert (await merchant.receive()).text == t(
        "That is someone else's contact. Please share your own number with the button "
        "below, so buyers and the cooperative can reach you."
    )
    assert (await merchant.receive()).text == t(CONTACT_QUESTION)
    await merchant.send(" Sales@BSCoffee.CN ")
    await answer_digest(merchant, lang)
    await merchant.receive_until(lambda m: m.text == t(WAITING).format(company="Baoshan Trading"))
    assert (await stored_user(session, 701)).contact == "Sales@bscoffee.cn"

    # The button: the merchant's own number, as Telegram shares it.
    sharer = emulator.user(702, language_code=lang)
    await _to_contact_question(sharer, t, lang, "Nujiang Beans")
    await sharer.send_contact("8613800000702")
    await answer_digest(sharer, lang)
    await sharer.receive_until(lambda m: m.text == t(WAITING).format(company="Nujiang Beans"))

    # The coordinator reads contacts that reach someone; nothing else was stored.
    coordinator = await _coordinator(emulator, lang)
    await coordinator.send("/approve")
    cards = [await coordinator.receive() for _ in range(3)][1:]
    assert "Sales@bscoffee.cn" in cards[0].text and "+8613800000702" in cards[1].text
    await running_bot.idle(merchant, sharer, coordinator)
    assert (await stored_user(session, 702)).contact == "+8613800000702"


# /help for every role and status


@LANGS
async def test_help_says_what_each_user_can_do_now(
    emulator: BotApiEmulator,
    running_bot: BotRunner,
    villages: list[Village],
    session: AsyncSession,
    lang: str,
) -> None:
    t = translator(running_bot, lang)
    for telegram_id, status in (
        (711, MerchantStatus.PENDING),
        (712, MerchantStatus.APPROVED),
        (713, MerchantStatus.REJECTED),
    ):
        user = await users.ensure_user(session, telegram_id)
        await users.set_language(session, user, lang)
        await users.register_merchant(
            session, user, company=f"Co {telegram_id}", contact="+8613900000000"
        )
        user.merchant_status = status
        user.merchant_reject_reason = "No licence" if status == MerchantStatus.REJECTED else None
    await session.commit()

    async def help_for(chat: UserChat) -> str:
        await chat.send("/help")
        return (await chat.receive()).text

    stranger = emulator.user(710, language_code=lang)
    assert await help_for(stranger) == t(
        "Welcome to {programme}! Send /start to register as a farmer or a merchant."
    ).format(programme=PROGRAMME)
    pending = await help_for(emulator.user(711, language_code=lang))
    assert pending == t(
        "Your registration ({company}) is waiting for a coordinator's approval. There is "
        "nothing more to do now: we will message you here when it is approved, and then "
        "you can bid on coffee pooled from many farmers.\n\n"
        "/language changes the language."
    ).format(company="Co 711") + "\n\n" + t(PRICES_LINE)
    approved = await help_for(emulator.user(712, language_code=lang))
    assert approved == t(
        "You are an approved merchant of {programme} ({company}).\n\n"
        "Coffee pooled from many farmers is auctioned here, in this chat: we message you "
        "when a lot opens.\n\n"
        "🔨 Lots (/lots): the lots open now; open one to see it, its photos, and bid.\n"
        "💰 My bids (/mybids): your lots, whether you lead, what you won and owe.\n"
        "📖 Rules (/rules): how bidding works.\n\n"
        "The programme's announcements arrive here too. /language changes the language, "
        "/cancel stops typing a price."
    ).format(programme=PROGRAMME, company="Co 712") + "\n\n" + t(
        "When you win a lot, a coordinator tells you where and when to collect it; after "
        "the weighing your invoice (weighed kg × your price) arrives here."
    ) + "\n\n" + t(PRICES_HELP)
    rejected = await help_for(emulator.user(713, language_code=lang))
    assert rejected == t(
        "Your merchant registration was not approved. Send /start to apply again with "
        "corrected details; a coordinator will check it again.\n\n"
        "/language changes the language, /cancel stops any question."
    )
    farmer = emulator.user(714, language_code=lang)
    await register_farmer(farmer, lang, name="Bo")
    farmer_help = await help_for(farmer)
    assert t("📦 Report harvest") in farmer_help and "/payouts" in farmer_help
    assert farmer_help.endswith(t(PRICES_HELP))
    coordinator = await _coordinator(emulator, lang)
    await coordinator.send("/help")
    said = await coordinator.receive()
    assert said.text == t(
        "You are a coordinator of {programme}. Your tools are in the menu below:\n\n"
        "📣 Announcement (/broadcast): send an announcement to everyone or to a group.\n"
        "🗓 Announcements (/broadcasts): scheduled and running announcements.\n"
        "🏢 Approve merchants (/approve): merchants waiting for approval.\n"
        "🏘 Villages (/villages): villages, their registration links and QR codes; add or "
        "rename one.\n"
        "📜 Audit log (/audit): the latest coordinator actions, who did what and when.\n"
        "/pools: harvest waiting to be sold, by pool; open an auction on one.\n"
        "🔨 Auctions (/auctions): open auctions and sales waiting for acceptance; bids, "
        "closing early, cancelling.\n\n"
        "/promote: make a user a coordinator, for example /promote 123456789.\n"
        "/demote: take the coordinator role back, for example /demote 123456789.\n"
        "/language changes the language, /cancel stops any question."
    ).format(programme=PROGRAMME) + "\n\n" + t(
        "📊 Figures (/stats): farmers, harvest, lots, sales and payouts this month, this "
        "season or in all.\n"
        "💾 Export (/export): all the data as CSV files (farmers, harvest reports, lots, "
        "bids, collections, payouts)."
    ) + "\n\n" + t(
        "/collect: sold lots to collect: set the place and time, record each farmer's "
        "weighed kg, then complete (the merchant is invoiced, the payouts scheduled).\n"
        "/due: payouts due; mark them paid with the transfer reference.\n"
        "/disputes: farmers' open disputes about payouts; correct the amount or explain."
    ) + "\n\n" + t(PRICES_LINE) + "\n\n" + t(
        "/setprice: set the reference price of a product and grade, typed like 9.6元; "
        "you see the change from the last price before you confirm."
    )
    assert t("📣 Announcement") in said.reply_buttons


# Scheduling: the zone, an example, and the same format back

WEEKDAYS = {
    "zh": ["周一", "周二", "周三", "周四", "周五", "周六", "周日"],
    "en": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
}
ZONES = {"zh": "中国时间（Asia/Shanghai）", "en": "China Time (Asia/Shanghai)"}


def _tomorrow_at_nine(tz: ZoneInfo) -> datetime:
    return datetime.combine(
        datetime.now(tz).date() + timedelta(days=1), datetime.min.time().replace(hour=9)
    )


@LANGS
async def test_scheduling_names_the_zone_and_confirms_in_the_format_asked_for(
    emulator: BotApiEmulator,
    running_bot: BotRunner,
    villages: list[Village],
    session: AsyncSession,
    settings: Settings,
    lang: str,
) -> None:
    t = translator(running_bot, lang)
    tz = ZoneInfo(settings.timezone)
    farmer = await users.ensure_user(session, 720)
    await users.register_farmer(
        session, farmer, name="Li", phone="13800000000", village_id=villages[0].id
    )
    await session.commit()
    coordinator = await _coordinator(emulator, lang)
    await coordinator.send("/broadcast")
    await coordinator.receive_until(lambda m: bool(m.buttons))
    await coordinator.press(f"{t('Farmers')} (1)")
    await coordinator.receive_until(lambda m: bool(m.buttons))
    await coordinator.send("Collection on Sunday")
    await coordinator.receive_until(lambda m: t("📤 Send now") in m.buttons)
    before = _tomorrow_at_nine(tz)
    await coordinator.press(t("🕒 Schedule"))
    asked = await coordinator.receive()
    examples = {before, _tomorrow_at_nine(tz)}  # midnight may pass meanwhile
    question = t("When should it go out? Type the date and time in {zone}, for example {example}.")
    assert asked.text in {
        question.format(zone=ZONES[lang], example=f"{moment:%Y-%m-%d %H:%M}") for moment in examples
    }, asked.text
    example = next(f"{m:%Y-%m-%d %H:%M}" for m in examples if f"{m:%Y-%m-%d %H:%M}" in asked.text)
    await coordinator.send(example)
    confirmed = await coordinator.receive()
    moment = datetime.strptime(example, "%Y-%m-%d %H:%M")
    when = f"{example} ({WEEKDAYS[lang][moment.weekday()]})"
    assert confirmed.text == t(
        "🕒 Announcement #{id} is scheduled for {when}, {zone}, to {label}."
    ).format(id=1, when=when, zone=ZONES[lang], label=t("all farmers")), confirmed.text
    await coordinator.send("/broadcasts")
    assert when in (await coordinator.receive()).text


# Announcements: who is speaking


@LANGS
async def test_announcements_are_headed_with_the_programme_in_the_readers_language(
    emulator: BotApiEmulator,
    running_bot: BotRunner,
    villages: list[Village],
    session: AsyncSession,
    lang: str,
) -> None:
    t = translator(running_bot, lang)
    readers = {"zh": 731, "en": 732}
    for code, telegram_id in readers.items():
        user = await users.ensure_user(session, telegram_id)
        await users.set_language(session, user, code)
        await users.register_farmer(
            session, user, name="Li", phone="13800000000", village_id=villages[0].id
        )
    await session.commit()
    chats = {code: emulator.user(tid, language_code=code) for code, tid in readers.items()}
    headings = {
        code: translator(running_bot, code)("📣 Announcement from {programme}").format(
            programme=PROGRAMME
        )
        for code in readers
    }
    assert headings == {
        "zh": "📣 来自 Baoshan Coffee 的公告",
        "en": "📣 Announcement from Baoshan Coffee",
    }
    coordinator = await _coordinator(emulator, lang)

    await coordinator.send("/broadcast")
    await coordinator.receive_until(lambda m: bool(m.buttons))
    await coordinator.press(f"{t('Farmers')} (2)")
    await coordinator.receive_until(lambda m: bool(m.buttons))
    await coordinator.send("Collection on Sunday")
    await coordinator.receive_until(
        lambda m: m.text == t("Preview: this is what recipients will see.")
    )
    assert (await coordinator.receive()).text == f"{headings[lang]}\n\nCollection on Sunday"
    await coordinator.receive_until(lambda m: t("📤 Send now") in m.buttons)
    await coordinator.press(t("📤 Send now"))
    for code, chat in chats.items():
        got = await chat.receive(timeout=10)
        assert got.text == f"{headings[code]}\n\nCollection on Sunday", chat.transcript()

    # A photo: the heading is in the caption, and the longest caption still fits in 1024.
    await outbox_drained(session)
    await running_bot.idle(coordinator)
    coordinator.mark_read()  # the progress message
    await coordinator.send("/broadcast")
    await coordinator.receive_until(lambda m: bool(m.buttons))
    await coordinator.press(f"{t('Farmers')} (2)")
    await coordinator.receive_until(lambda m: bool(m.buttons))
    await coordinator.send_photo(caption="☕" * 1000)
    refused = await coordinator.receive()
    limit = 1024 - max(len(h.encode("utf-16-le")) // 2 + 2 for h in headings.values())
    assert refused.text == t(
        "That is too long for one message (at most {limit} characters)."
    ).format(limit=limit), coordinator.transcript()
    await coordinator.receive()  # the question again
    caption = "☕" * (limit - 1) + "!"
    await coordinator.send_photo(caption=caption)
    await coordinator.receive_until(lambda m: t("📤 Send now") in m.buttons)
    await coordinator.press(t("📤 Send now"))
    for code, chat in chats.items():
        got = await chat.receive(timeout=10)
        assert got.photo and got.text == f"{headings[code]}\n\n{caption}", chat.transcript()
    assert not [e for e in emulator.user(731).errors + emulator.user(732).errors]


# The coordinator's menu


@LANGS
async def test_a_new_coordinator_has_a_menu_of_their_tools(
    emulator: BotApiEmulator,
    running_bot: BotRunner,
    villages: list[Village],
    lang: str,
) -> None:
    t = translator(running_bot, lang)
    coordinator = emulator.user(COORDINATOR_ID, language_code=lang)
    await coordinator.send("/start")
    await coordinator.receive_until(lambda m: bool(m.buttons))
    await coordinator.press(WORDS[lang]["language"])
    greeting = await coordinator.receive()
    labels = [
        "📣 Announcement",
        "🗓 Announcements",
        "🏢 Approve merchants",
        "🏘 Villages",
        "📜 Audit log",
        "🔨 Auctions",
        "📊 Figures",
        "💾 Export",
        "❓ Help",
    ]
    assert greeting.reply_buttons == [t(label) for label in labels], coordinator.transcript()
    assert greeting.text == t(
        "You are a coordinator. Your tools are in the menu below: announcements, auctions, "
        "merchants waiting for approval, villages and the audit log. ❓ Help explains each one."
    )
    # Each button does what its command does.
    for label, command in zip(
        labels,
        [
            "/broadcast",
            "/broadcasts",
            "/approve",
            "/villages",
            "/audit",
            "/auctions",
            "/stats",
            "/export",
            "/help",
        ],
        strict=True,
    ):
        await coordinator.send(command)
        await running_bot.idle(coordinator)
        by_command = [m.text for m in coordinator.unread]
        coordinator.mark_read()
        await coordinator.send(t(label))
        await running_bot.idle(coordinator)
        by_button = [m.text for m in coordinator.unread]
        coordinator.mark_read()
        assert by_button == by_command and by_button, (label, coordinator.transcript())
    # Someone else who types a label is told it is not theirs.
    farmer = emulator.user(741, language_code=lang)
    await register_farmer(farmer, lang, name="Bo")
    await farmer.send(t("📣 Announcement"))
    refused = await farmer.receive()
    assert refused.text == t("Sorry, only coordinators can do that.")
    assert refused.reply_buttons == [t(label) for label in FARMER_MENU], farmer.transcript()
