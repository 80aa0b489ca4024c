"""Each dialogue state's question, so any step can be asked again after bad input or a restart."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from aiogram.fsm.state import State

from handlers.turn import Turn

AskFn = Callable[[Turn], Awaitable[None]]
PROMPTS: dict[str, AskFn] = {}


def prompt(*states: State) -> Callable[[AskFn], AskFn]:
    """Register the function that asks the question of these states. Its inline buttons make
    the chat's open question (`Turn.ask`): asking another question, or ending the dialogue,
    removes them."""

    def register(fn: AskFn) -> AskFn:
        @functools.wraps(fn)
        async def asking(turn: Turn) -> None:
            with turn.asking():
                await fn(turn)

        for state in states:
            assert state.state is not None
            PROMPTS[state.state] = asking
        return asking

    return register


async def ask_current(turn: Turn) -> bool:
    """Ask the current state's question again; False when no dialogue is running."""
    current = await turn.state.get_state()
    ask = PROMPTS.get(current) if current else None
    if ask is None:
        return False
    await ask(turn)
    return True
