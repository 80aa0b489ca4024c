"""A farmer's unfinished harvest report, kept beside the dialogue rather than in it.

The draft lives in a dialogue-state slot of its own (destiny "report_draft"), so leaving the
report for something else (/start, My reports, the profile, even another dialogue that clears
its state) never throws it away. Leaving it parks it: the report's pending step is recorded
and the farmer is offered Continue (that step's question again) or Discard; the offer comes
again the next time they open Report harvest or send /start. Only Confirm, a cancel and
Discard end a draft.
"""

from __future__ import annotations

from dataclasses import fields, replace

from aiogram.fsm.context import FSMContext
from aiogram.utils.i18n import gettext as _

from bot.services.harvests import HarvestDraft
from handlers import keyboards as kb
from handlers.states import Harvest
from handlers.turn import Turn

DESTINY = "report_draft"


def _slot(turn: Turn) -> FSMContext:
    return FSMContext(turn.state.storage, replace(turn.state.key, destiny=DESTINY))


def in_report(state: str | None) -> bool:
    """Whether this dialogue state is a step of the harvest report."""
    return state is not None and state.startswith(f"{Harvest.__name__}:")


def _started(draft: HarvestDraft) -> bool:
    """A draft with no answer yet is nothing to keep."""
    return any(getattr(draft, f.name) is not None for f in fields(draft))


async def load(turn: Turn) -> HarvestDraft:
    data = await _slot(turn).get_data()
    if "draft" not in data and in_report(await turn.state.get_state()):
        # A report begun before drafts had their own slot keeps its answers in the dialogue.
        data = await turn.state.get_data()
    return HarvestDraft.from_state(data)


async def save(turn: Turn, draft: HarvestDraft) -> None:
    slot = _slot(turn)
    await slot.set_data({**await slot.get_data(), **draft.to_state()})


async def drop(turn: Turn) -> None:
    await _slot(turn).set_data({})


async def parked_step(turn: Turn) -> str | None:
    """The report step the farmer left the draft at (None: not recorded)."""
    step = (await _slot(turn).get_data()).get("step")
    return step if in_report(step) else None


async def kept(turn: Turn) -> bool:
    return _started(await load(turn))


async def park(turn: Turn) -> bool:
    """Leave the report (when the farmer is in it) keeping its draft and pending step; True
    when a draft is kept. A report with no answer yet is simply left."""
    current = await turn.state.get_state()
    if not in_report(current):
        return await kept(turn)
    draft = await load(turn)
    await turn.state.clear()
    if not _started(draft):
        await drop(turn)
        return False
    await _slot(turn).set_data({**draft.to_state(), "step": current})
    return True


async def offer(turn: Turn) -> bool:
    """Say that an unfinished report is kept and offer Continue / Discard; False when there is
    none."""
    if not await kept(turn):
        return False
    await turn.say(
        _("Your unfinished harvest report is kept. Do you want to continue it or discard it?"),
        kb.draft_actions(),
    )
    return True
