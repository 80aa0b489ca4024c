"""The emulator's user side as JSON (tests/emulator/userside.py) and the demo page that forwards
to it (bot/demo/page.py), without a browser: what a chat shows, the actions by a button's
identity, the event stream, files, the page's labels in both languages, and that the browser
tests refuse to pass quietly where Chromium is missing."""

from __future__ import annotations

import ast
import asyncio
import base64
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import (
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
)
from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st

from bot.config import REPO_ROOT
from bot.demo.page import LABELS, create_app
from tests.browser import chromium
from tests.emulator import BotApiEmulator, make_png
from tests.emulator.userside import text_parts

TOKEN = "123456:TEST-token"
JSON = dict[str, Any]


@pytest_asyncio.fixture
async def emu() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator(control_api=True, auto_register=True) as emulator:
        yield emulator


@pytest_asyncio.fixture
async def bot(emu: BotApiEmulator) -> AsyncIterator[Bot]:
    """The bot's side, called by hand: what it sends is what the page must show."""
    instance = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(emu.base_url)))
    yield instance
    await instance.session.close()


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def call(
    http: aiohttp.ClientSession, method: str, url: str, body: Any = None
) -> tuple[int, Any]:
    async with http.request(method, url, json=body) as resp:
        text = await resp.text()
        return resp.status, json.loads(text) if resp.content_type == "application/json" else text


MENU = ReplyKeyboardMarkup(
    keyboard=[
        [KeyboardButton(text="📦 Report harvest")],
        [KeyboardButton(text="📱 Share my phone number", request_contact=True)],
    ]
)
CHOICE = InlineKeyboardMarkup(
    inline_keyboard=[
        [
            InlineKeyboardButton(text="中文", callback_data="lang:zh"),
            InlineKeyboardButton(text="English", callback_data="lang:en"),
        ]
    ]
)


async def test_a_chat_as_its_user_sees_it(
    emu: BotApiEmulator, bot: Bot, http: aiohttp.ClientSession
) -> None:
    base = f"{emu.base_url}/_emu"
    for bad, error in [
        ({"id": "x", "first_name": "Li"}, "a user id is a positive number"),
        ({"id": 0, "first_name": "Li"}, "a user id is a positive number"),
        ({"id": 7, "first_name": " "}, "a name of 1 to 64 characters"),
    ]:
        status, body = await call(http, "POST", f"{base}/chats", bad)
        assert status == 400 and body["error"].startswith(error), body
    status, created = await call(
        http, "POST", f"{base}/chats", {"id": 7, "first_name": "李伟", "language_code": "zh"}
    )
    assert status == 200
    assert created == {
        "id": 7,
        "first_name": "李伟",
        "language_code": "zh",
        "phone": "+8613800000007",
        "message_count": 0,
    }
    assert (await call(http, "GET", f"{base}/chats/8"))[0] == 404

    await call(http, "POST", f"{base}/chats/7/actions", {"text": "/start"})
    choice = await bot.send_message(7, "Choose <b>your</b> language:", reply_markup=CHOICE)
    await bot.edit_message_text("Language: English", chat_id=7, message_id=choice.message_id)
    await bot.send_message(7, "Menu", reply_markup=MENU)
    gone = await bot.send_message(7, "soon deleted")
    await bot.delete_message(7, gone.message_id)
    await bot.send_photo(7, BufferedInputFile(make_png(16, 16), "qr.png"), caption="QR")
    csv = "name,kg\n李伟,120\n".encode()
    await bot.send_document(7, BufferedInputFile(csv, "农户.csv"))

    status, chat = await call(http, "GET", f"{base}/chats/7")
    assert status == 200 and chat["message_count"] == 5
    messages = chat["messages"]
    assert [(m["from"], m["parts"][:1]) for m in messages[:3]] == [
        ("user", [{"text": "/start", "type": "bot_command"}]),
        ("bot", [{"text": "Language: English"}]),  # edited in place, its keyboard gone
        ("bot", [{"text": "Menu"}]),
    ]
    assert messages[1]["edited"] and messages[1]["edits"] == 1
    assert messages[1]["inline_keyboard"] == []
    assert "soon deleted" not in json.dumps(messages)
    photo, document = messages[3], messages[4]
    assert photo["media"] == "photo" and photo["parts"] == [{"text": "QR"}]
    assert document["media"] == "document" and document["file"]["file_name"] == "农户.csv"
    assert chat["keyboard"] == [
        [{"text": "📦 Report harvest", "request_contact": False, "request_location": False}],
        [{"text": "📱 Share my phone number", "request_contact": True, "request_location": False}],
    ]

    async with http.get(f"{base}/files/{document['file']['file_id']}") as resp:
        assert await resp.read() == csv
        assert resp.headers["Content-Disposition"] == (
            "attachment; filename*=UTF-8''%E5%86%9C%E6%88%B7.csv"
        )
    async with http.get(f"{base}/files/{photo['file']['file_id']}") as resp:
        assert resp.content_type == "image/png" and await resp.read() == make_png(16, 16)
        assert resp.headers["Content-Disposition"].startswith("inline;")
    assert (await call(http, "GET", f"{base}/files/nothing"))[0] == 404


