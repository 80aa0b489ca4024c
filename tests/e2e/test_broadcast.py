"""Coordinators broadcast: audience and counts, preview, live progress, scheduling across a
restart, cancelling; recipients get the announcement in their own language."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.models import Broadcast, BroadcastStatus, MerchantStatus, Notice, NoticeStatus, Village
from bot.services import users
from tests.conditions import eventually, outbox_drained
from tests.conftest import COORDINATOR_ID, BotRunner
from tests.emulator import BotApiEmulator, UserChat

EN = "📣 Announcement from farmgate\n\n"  # the heading naming the programme (PROGRAMME_NAME)
ZH = "📣 来自 farmgate 的公告\n\n"


async def _people(
    session: AsyncSession, emulator: BotApiEmulator, villages: list[Village]
) -> dict[str, UserChat]:
    """Farmers and an approved merchant who registered earlier (chats exist, users in the
    database), and two merchants who are not merchants of the programme: one waiting for
    approval, one rejected. They are in no audience."""
    people = {
        "li": (401, "zh", villages[0]),
        "wang": (402, "zh", villages[0]),
        "ann": (403, "en", villages[0]),
        "bo": (404, "en", villages[1]),
    }
    for name, (telegram_id, language, village) in people.items():
        user = await users.ensure_user(session, telegram_id)
        await users.set_language(session, user, language)
        await users.register_farmer(
            session, user, name=name, phone="13800000000", village_id=village.id
        )
    merchant = await users.ensure_user(session, 405)
    await users.set_language(session, merchant, "en")
    await users.register_merchant(session, merchant, company="Yunnan Beans", contact="13900000000")
    merchant.merchant_status = MerchantStatus.APPROVED
    for telegram_id, status in ((406, MerchantStatus.PENDING), (407, MerchantStatus.REJECTED)):
        outsider = await users.ensure_user(session, telegram_id)
        await users.set_language(session, outsider, "en")
        await users.register_merchant(session, outsider, company="Not yet", contact="13900000001")
        outsider.merchant_status = status
    await session.commit()
    chats = {
        name: emulator.user(tid, language_code=lang) for name, (tid, lang, _v) in people.items()
    }
    chats["merchant"] = emulator.user(405, language_code="en")
    chats["pending"] = emulator.user(406, language_code="en")
    chats["rejected"] = emulator.user(407, language_code="en")
    return chats


async def _coordinator(emulator: BotApiEmulator) -> UserChat:
    chat = emulator.user(COORDINATOR_ID, language_code="en")
    await chat.send("/start")
    await chat.receive()
    await chat.press("English")
    await chat.receive()
    return chat


async def _compose(coordinator: UserChat, audience: str, text: str) -> None:
    """/broadcast to a one-tap audience with a text, up to the send-or-schedule question."""
    await coordinator.send("/broadcast")
    await coordinator.receive()
    await coordinator.press(audience)
    await coordinator.receive_until(lambda m: "send the announcement" in m.text)
    await coordinator.send(text)
    await coordinator.receive_until(lambda m: "Send it now" in m.text)


async def test_broadcast_to_a_village_with_a_version_per_language(
    emulator: BotApiEmulator, running_bot: BotRunner, villages: list[Village], session: AsyncSession
) -> None:
    people = await _people(session, emulator, villages)
    coordinator = await _coordinator(emulator)
    await coordinator.send("/broadcast")
    audience = await coordinator.receive()
    assert audience.buttons[:3] == ["Everyone (6)", "Farmers (4)", "Merchants (1)"]
    await coordinator.press("One village…")
    choice = await coordinator.receive()
    assert choice.buttons[:2] == ["Conggang (3)", "Nankang (1)"]
    await coordinator.press("Conggang (3)")
    await coordinator.receive_until(lambda m: "send the announcement" in m.text)
    await coordinator.send("Collection day is Sunday 9:00 at the school.")
    assert (await coordinator.receive()).text == "Preview: this is what recipients will see."
    assert (await coordinator.receive()).text == EN + "Collection day is Sunday 9:00 at the school."
    review = await coordinator.receive()
    assert "farmers of Conggang, 3 people" in review.text
    await coordinator.press("➕ Version in 中文")
    await coordinator.receive()
    await coordinator.send("周日上午9点在学校收货。")
    await coordinator.receive_until(lambda m: m.text == ZH + "周日上午9点在学校收货。")
    await coordinator.receive_until(lambda m: "Send it now" in m.text)
    await coordinator.press("📤 Send now")
    progress = await coordinator.receive_until(lambda m: "nnouncement #" in m.text)
    await coordinator.wait_for(lambda c: "is done" in progress.text, timeout=15)
    assert "3 of 3 sent, 0 blocked the bot, 0 failed" in progress.text
    assert progress.edits >= 1 and not progress.buttons
    assert (await people["li"].receive()).text == ZH + "周日上午9点在学校收货。"
    assert (await people["wang"].receive()).text == ZH + "周日上午9点在学校收货。"
    assert (
        await people["ann"].receive()
    ).text == EN + "Collection day is Sunday 9:00 at the school."
    await outbox_drained(session)
    for outsider in ("bo", "merchant", "pending", "rejected"):
        assert people[outsider].messages == []


async def test_photo_broadcast_to_merchants(
    emulator: BotApiEmulator, running_bot: BotRunner, villages: list[Village], session: AsyncSession
) -> None:
    people = await _people(session, emulator, villages)
    coordinator = await _coordinator(emulator)
    await coordinator.send("/broadcast")
    await coordinator.receive()
    await coordinator.press("Merchants (1)")
    await coordinator.receive_until(lambda m: "send the announcement" in m.text)
    await coordinator.send_photo(caption="42 t of Catimor ready")
    await coordinator.receive()
    preview = await coordinator.receive()
    assert preview.photo and preview.text == EN + "42 t of Catimor ready"
    await coordinator.receive_until(lambda m: "Send it now" in m.text)
    await coordinator.press("📤 Send now")
    progress = await coordinator.receive_until(lambda m: "nnouncement #" in m.text)
    got = await people["merchant"].receive(timeout=10)
    assert got.photo and got.text == EN + "42 t of Catimor ready"
    await coordinator.wait_for(lambda c: "is done" in progress.text, timeout=10)
    assert "1 of 1 sent" in progress.text  # the pending and the rejected merchant got nothing
    assert people["pending"].messages == [] and people["rejected"].messages == []


async def test_bad_input_while_writing_a_broadcast(
    emulator: BotApiEmulator, running_bot: BotRunner, villages: list[Village], session: AsyncSession
) -> None:
    await _people(session, emulator, villages)
    coordinator = await _coordinator(emulator)
    await coordinator.send("/broadcast")
    await coordinator.receive()
    await coordinator.press("One language…")
    await coordinator.receive()
    await coordinator.press("中文 (2)")
    await coordinator.receive_until(lambda m: "send the announcement" in m.text)
    await coordinator.send_sticker()
    assert "not an answer" in (await coordinator.receive()).text
    assert "send the announcement" in (await coordinator.receive()).text
    await coordinator.send("x" * 4001)
    assert "too long" in (await coordinator.receive()).text
    await coordinator.receive()
    await coordinator.send("Meeting")
    await coordinator.receive_until(lambda m: "Send it now" in m.text)
    await coordinator.press("🕒 Schedule")
    await coordinator.receive()
    for typed, reason in [
        ("tomorrow", "could not read that date"),
        ("2020-01-01 09:00", "already passed"),
    ]:
        await coordinator.send(typed)
        assert reason in (await coordinator.receive()).text
        assert "When should it go out" in (await coordinator.receive()).text
    await coordinator.press("✖ Cancel")
    assert "not sent" in (await coordinator.receive_until(lambda m: "not sent" in m.text)).text


async def test_nobody_in_the_audience(emulator: BotApiEmulator, running_bot: BotRunner) -> None:
    coordinator = await _coordinator(emulator)
    await coordinator.send("/broadcast")
    await coordinator.receive()
    await coordinator.press("Merchants (0)")
    assert "Nobody is in that audience" in (await coordinator.receive()).text


async def test_a_scheduled_broadcast_fires_after_a_restart(
    emulator: BotApiEmulator,
    running_bot: BotRunner,
    villages: list[Village],
    session: AsyncSession,
    settings: Settings,
) -> None:
    people = await _people(session, emulator, villages)
    coordinator = await _coordinator(emulator)
    await _compose(coordinator, "Farmers (4)", "Prices go up tomorrow")
    await coordinator.press("🕒 Schedule")
    await coordinator.receive()
    when = datetime.now(UTC) + timedelta(seconds=4)
    local = when.astimezone(ZoneInfo(settings.timezone)).strftime("%Y-%m-%d %H:%M:%S")
    await coordinator.send(local)
    scheduled = await coordinator.receive()
    assert "is scheduled for" in scheduled.text and "Asia/Shanghai" in scheduled.text
    # The author reads Chinese by the time it goes out: the report is rendered when sent.
    await coordinator.send("/language")
    await coordinator.receive()
    await coordinator.press("中文")
    await coordinator.receive()
    await running_bot.stop()
    await running_bot.start()
    got = await people["bo"].receive(timeout=15)
    assert got.text == EN + "Prices go up tomorrow"
    for name, heading in (("li", ZH), ("wang", ZH), ("ann", EN)):
        assert (await people[name].receive(timeout=10)).text == heading + "Prices go up tomorrow"
    # A scheduled broadcast has no progress message: its final report comes as a notice.
    report = await coordinator.receive_until(lambda m: "公告 #1" in m.text, timeout=15)
    assert report.text == "✅ 公告 #1 发送完毕：已发送 4/4，0 人屏蔽了机器人，0 条失败。"
    await coordinator.send("/broadcasts")
    assert (await coordinator.receive()).text == "目前没有定时或正在发送的公告。"
    await outbox_drained(session)
    assert people["merchant"].messages == []


async def test_cancel_a_scheduled_and_a_running_broadcast(
    emulator: BotApiEmulator, villages: list[Village], session: AsyncSession, settings: Settings
) -> None:
    runner = BotRunner(settings.model_copy(update={"notice_rate": 0.5}))
    await runner.start()
    try:
        people = await _people(session, emulator, villages)
        coordinator = await _coordinator(emulator)
        await _compose(coordinator, "Everyone (6)", "Slow news")
        await coordinator.press("🕒 Schedule")
        await coordinator.receive()
        await coordinator.send("2099-01-01 09:00")
        scheduled = await coordinator.receive()
        await coordinator.send("/broadcasts")
        listed = await coordinator.receive()
        assert "scheduled for" in listed.text
        await coordinator.press("⏹ Cancel announcement #1", message=scheduled)
        assert "cancelled" in (await coordinator.receive()).text
        await coordinator.send("/broadcasts")
        assert "No announcement" in (await coordinator.receive()).text

        await _compose(coordinator, "Farmers (4)", "Fast news")
        await coordinator.press("📤 Send now")
        progress = await coordinator.receive_until(lambda m: "nnouncement #" in m.text)
        # Progress is edited every 2 s and may skip a count on a loaded machine.
        await coordinator.wait_for(
            lambda c: "1 of 4 sent" in progress.text or "2 of 4 sent" in progress.text, timeout=10
        )
        await coordinator.press("⏹ Cancel announcement #2", message=progress)
        await coordinator.wait_for(lambda c: "was cancelled" in progress.text, timeout=10)
        await outbox_drained(session, broadcast_id=2)
        received = sum(len(people[n].messages) for n in ("li", "wang", "ann", "bo"))
        assert 1 <= received < 4
        statuses = set(await session.scalars(select(Notice.status).where(Notice.broadcast_id == 2)))
        await session.commit()
        assert NoticeStatus.CANCELLED in statuses
    finally:
        await runner.stop()


async def test_only_coordinators_broadcast(
    emulator: BotApiEmulator, running_bot: BotRunner, villages: list[Village], session: AsyncSession
) -> None:
    people = await _people(session, emulator, villages)
    for command in ("/broadcast", "/broadcasts"):
        await people["ann"].send(command)
        assert (await people["ann"].receive()).text == "Sorry, only coordinators can do that."
    await people["ann"].press(callback_data="bcx:cancel:1", message=0, force=True)
    answer = await people["ann"].wait_callback_answer()
    assert answer.get("text") == "Sorry, only coordinators can do that."


def _partly_sent(text: str) -> bool:
    return any(f"{n} of 4 sent" in text for n in (1, 2, 3)) and "Sending" in text


async def test_progress_message_deleted_or_author_blocked(
    emulator: BotApiEmulator, villages: list[Village], session: AsyncSession, settings: Settings
) -> None:
    """The author deletes the progress message: it is given up (edited no more) and the
    final report comes as a new message. Then the author blocks the bot during the next one:
    it still ends done, and its message is not tried again every few seconds."""
    # Slow enough (4 farmers in about 6 s) that the progress is shown before the end.
    runner = BotRunner(settings.model_copy(update={"notice_rate": 0.5}))
    await runner.start()
    try:
        await _people(session, emulator, villages)
        coordinator = await _coordinator(emulator)
        await _compose(coordinator, "Farmers (4)", "First")
        await coordinator.press("📤 Send now")
        progress = await coordinator.receive_until(lambda m: "nnouncement #" in m.text)
        await coordinator.wait_for(lambda c: _partly_sent(progress.text), timeout=10)
        assert coordinator.delete_message(progress.message_id)
        report = await coordinator.receive_until(lambda m: "is done" in m.text, timeout=15)
        assert (
            report.text == "✅ Announcement #1 is done: 4 of 4 sent, 0 blocked the bot, 0 failed."
        )
        assert progress.deleted and report.message_id != progress.message_id

        await _compose(coordinator, "Farmers (4)", "Second")
        await coordinator.press("📤 Send now")
        second = await coordinator.receive_until(lambda m: "nnouncement #" in m.text)
        await coordinator.wait_for(lambda c: _partly_sent(second.text), timeout=10)
        emulator.block(COORDINATOR_ID)

        async def finished() -> bool:
            row = await session.get(Broadcast, 2, populate_existing=True)
            await session.commit()
            # done, and its message given up (or the final edit would be tried forever)
            return (
                row is not None
                and row.status == BroadcastStatus.DONE
                and row.progress_message_id is None
            )

        await eventually(finished, "the second broadcast finished", timeout=15)
        refused = [
            call
            for call in emulator.calls_to("editMessageText")
            if call.chat_id == COORDINATOR_ID and call.status == 403
        ]
        assert len(refused) == 1  # given up at the first refusal
        emulator.unblock(COORDINATOR_ID)
        await coordinator.send("/broadcasts")
        assert "No announcement" in (await coordinator.receive()).text
    finally:
        await runner.stop()
