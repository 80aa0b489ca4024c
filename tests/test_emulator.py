"""End-to-end tests of the Bot API emulator, driven by a real aiogram Bot/Dispatcher."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from aiogram import Bot, Dispatcher, F
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.filters import CommandObject, CommandStart
from aiogram.types import (
    BotCommand,
    BotCommandScopeAllPrivateChats,
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.emulator import BotApiEmulator, UserChat, make_png

pytestmark = pytest.mark.timeout(30)

TOKEN = "123456:TEST-token"


@pytest_asyncio.fixture
async def emu() -> AsyncIterator[BotApiEmulator]:
    emulator = BotApiEmulator()
    await emulator.start()
    try:
        yield emulator
    finally:
        await emulator.stop()


@pytest_asyncio.fixture
async def bot(emu: BotApiEmulator) -> AsyncIterator[Bot]:
    session = AiohttpSession(api=TelegramAPIServer.from_base(emu.base_url))
    instance = Bot(TOKEN, session=session)
    try:
        yield instance
    finally:
        await instance.session.close()


@asynccontextmanager
async def polling(emu: BotApiEmulator, dp: Dispatcher, bot: Bot) -> AsyncIterator[None]:
    """Run dp.start_polling in a task until the block exits."""
    task = asyncio.create_task(
        dp.start_polling(bot, handle_signals=False, polling_timeout=1, close_bot_session=False)
    )
    try:
        await emu.wait_for(lambda e: e.calls_to("getUpdates") or task.done(), timeout=5)
        if task.done():
            task.result()
        yield
    finally:
        if not task.done():
            await dp.stop_polling()
        await asyncio.wait_for(task, timeout=10)


def echo_dispatcher() -> Dispatcher:
    dp = Dispatcher()

    @dp.message(CommandStart())
    async def start(message: Message, command: CommandObject) -> None:
        await message.answer(f"start:{command.args or ''}")

    @dp.message(F.text)
    async def echo(message: Message) -> None:
        await message.answer(message.text or "")

    return dp


# ---------------------------------------------------------------------------- basic flows


@pytest.mark.asyncio
async def test_echo_and_command(emu: BotApiEmulator, bot: Bot) -> None:
    dp = echo_dispatcher()
    li = emu.user(1001, first_name="Li", language_code="zh")
    assert emu.user(1001) is li
    async with polling(emu, dp, bot):
        await li.send("hello")
        assert (await li.receive()).text == "hello"
        await li.send("/start v_abc")
        msg = await li.receive()
        assert msg.text == "start:v_abc"
        assert msg.chat_id == 1001
        assert msg.raw["from"]["username"] == "farmgate_test_bot"
        assert [m.message_id for m in li.messages] == [2, 4]  # shared per-chat id sequence
    assert li.last is msg
    assert "'hello'" in li.transcript()
    me = await bot.get_me()
    assert me.is_bot and me.id == 123456 and me.username == "farmgate_test_bot"


@pytest.mark.asyncio
async def test_inline_keyboard_press_edit_and_answer(emu: BotApiEmulator, bot: Bot) -> None:
    dp = Dispatcher()

    @dp.message(F.text == "order")
    async def order(message: Message) -> None:
        keyboard = InlineKeyboardMarkup(
            inline_keyboard=[
                [
                    InlineKeyboardButton(text="✅ Confirm", callback_data="order:yes"),
                    InlineKeyboardButton(text="Cancel", callback_data="order:no"),
                ],
                [InlineKeyboardButton(text="Help", url="https://example.com")],
            ]
        )
        await message.answer("Confirm 10 kg?", reply_markup=keyboard)

    @dp.callback_query(F.data.startswith("order:"))
    async def on_press(query: CallbackQuery) -> None:
        assert isinstance(query.message, Message)
        verdict = "confirmed" if query.data == "order:yes" else "cancelled"
        await query.message.edit_text(f"Order {verdict}")
        await query.answer(f"ok {verdict}", show_alert=query.data == "order:no")

    chat = emu.user(1002, first_name="Ana")
    async with polling(emu, dp, bot):
        await chat.send("order")
        msg = await chat.receive()
        assert msg.text == "Confirm 10 kg?"
        assert msg.buttons == ["✅ Confirm", "Cancel", "Help"]
        assert msg.button("Help").url == "https://example.com"

        with pytest.raises(AssertionError, match=r"available: .*Cancel"):
            await chat.press("Nope")

        query_id = await chat.press("Confirm")  # contains-fallback
        answer = await chat.wait_callback_answer(query_id)
        assert answer["text"] == "ok confirmed"
        await chat.wait_for(lambda c: c.messages[0].edits == 1)
        assert msg.text == "Order confirmed"
        assert msg.history == ["Confirm 10 kg?"]
        assert msg.inline_keyboard == []  # edit without reply_markup drops the keyboard

        # pressing a button of the (now stale) message still works when asked explicitly
        await chat.press(callback_data="order:no", message=msg, force=True)
        await chat.wait_for(lambda c: len(c.callback_answers) == 2)
        assert chat.callback_answers[1]["show_alert"] is True
        assert msg.text == "Order cancelled"
    assert "press" in chat.transcript()


@pytest.mark.asyncio
async def test_contact_location_and_media_updates(emu: BotApiEmulator, bot: Bot) -> None:
    dp = Dispatcher()

    @dp.message(F.contact)
    async def contact(message: Message) -> None:
        assert message.contact is not None and message.from_user is not None
        own = message.contact.user_id == message.from_user.id
        await message.answer(f"phone {message.contact.phone_number} own={own}")

    @dp.message(F.location)
    async def location(message: Message) -> None:
        assert message.location is not None
        await message.answer(f"at {message.location.latitude:.1f},{message.location.longitude:.1f}")

    @dp.message(F.sticker | F.voice | F.document)
    async def other(message: Message) -> None:
        kind = "sticker" if message.sticker else "voice" if message.voice else "document"
        await message.answer(kind)

    chat = emu.user(1003, first_name="Kim")
    async with polling(emu, dp, bot):
        await chat.send_contact("+8613800000000", own=True)
        assert (await chat.receive()).text == "phone +8613800000000 own=True"
        await chat.send_contact("+8613900000000", own=False)
        assert (await chat.receive()).text == "phone +8613900000000 own=False"
        await chat.send_location(25.1, 99.2)
        assert (await chat.receive()).text == "at 25.1,99.2"
        await chat.send_sticker()
        await chat.send_voice()
        await chat.send_document()
        texts = [(await chat.receive()).text or "" for _ in range(3)]
        assert sorted(texts) == ["document", "sticker", "voice"]


@pytest.mark.asyncio
async def test_a_users_photo_is_sent_on_by_file_id(emu: BotApiEmulator, bot: Bot) -> None:
    dp = Dispatcher()

    @dp.message(F.photo)
    async def photo(message: Message, bot: Bot) -> None:
        assert message.photo
        await bot.send_photo(message.chat.id, message.photo[-1].file_id, caption=message.caption)

    chat = emu.user(1004)
    png = make_png(20, 10)
    async with polling(emu, dp, bot):
        await chat.send_photo(caption="harvest", data=png)
        msg = await chat.receive()
    assert msg.media == "photo" and msg.photo_bytes == png and msg.text == "harvest"


# ---------------------------------------------------------------------------- update semantics


@pytest.mark.asyncio
async def test_duplicate_update_id_is_delivered_twice(emu: BotApiEmulator, bot: Bot) -> None:
    dp = Dispatcher()
    seen: list[int] = []

    @dp.message()
    async def record(message: Message, event_update: Update) -> None:
        seen.append(event_update.update_id)
        await message.answer(f"n={len(seen)}")

    chat = emu.user(1005)
    async with polling(emu, dp, bot):
        uid = await chat.send("pay")
        await chat.receive()
        assert await chat.send("pay", update_id=uid) == uid
        await chat.receive()
        emu.redeliver(uid)
        await chat.receive()
        await chat.send("next")  # later updates still flow after the lower offset
        await chat.receive()
    assert seen == [uid, uid, uid, uid + 1]


@pytest.mark.asyncio
async def test_allowed_updates_filter_drops_unhandled_types(emu: BotApiEmulator, bot: Bot) -> None:
    dp = echo_dispatcher()  # only message handlers -> allowed_updates == ["message"]
    chat = emu.user(1006)
    async with polling(emu, dp, bot):
        await chat.send("hi")
        msg = await chat.receive()
        emu.push_update(
            {
                "callback_query": {
                    "id": "1",
                    "from": chat.user_dict,
                    "data": "x",
                    "chat_instance": "1",
                    "message": msg.raw,
                }
            }
        )
    assert emu.allowed_updates == ["message"]
    assert emu.dropped_updates and "callback_query" in emu.dropped_updates[0]


@pytest.mark.asyncio
async def test_raw_http_get_updates_long_poll_and_offsets(emu: BotApiEmulator) -> None:
    chat = emu.user(1007)
    base = f"{emu.base_url}/bot{TOKEN}"
    async with aiohttp.ClientSession() as http:
        start = time.monotonic()
        async with http.get(f"{base}/getUpdates", params={"timeout": "1"}) as resp:
            assert await resp.json() == {"ok": True, "result": []}
        assert 0.9 <= time.monotonic() - start < 2

        async def push_later() -> None:
            await emu.wait_for(lambda e: e.polls_waiting == 1)
            await chat.send("late")

        pusher = asyncio.create_task(push_later())
        start = time.monotonic()
        async with http.post(f"{base}/GETUPDATES", json={"timeout": 5}) as resp:
            body = await resp.json()
        await pusher
        assert time.monotonic() - start < 2
        [update] = body["result"]
        assert update["message"]["text"] == "late"

        # unconfirmed updates are re-delivered; offset confirms them
        async with http.post(f"{base}/getUpdates", data={"timeout": "0"}) as resp:
            assert len((await resp.json())["result"]) == 1
        offset = str(update["update_id"] + 1)
        async with http.post(f"{base}/getUpdates", data={"offset": offset}) as resp:
            assert (await resp.json())["result"] == []

        async with http.post(f"{base}/noSuchMethod") as resp:
            assert resp.status == 404
            assert await resp.json() == {
                "ok": False,
                "error_code": 404,
                "description": "Not Found: method not found",
            }
        assert "sendChatAction" not in emu.emulated_methods  # farmgate never calls it
        async with http.post(f"{base}/sendChatAction", json={"chat_id": 1007}) as resp:
            assert resp.status == 404
        async with http.post(f"{base}/sendMessage", json={"chat_id": 1007, "text": "j"}) as resp:
            assert (await resp.json())["result"]["text"] == "j"
    assert chat.last is not None and chat.last.text == "j"


@pytest.mark.asyncio
async def test_token_restriction() -> None:
    async with BotApiEmulator(token=TOKEN) as emu:
        good = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(emu.base_url)))
        bad = Bot(
            "999:other", session=AiohttpSession(api=TelegramAPIServer.from_base(emu.base_url))
        )
        try:
            assert (await good.get_me()).id == 123456
            with pytest.raises(TelegramUnauthorizedError):
                await bad.get_me()
        finally:
            await good.session.close()
            await bad.session.close()


# ---------------------------------------------------------------------------- errors & failures


@pytest.mark.asyncio
async def test_block_and_failure_injection(emu: BotApiEmulator, bot: Bot) -> None:
    emu.user(2001)
    emu.user(2002)

    emu.block(2001)
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(2001, "hi")
    await bot.send_message(2002, "still fine")
    emu.unblock(2001)
    await bot.send_message(2001, "back")

    emu.fail_next(2002, status=429, retry_after=1)
    with pytest.raises(TelegramRetryAfter) as info:
        await bot.send_message(2002, "x")
    assert info.value.retry_after == 1
    await bot.send_message(2002, "retried")  # only the next call fails

    emu.fail_next(status=502, times=2)
    for _ in range(2):
        with pytest.raises(TelegramServerError):
            await bot.send_message(2001, "x")

    emu.fail_next(2001, status=0)
    with pytest.raises(TelegramNetworkError):
        await bot.send_message(2001, "dropped")

    emu.fail_next(2001, status=500, deliver=True)  # delivered, but the ack is lost
    with pytest.raises(TelegramServerError):
        await bot.send_message(2001, "lost ack")

    assert [m.text for m in emu.user(2001).messages] == ["back", "lost ack"]
    assert [m.text for m in emu.user(2002).messages] == ["still fine", "retried"]
    statuses = [c.status for c in emu.calls if c.method == "sendMessage"]
    assert statuses == [403, 200, 200, 429, 200, 502, 502, 0, 500]
    assert len(emu.sent_times[2001]) == 2 and len(emu.sent_log) == 4


@pytest.mark.asyncio
async def test_429_beyond_telegrams_limits(emu: BotApiEmulator, bot: Bot) -> None:
    for chat_id in (2101, 2102, 2103, 2104):
        emu.user(chat_id)
    # Telegram's 1 a second per chat and 30 a second overall, as 1 and 3 a minute: a slow
    # machine cannot spread these calls over the window.
    emu.enforce_limits(per_chat_per_s=1 / 60, global_per_s=3 / 60, window=60)
    await bot.send_message(2101, "one")
    with pytest.raises(TelegramRetryAfter) as info:
        await bot.send_message(2101, "two")  # a second message to one chat within the window
    assert 1 <= info.value.retry_after <= 60
    await bot.send_photo(2102, BufferedInputFile(make_png(), "a.png"))  # other chats are fine
    await bot.send_document(2103, BufferedInputFile(b"x", "x.csv"))
    with pytest.raises(TelegramRetryAfter) as info:
        await bot.send_message(2104, "a fourth message within the window, over all chats")
    assert 1 <= info.value.retry_after <= 60
    assert [m.text for m in emu.user(2101).messages] == ["one"]  # refused ones never arrive
    assert emu.user(2104).messages == []
    refused = [c for c in emu.calls if c.status == 429]
    assert [(c.method, c.chat_id) for c in refused] == [
        ("sendMessage", 2101),
        ("sendMessage", 2104),
    ]
    emu.disable_limits()
    await bot.send_message(2101, "two")


@pytest.mark.asyncio
async def test_latency_delays_every_call_but_the_long_poll(emu: BotApiEmulator, bot: Bot) -> None:
    emu.user(2111)
    emu.latency = 0.3
    start = time.monotonic()
    await bot.send_message(2111, "far away")
    await bot.get_me()
    assert time.monotonic() - start >= 0.6  # a round trip each
    emu.latency = 60  # getUpdates (timeout 0) must not wait for it
    assert await asyncio.wait_for(bot.get_updates(timeout=0), timeout=20) == []


def test_latency_ms_on_the_command_line() -> None:
    from tests.emulator.__main__ import emulator_from, parse_args

    emu = emulator_from(parse_args(["--latency-ms", "150", "--user", "1001:Li"]))
    assert emu.latency == pytest.approx(0.15) and emu.control_api
    assert emu.user(1001).first_name == "Li"
    assert emulator_from(parse_args([])).latency == 0


@pytest.mark.asyncio
async def test_callback_queries_expire(emu: BotApiEmulator, bot: Bot) -> None:
    too_old = "query is too old and response timeout expired or query ID is invalid"
    chat = emu.user(2121)
    markup = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="A", callback_data="a")]]
    )
    await bot.send_message(2121, "pick", reply_markup=markup)

    fresh = await chat.press("A")
    assert await bot.answer_callback_query(fresh, text="ok")
    assert emu.callback_answer(fresh) == {"callback_query_id": fresh, "text": "ok"}
    with pytest.raises(TelegramBadRequest, match=too_old):
        await bot.answer_callback_query(fresh)  # answered already

    backlog = await chat.press("A")
    emu.expire_callbacks()  # e.g. the bot was down while the user pressed
    with pytest.raises(TelegramBadRequest, match=too_old):
        await bot.answer_callback_query(backlog)
    assert emu.callback_answer(backlog) is None

    emu.callback_ttl = 3600
    assert await bot.answer_callback_query(await chat.press("A"))
    emu.callback_ttl = 0  # every query is older than that by the time the bot answers
    with pytest.raises(TelegramBadRequest, match=too_old):
        await bot.answer_callback_query(await chat.press("A"))
    with pytest.raises(TelegramBadRequest, match=too_old):
        await bot.answer_callback_query("no-such-query")
    assert len(chat.callback_answers) == 2


@pytest.mark.asyncio
async def test_telegram_bad_requests(emu: BotApiEmulator, bot: Bot) -> None:
    emu.user(2201)
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(9999, "who?")
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(2201, "   ")
    with pytest.raises(TelegramBadRequest, match="parse_mode 'HTML' is not emulated"):
        await bot.send_message(2201, "price < 5", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(
            2201,
            "x",
            reply_markup=InlineKeyboardMarkup(
                inline_keyboard=[[InlineKeyboardButton(text="b", callback_data="x" * 65)]]
            ),
        )
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(2201, "x" * 4097)

    markup = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="A", callback_data="a")]]
    )
    sent = await bot.send_message(2201, "same", reply_markup=markup)
    with pytest.raises(TelegramBadRequest, match="message is not modified: specified new"):
        await bot.edit_message_text(
            text="same", chat_id=2201, message_id=sent.message_id, reply_markup=markup
        )
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_reply_markup(
            chat_id=2201, message_id=sent.message_id, reply_markup=markup
        )
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text(text="new", chat_id=2201, message_id=777)
    edited = await bot.edit_message_text(text="new", chat_id=2201, message_id=sent.message_id)
    assert isinstance(edited, Message) and edited.text == "new" and edited.reply_markup is None
    assert await bot.delete_message(2201, sent.message_id)
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(2201, sent.message_id)
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text(text="newer", chat_id=2201, message_id=sent.message_id)
    chat = emu.user(2201)
    assert chat.messages[0].deleted and chat.messages[0].edits == 1
    assert [e[0] for e in chat.errors][:3] == ["sendMessage"] * 3


# ---------------------------------------------------------------------------- bot-side features


@pytest.mark.asyncio
async def test_commands_per_scope_and_language(emu: BotApiEmulator, bot: Bot) -> None:
    await bot.set_my_commands([BotCommand(command="start", description="Start")])
    await bot.set_my_commands(
        [
            BotCommand(command="start", description="开始"),
            BotCommand(command="lot", description="批次"),
        ],
        language_code="zh",
    )
    await bot.set_my_commands(
        [BotCommand(command="help", description="Help")], scope=BotCommandScopeAllPrivateChats()
    )
    assert emu.commands() == [{"command": "start", "description": "Start"}]
    assert [c["command"] for c in emu.commands(language_code="zh")] == ["start", "lot"]
    assert emu.commands("all_private_chats") == [{"command": "help", "description": "Help"}]
    await bot.set_my_commands([], language_code="zh")
    assert emu.commands(language_code="zh") == []
    await bot.delete_my_commands(scope=BotCommandScopeAllPrivateChats())  # e.g. on /demote
    assert emu.commands("all_private_chats") == []
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="Start", description="x")])


@pytest.mark.asyncio
async def test_uploaded_photo_and_document_bytes(emu: BotApiEmulator, bot: Bot) -> None:
    chat = emu.user(2301)
    png = make_png(64, 32)
    sent = await bot.send_photo(2301, BufferedInputFile(png, "qr.png"), caption=" scan ")
    assert sent.photo and sent.photo[-1].width == 64 and sent.caption == "scan"
    msg = chat.last
    assert msg is not None and msg.media == "photo" and msg.photo_bytes == png
    assert msg.text == "scan" and msg.photo == sent.photo[-1].file_id
    assert emu.uploaded(sent.photo[-1].file_id) == png

    again = await bot.send_photo(2301, sent.photo[-1].file_id)  # resend by file_id
    assert again.photo and again.photo[-1].file_id == sent.photo[-1].file_id

    doc = await bot.send_document(2301, BufferedInputFile(b"a,b\n1,2\n", "lots.csv"))
    assert doc.document is not None and doc.document.file_name == "lots.csv"
    assert doc.document.mime_type == "text/csv"
    assert chat.last is not None and chat.last.document_bytes == b"a,b\n1,2\n"
    with pytest.raises(TelegramBadRequest, match="can't use file of type Photo as Document"):
        await bot.send_document(2301, sent.photo[-1].file_id)


@pytest.mark.asyncio
async def test_reply_keyboard_tracking(emu: BotApiEmulator, bot: Bot) -> None:
    dp = Dispatcher()

    @dp.message(F.text == "share")
    async def share(message: Message) -> None:
        keyboard = ReplyKeyboardMarkup(
            keyboard=[
                [KeyboardButton(text="📱 Share phone", request_contact=True)],
                [KeyboardButton(text="Skip")],
            ],
            resize_keyboard=True,
        )
        await message.answer("Please share", reply_markup=keyboard)

    @dp.message(F.contact)
    async def got(message: Message) -> None:
        await message.answer("Thanks", reply_markup=ReplyKeyboardRemove())
        await message.answer("Next step")

    chat: UserChat = emu.user(2401)
    async with polling(emu, dp, bot):
        await chat.send("share")
        msg = await chat.receive()
        assert msg.reply_buttons == ["📱 Share phone", "Skip"]
        assert msg.reply_keyboard is not None and msg.reply_keyboard[0][0].request_contact
        assert msg.inline_keyboard == [] and msg.raw.get("reply_markup") is None
        assert chat.keyboard is not None
        await chat.send_contact("+8613800000000")
        await chat.wait_for(lambda c: len(c.unread) == 2)
        assert [m.text for m in chat.unread] == ["Thanks", "Next step"]
        assert chat.keyboard is None and chat.messages[1].remove_keyboard
        found = await chat.receive_until(lambda m: "Next" in (m.text or ""))
        assert found.text == "Next step"
        with pytest.raises(AssertionError, match=r"no new bot message within 0\.2s"):
            await chat.receive(timeout=0.2)


@pytest.mark.asyncio
async def test_call_log_and_reset(emu: BotApiEmulator, bot: Bot) -> None:
    emu.user(2501)
    await asyncio.gather(*(bot.send_message(2501, f"m{i}") for i in range(20)))
    sends = emu.calls_to("sendMessage")
    assert len(sends) == 20 and all(c.chat_id == 2501 and c.ok for c in sends)
    assert sorted(int(c.params["text"][1:]) for c in sends) == list(range(20))
    times = emu.sent_times[2501]
    assert times == sorted(times) and len(emu.sent_log) == 20
    ids = [m.message_id for m in emu.user(2501).messages]
    assert ids == list(range(1, 21))
    emu.reset_log()
    assert emu.calls == [] and emu.sent_log == [] and emu.sent_times == {}


@pytest.mark.asyncio
async def test_bot_restart_does_not_lose_updates(emu: BotApiEmulator, bot: Bot) -> None:
    chat = emu.user(2601)
    async with polling(emu, echo_dispatcher(), bot):
        await chat.send("one")
        assert (await chat.receive()).text == "one"
    # the aborted long poll of the stopped bot must not swallow this update
    await chat.send("while down")
    await emu.wait_for(lambda e: e.polls_waiting == 0)  # the stopped bot's long poll has ended
    async with polling(emu, echo_dispatcher(), bot):
        assert (await chat.receive()).text == "while down"
        await emu.wait_for(lambda e: e.pending_updates == 0)  # confirmed: never delivered again
    assert [m.text for m in chat.messages] == ["one", "while down"]


@pytest.mark.asyncio
async def test_sandbox_control_api_drives_users_over_http() -> None:
    async with BotApiEmulator(control_api=True, auto_register=True) as emu:
        session = AiohttpSession(api=TelegramAPIServer.from_base(emu.base_url))
        sandbox_bot = Bot(TOKEN, session=session)
        try:
            async with (
                polling(emu, echo_dispatcher(), sandbox_bot),
                aiohttp.ClientSession() as http,
            ):
                url = f"{emu.base_url}/_emu/users/1001"
                async with http.post(url, json={"text": "/start v_abc"}) as resp:
                    assert (await resp.json())["ok"]
                await emu.user(1001).receive()
                async with http.get(url) as resp:
                    assert "'start:v_abc'" in await resp.text()
                async with http.post(url, json={"press": "nothing to press", "wait": 0}) as resp:
                    assert resp.status == 400
                async with http.get(f"{emu.base_url}/_emu") as resp:
                    assert (await resp.json())["chats"]["1001"]["bot_messages"] == 1
        finally:
            await sandbox_bot.session.close()


@pytest.mark.asyncio
async def test_settle_needs_the_bot_to_take_the_updates(emu: BotApiEmulator) -> None:
    chat = emu.user(2701)
    await chat.send("nobody polls")
    with pytest.raises(AssertionError, match=r"not settled .* within 0\.2s"):
        await chat.settle(quiet=0.01, timeout=0.2)
    assert chat.update_ids == [1] and emu.pending_updates == 1


def menu_dispatcher() -> Dispatcher:
    """/menu shows a reply keyboard in the user's language (a request_contact button too) and
    an inline button; texts and contacts are echoed."""
    dp = Dispatcher()
    labels = {"zh": ("📦 上报收成", "📱 分享手机号"), "en": ("📦 Report harvest", "📱 Share phone")}

    @dp.message(F.text == "/menu")
    async def menu(message: Message) -> None:
        assert message.from_user is not None
        report, share = labels[message.from_user.language_code or "en"]
        keyboard = ReplyKeyboardMarkup(
            keyboard=[
                [KeyboardButton(text=report)],
                [KeyboardButton(text=share, request_contact=True)],
            ]
        )
        await message.answer("menu", reply_markup=keyboard)
        await message.answer(
            "inline",
            reply_markup=InlineKeyboardMarkup(
                inline_keyboard=[[InlineKeyboardButton(text="OK", callback_data="ok")]]
            ),
        )

    @dp.message(F.contact)
    async def contact(message: Message) -> None:
        assert message.contact is not None
        await message.answer(f"contact:{message.contact.phone_number}:{message.contact.user_id}")

    @dp.message(F.text)
    async def echo(message: Message) -> None:
        await message.answer(f"text:{message.text}")

    @dp.callback_query(F.data == "ok")
    async def ok(callback: CallbackQuery) -> None:
        await callback.answer()
        assert isinstance(callback.message, Message)
        await callback.message.answer("pressed OK")

    return dp


@pytest.mark.asyncio
@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_sandbox_press_works_on_reply_keyboard_buttons_and_errors_are_one_line(
    lang: str,
) -> None:
    """Over HTTP, as the README's sandbox sessions do: "press" on a reply-keyboard button sends
    its text (or the user's own contact), on an inline button presses it; a press that cannot
    be done is one readable line of plain text, not the whole chat in \\u escapes."""
    report, share = {"zh": ("📦 上报收成", "分享"), "en": ("📦 Report harvest", "Share")}[lang]
    async with BotApiEmulator(control_api=True, auto_register=True) as emu:
        session = AiohttpSession(api=TelegramAPIServer.from_base(emu.base_url))
        sandbox_bot = Bot(TOKEN, session=session)
        try:
            async with (
                polling(emu, menu_dispatcher(), sandbox_bot),
                aiohttp.ClientSession() as http,
            ):
                url = f"{emu.base_url}/_emu/users/1002"
                chat = emu.user(1002)

                async def post(body: dict[str, object]) -> aiohttp.ClientResponse:
                    async with http.post(url, json=body) as resp:
                        await resp.read()
                        return resp

                assert (await post({"text": "/menu", "language_code": lang})).status == 200
                # At once, as pasted: the press waits until the bot has shown the button.
                assert (await post({"press": report})).status == 200
                await chat.receive_until(lambda m: m.text == "inline")
                assert (await chat.receive()).text == f"text:{report}"
                assert (await post({"press": share})).status == 200  # part of the label
                assert (await chat.receive()).text == f"contact:{chat.phone}:1002"
                await post({"press": share, "phone": "+8613900000001"})
                assert (await chat.receive()).text == "contact:+8613900000001:1002"
                assert (await post({"press": "OK"})).status == 200  # inline buttons still work
                assert (await chat.receive()).text == "pressed OK"
                # An older message's button, named by its number in the transcript.
                inline = next(m for m in chat.messages if m.text == "inline")
                assert (await post({"text": "/menu"})).status == 200
                await chat.receive_until(lambda m: m.text == "inline" and m is not inline)
                pressed = await post({"press": "OK", "message": f"#{inline.message_id}"})
                assert pressed.status == 200
                assert (await chat.receive()).text == "pressed OK"
                assert chat.transcript().count(f"(data='ok') on #{inline.message_id}") == 2

                async with http.post(url, json={"press": "不存在 missing", "wait": 0.1}) as resp:
                    assert resp.status == 400
                    assert resp.content_type == "text/plain" and resp.charset == "utf-8"
                    line = await resp.text()
                assert line.count("\n") == 1 and "\\u" not in line, line
                assert "不存在 missing" in line and f"[{report}]" in line and "[OK]" in line
                for body, expected in [
                    ({"wave": 1}, "unknown action"),
                    ({"press": " "}, "ambiguous"),
                ]:
                    async with http.post(url, json=body) as resp:
                        text = await resp.text()
                        assert resp.status == 400 and text.count("\n") == 1, text
                        assert expected in text, text
                async with http.post(url, data=b"{not json") as resp:
                    assert resp.status == 400 and "not JSON" in await resp.text()
        finally:
            await sandbox_bot.session.close()