async def test_actions_press_a_button_by_its_identity(
    emu: BotApiEmulator, bot: Bot, http: aiohttp.ClientSession
) -> None:
    url = f"{emu.base_url}/_emu/chats/9/actions"
    chat = emu.user(9, first_name="Wang")
    first = await bot.send_message(9, "Language?", reply_markup=CHOICE)
    await bot.send_message(9, "Again?", reply_markup=CHOICE)
    await bot.send_message(9, "Menu", reply_markup=MENU)

    # The older message's button, not the newest one with the same data.
    pressed = {"inline": {"message_id": first.message_id, "callback_data": "lang:en"}}
    assert (await call(http, "POST", url, pressed))[0] == 200
    update = emu.pushed[chat.update_ids[-1]]["callback_query"]
    assert (update["data"], update["message"]["message_id"]) == ("lang:en", first.message_id)
    status, body = await call(
        http, "POST", url, {"inline": {"message_id": first.message_id, "callback_data": "x"}}
    )
    assert status == 400 and "not found" in body["error"] and "\n" not in body["error"]

    # A reply button by its whole text only; a contact button shares the user's own number.
    status, body = await call(http, "POST", url, {"reply": "📦 Report"})
    assert status == 400 and "📦 Report harvest" in body["error"]
    await call(http, "POST", url, {"reply": "📦 Report harvest"})
    assert emu.pushed[chat.update_ids[-1]]["message"]["text"] == "📦 Report harvest"
    await call(http, "POST", url, {"reply": "📱 Share my phone number"})
    contact = emu.pushed[chat.update_ids[-1]]["message"]["contact"]
    assert (contact["phone_number"], contact["user_id"]) == (chat.phone, 9)

    # Someone else's contact, a location, a photo of one's own and a sample photo.
    other = {"contact": {"own": False, "phone": "+8613900000001", "first_name": "Zhao"}}
    await call(http, "POST", url, other)
    contact = emu.pushed[chat.update_ids[-1]]["message"]["contact"]
    assert contact == {"phone_number": "+8613900000001", "first_name": "Zhao"}
    await call(http, "POST", url, {"location": {"latitude": 25.1, "longitude": 99.2}})
    assert emu.pushed[chat.update_ids[-1]]["message"]["location"] == {
        "latitude": 25.1,
        "longitude": 99.2,
    }
    picture = make_png(20, 10)
    data = base64.b64encode(picture).decode()
    await call(http, "POST", url, {"photo": {"caption": "beans", "data": data}})
    sent = emu.pushed[chat.update_ids[-1]]["message"]
    assert sent["caption"] == "beans" and emu.uploaded(sent["photo"][-1]["file_id"]) == picture
    await call(http, "POST", url, {"photo": {}})
    assert "photo" in emu.pushed[chat.update_ids[-1]]["message"]

    for body, error in [
        ({"photo": {"data": "not base64!"}}, "the photo is not base64"),
        ({"text": "  "}, "an empty message cannot be sent"),
        ({"contact": {"own": False}}, "a contact needs a phone number"),
        ({"wave": True}, "unknown action"),
    ]:
        status, answer = await call(http, "POST", url, body)
        assert status == 400 and answer["error"].startswith(error), answer
    async with http.post(url, data=b"{not json") as resp:
        assert resp.status == 400 and "not JSON" in (await resp.json())["error"]


async def next_event(stream: aiohttp.StreamReader) -> JSON:
    """The next data line of an event stream (comments skipped), within 5 s."""
    async with asyncio.timeout(5):
        while True:
            line = (await stream.readline()).decode().strip()
            if line.startswith("data: "):
                event: JSON = json.loads(line.removeprefix("data: "))
                return event


