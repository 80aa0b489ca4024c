"""The open question: a dialogue question's buttons go when another question or the end of the
dialogue supersedes it, and nothing else's do."""

from __future__ import annotations

from typing import Any, cast

from aiogram import Bot
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.fsm.storage.base import StorageKey
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.methods import EditMessageReplyMarkup, SendMessage, SendPhoto
from aiogram.types import BufferedInputFile, InlineKeyboardButton, InlineKeyboardMarkup
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.models import User
from bot.replies import Replies, run_hooks
from handlers.prompts import prompt
from handlers.turn import Turn

BUTTONS = InlineKeyboardMarkup(
    inline_keyboard=[[InlineKeyboardButton(text="A", callback_data="a")]]
)


class Steps(StatesGroup):
    one = State()


@prompt(Steps.one)
async def ask_one(turn: Turn) -> None:
    await turn.say("Question?", BUTTONS)


def _turn(open_question: int | None = None) -> Turn:
    state = FSMContext(MemoryStorage(), StorageKey(bot_id=1, chat_id=7, user_id=7))
    user = User(id=3, telegram_id=7, question_message_id=open_question)
    session = cast(AsyncSession, None)
    return Turn(cast(Bot, None), 7, state, user, session, Replies(), Settings(_env_file=None))


def _methods(turn: Turn) -> list[Any]:
    return [reply.method for reply in turn.replies.queued]


async def test_a_prompt_question_supersedes_the_open_one_and_is_recorded() -> None:
    turn = _turn(open_question=5)
    await ask_one(turn)
    edit, send = _methods(turn)
    assert isinstance(edit, EditMessageReplyMarkup) and edit.message_id == 5
    assert edit.reply_markup is None
    assert isinstance(send, SendMessage) and turn.replies.queued[1].on_sent is not None
    assert turn.user.question_message_id is None  # until the new one is sent


async def test_an_answered_question_is_not_edited_twice() -> None:
    turn = _turn(open_question=5)
    await turn.edit(5, "Answer")
    await ask_one(turn)
    assert [type(m).__name__ for m in _methods(turn)] == ["EditMessageText", "SendMessage"]


async def test_other_messages_with_buttons_are_no_question() -> None:
    turn = _turn(open_question=5)
    await turn.say("A list with buttons", BUTTONS)
    assert [type(m).__name__ for m in _methods(turn)] == ["SendMessage"]
    assert turn.replies.queued[0].on_sent is None and turn.user.question_message_id == 5


async def test_the_end_of_the_dialogue_removes_the_open_questions_buttons() -> None:
    running = _turn(open_question=5)
    await running.state.set_state(Steps.one)
    await running.finish()
    assert _methods(running) == []
    ended = _turn(open_question=5)
    await ended.finish()
    [edit] = _methods(ended)
    assert isinstance(edit, EditMessageReplyMarkup) and edit.message_id == 5


async def test_a_photo_made_after_the_commit_keeps_its_place_or_is_left_out() -> None:
    turn = _turn()
    await turn.say("Prices")

    async def chart() -> bytes:
        return b"\x89PNG chart"

    async def nothing() -> None:
        return None

    async def broken() -> bytes:
        raise RuntimeError("no font")

    turn.photo_after_commit(chart, "prices.png")
    turn.photo_after_commit(nothing, "none.png")
    turn.photo_after_commit(broken, "broken.png")
    await turn.say("The question again")
    assert len(_methods(turn)) == 5  # placeholders until the hooks run, after the commit
    await run_hooks(turn.replies.hooks)
    first, photo, last = _methods(turn)
    assert (first.text, last.text) == ("Prices", "The question again")
    assert isinstance(photo, SendPhoto) and isinstance(photo.photo, BufferedInputFile)
    assert photo.photo.data == b"\x89PNG chart" and photo.photo.filename == "prices.png"
