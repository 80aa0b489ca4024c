"""A reply Telegram refuses never undoes what the user did: replies go out after the commit.

Each test makes the reply to a committed action fail the way real Telegram does (a callback
query too old to answer, 429, 400) and checks that the action stays done, that the reply is
retried or logged, and that the user gets no apology for it.
"""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import Broadcast, BroadcastStatus, HarvestReport, Village
from tests.conftest import COORDINATOR_ID, BotRunner
from tests.e2e.flows import register_farmer, report_parchment
from tests.e2e.test_broadcast import _compose, _coordinator, _people
from tests.emulator import BotApiEmulator, UserChat

APOLOGY = "something went wrong"


async def _report_count(session: AsyncSession) -> int:
    """Read what the bot stored; ends the read so SQLite's write lock is free for the bot."""
    session.expire_all()
    count = await session.scalar(select(func.count(HarvestReport.id)))
    await session.commit()
    return int(count or 0)


def _calls(emulator: BotApiEmulator, method: str, chat: UserChat) -> list[int]:
    return [c.status for c in emulator.calls_to(method) if c.chat_id == chat.id]


async def test_confirm_pressed_when_the_query_is_too_old_still_saves_the_report(
    emulator: BotApiEmulator, running_bot: BotRunner, villages: list[Village], session: AsyncSession
) -> None:
    chat = emulator.user(601, language_code="en")
    await register_farmer(chat, "en", name="Mei")
    await report_parchment(chat, "1200 kg", "en")
    emulator.callback_ttl = 15  # as Telegram
    query_id = await chat.press("✅ Confirm")
    emulator.expire_callbacks()  # as after a restart or a backlog: Telegram answers 400
    saved = await chat.receive_until(lambda m: "is saved" in m.text)
    assert "Report #1 is saved" in saved.text
    assert await _report_count(session) == 1
    assert emulator.callback_answer(query_id) is None  # the answer was refused...
    assert [c.status for c in emulator.calls_to("answerCallbackQuery")][-1] == 400
    assert not any(APOLOGY in m.text for m in chat.messages)  # ...and nobody apologised


async def test_a_429_on_the_reply_is_waited_out_and_the_report_kept(
    emulator: BotApiEmulator, running_bot: BotRunner, villages: list[Village], session: AsyncSession
) -> None:
    chat = emulator.user(602, language_code="en")
    await register_farmer(chat, "en", name="Mei")
    await report_parchment(chat, "1200 kg", "en")
    emulator.fail_next(chat.id, status=429, retry_after=1, methods=["sendMessage"])
    await chat.press("✅ Confirm")
    saved = await chat.receive_until(lambda m: "is saved" in m.text, timeout=10)
    assert "Report #1 is saved" in saved.text
    assert await _report_count(session) == 1
    refused, sent = [c for c in emulator.calls_to("sendMessage") if c.chat_id == chat.id][-2:]
    assert (refused.status, sent.status) == (429, 200)
    assert sent.time - refused.time >= 0.9  # retry_after honoured
    assert not any(APOLOGY in m.text for m in chat.messages)


async def test_a_400_on_the_reply_is_logged_and_the_report_kept(
    emulator: BotApiEmulator,
    running_bot: BotRunner,
    villages: list[Village],
    session: AsyncSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    chat = emulator.user(603, language_code="en")
    await register_farmer(chat, "en", name="Mei")
    await report_parchment(chat, "1200 kg", "en")
    emulator.fail_next(chat.id, status=400, methods=["sendMessage"])
    with caplog.at_level(logging.WARNING, logger="bot.replies"):
        await chat.press("✅ Confirm")
        await emulator.wait_for(lambda e: 400 in _calls(e, "sendMessage", chat))
        # This chat's updates are handled one after another: an apology for the Confirm
        # would arrive before the answer to this.
        await chat.send("📋 My reports")
        listed = await chat.receive()
    assert "Your latest harvest reports" in listed.text and "#1" in listed.text
    assert await _report_count(session) == 1
    assert any("sendMessage to chat 603 not sent" in r.getMessage() for r in caplog.records)


async def test_a_scheduled_broadcast_whose_confirmation_fails_is_scheduled_once(
    emulator: BotApiEmulator, running_bot: BotRunner, villages: list[Village], session: AsyncSession
) -> None:
    await _people(session, emulator, villages)
    coordinator = await _coordinator(emulator)
    await _compose(coordinator, "Farmers (4)", "Meeting on Sunday")
    await coordinator.press("🕒 Schedule")
    await coordinator.receive()
    emulator.fail_next(COORDINATOR_ID, status=400, methods=["sendMessage"])
    await coordinator.send("2099-01-01 09:00")
    await emulator.wait_for(lambda e: 400 in _calls(e, "sendMessage", coordinator))
    await coordinator.send("/broadcasts")
    listed = await coordinator.receive()  # no apology in between
    assert "#1 to all farmers, scheduled for" in listed.text
    session.expire_all()
    rows = list(await session.scalars(select(Broadcast)))
    await session.commit()
    assert [(b.id, b.status) for b in rows] == [(1, BroadcastStatus.SCHEDULED)]
    assert running_bot.app is not None
    assert running_bot.app.scheduler.aps.get_job("broadcast:1") is not None