async def test_the_event_stream_tells_each_change_as_it_happens(
    emu: BotApiEmulator, bot: Bot, http: aiohttp.ClientSession
) -> None:
    chat = emu.user(11, first_name="Zhang")
    await bot.send_message(11, "before the stream")  # already on the page
    async with http.get(f"{emu.base_url}/_emu/events") as resp:
        assert resp.content_type == "text/event-stream"
        assert await next_event(resp.content) == {"type": "ready"}
        await chat.send("hello")
        event = await next_event(resp.content)
        assert (event["type"], event["chat"], event["message"]["from"]) == ("message", 11, "user")
        sent = await bot.send_message(11, "Choose", reply_markup=CHOICE)
        event = await next_event(resp.content)
        assert event["message"]["inline_keyboard"][0][1] == {
            "text": "English",
            "callback_data": "lang:en",
            "url": None,
        }
        await bot.edit_message_text("Chosen", chat_id=11, message_id=sent.message_id)
        event = await next_event(resp.content)
        assert event["message"]["id"] == sent.message_id and event["message"]["edits"] == 1
        await bot.send_message(11, "Menu", reply_markup=MENU)
        assert (await next_event(resp.content))["keyboard"][0][0]["text"] == "📦 Report harvest"
        await bot.delete_message(11, sent.message_id)
        event = await next_event(resp.content)
        assert (event["type"], event["message_id"]) == ("delete", sent.message_id)
        query = await chat.press(callback_data="lang:en", message=sent.message_id, force=True)
        await bot.answer_callback_query(query, text="Saved ✅", show_alert=True)
        event = await next_event(resp.content)
        assert (event["type"], event["text"], event["show_alert"]) == ("answer", "Saved ✅", True)
        emu.user(12, first_name="New")  # a chat made elsewhere appears on every page
        event = await next_event(resp.content)
        assert (event["type"], event["chat"]["id"]) == ("chat", 12)

    # One chat's stream tells of that chat only.
    async with http.get(f"{emu.base_url}/_emu/events?chat=12") as resp:
        assert await next_event(resp.content) == {"type": "ready"}
        await chat.send("not for 12")
        await emu.user(12).send("for 12")
        event = await next_event(resp.content)
        assert (event["chat"], event["message"]["parts"]) == (12, [{"text": "for 12"}])


@asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[str]:
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def test_the_page_speaks_both_languages_and_forwards_to_the_emulator(
    emu: BotApiEmulator, bot: Bot, http: aiohttp.ClientSession
) -> None:
    async with serving(create_app(emu.base_url, host_note="127.0.0.1")) as page:
        zh = (await call(http, "GET", f"{page}/api/page?lang=zh"))[1]
        en = (await call(http, "GET", f"{page}/api/page?lang=en"))[1]
        assert (await call(http, "GET", f"{page}/api/page?lang=fr"))[1]["lang"] == "zh"
        assert set(zh["labels"]) == set(en["labels"]) == set(LABELS)
        assert en["labels"] == LABELS  # English msgstr = msgid
        assert zh["labels"]["send"] == "发送" and zh["labels"]["title"] == "farmgate 演示"
        assert all(zh["labels"][key] != text for key, text in LABELS.items())
        assert zh["host"] == "127.0.0.1" and "{host}" in zh["labels"]["listening"]
        assert [lang["name"] for lang in zh["languages"]] == ["中文", "English"]
        async with http.get(f"{page}/") as resp:
            assert "static/app.js" in await resp.text()
        for name in ("app.js", "style.css"):
            async with http.get(f"{page}/static/{name}") as resp:
                assert resp.status == 200

        status, created = await call(
            http, "POST", f"{page}/api/chats", {"id": 21, "first_name": "Li"}
        )
        assert status == 200 and created["id"] == 21
        assert (await call(http, "GET", f"{page}/api/chats"))[1]["chats"][0]["id"] == 21
        status, body = await call(http, "POST", f"{page}/api/chats/21/actions", {"reply": "x"})
        assert status == 400 and body["error"].startswith("no button 'x'")
        form = {"text": "from another site"}  # a form post or a no-cors fetch elsewhere
        async with http.post(f"{page}/api/chats/21/actions", data=form) as resp:
            assert resp.status == 415
        assert emu.user(21).user_messages == {}
        assert (await call(http, "GET", f"{page}/api/chats/22"))[0] == 404
        assert (await call(http, "GET", f"{page}/api/chats/x"))[0] == 404  # not forwarded
        await bot.send_document(21, BufferedInputFile(b"a,b\n", "lots.csv"))
        (document,) = (await call(http, "GET", f"{page}/api/chats/21"))[1]["messages"]
        async with http.get(f"{page}/api/files/{document['file']['file_id']}") as resp:
            assert await resp.read() == b"a,b\n"
            assert resp.headers["Content-Disposition"].startswith("attachment;")

        async with http.get(f"{page}/api/events") as resp:
            assert await next_event(resp.content) == {"type": "ready"}
            await call(http, "POST", f"{page}/api/chats/21/actions", {"text": "hi"})
            assert (await next_event(resp.content))["message"]["parts"] == [{"text": "hi"}]
            await emu.stop()  # the stream ends with the emulator, and the page says so
            async with asyncio.timeout(5):
                assert (await resp.content.read()).strip() == b""
        assert (await call(http, "GET", f"{page}/api/chats"))[0] == 502
        async with http.get(f"{page}/api/events") as resp:
            assert resp.status == 502


async def test_shutting_the_page_down_ends_its_open_event_streams(
    emu: BotApiEmulator, http: aiohttp.ClientSession
) -> None:
    runner = web.AppRunner(create_app(emu.base_url))  # aiohttp's own shutdown timeout
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/api/events"
    async with http.get(url) as resp:
        assert await next_event(resp.content) == {"type": "ready"}
        async with asyncio.timeout(5):
            await runner.cleanup()


@given(
    st.text(st.characters(max_codepoint=0xFFFF, exclude_categories=["Cs"]), max_size=30),
    st.lists(
        st.tuples(st.integers(0, 40), st.integers(0, 40), st.sampled_from(["bold", "url"])),
        max_size=5,
    ),
)
def test_text_parts_keep_every_character_once(text: str, spans: list[tuple[int, int, str]]) -> None:
    """Whatever the entities (overlapping, nested, empty, past the end), the parts put
    together are the text: nothing lost, nothing repeated, no empty part."""
    entities = [{"offset": o, "length": n, "type": t} for o, n, t in spans]
    parts = text_parts(text, entities)
    assert "".join(p["text"] for p in parts) == text
    assert all(p["text"] for p in parts)


def test_text_parts_count_offsets_in_utf16_as_telegram_does() -> None:
    text = "📦 /report 🌱 now"  # each emoji is two UTF-16 code units
    entities = [
        {"offset": 3, "length": 7, "type": "bot_command"},
        {"offset": 14, "length": 3, "type": "bold"},
    ]
    assert text_parts(text, entities) == [
        {"text": "📦 "},
        {"text": "/report", "type": "bot_command"},
        {"text": " 🌱 "},
        {"text": "now", "type": "bold"},
    ]
    link = [{"offset": 0, "length": 2, "type": "text_link", "url": "https://t.me/x"}]
    assert text_parts("<b>", link) == [
        {"text": "<b", "type": "text_link", "url": "https://t.me/x"},
        {"text": ">"},
    ]


def test_the_page_imports_no_database_and_no_handlers() -> None:
    """The page is a phone: it reaches the bot through the emulator only (issue 11, section 4).
    Of the project it takes the shipped locales and the catalogs for its labels, no more."""
    source = (REPO_ROOT / "bot" / "demo" / "page.py").read_text(encoding="utf-8")
    imported = {
        name
        for node in ast.walk(ast.parse(source))
        for name in (
            [a.name for a in node.names]
            if isinstance(node, ast.Import)
            else [node.module or ""]
            if isinstance(node, ast.ImportFrom)
            else []
        )
    }
    ours = {name for name in imported if name.split(".")[0] in {"bot", "handlers", "tests"}}
    assert ours == {"bot.config", "bot.i18n"}
    assert not [name for name in imported if name.startswith(("sqlalchemy", "redis", "aiosqlite"))]


def test_browser_tests_skip_saying_how_to_install_chromium_and_fail_under_ci(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(chromium, "CHROMIUM", tmp_path / "chromium")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install -y -q chromium"):
        chromium.need_chromium()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="cannot run under CI"):
        chromium.need_chromium()
