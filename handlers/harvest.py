"""The harvest report wizard: product, process, variety, typed quantity, then a summary.

Optional details (moisture, grade, photo) are offered on the summary, so a complete report
takes five taps and one typed answer.
"""

from __future__ import annotations

from decimal import Decimal

from aiogram import F
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import gettext as _

from bot.models import Grade, Process, Product, Role, Variety
from bot.moisture import parse_moisture
from bot.quantity import Problem, QuantityRejected, parse_typed, to_grams
from bot.services import harvests
from bot.services.errors import DomainError
from bot.services.harvests import HarvestDraft, check_bean_fact, has_bean_facts, needs_process
from handlers import drafts
from handlers import keyboards as kb
from handlers.callbacks import ChoiceCb, DraftCb, SummaryCb
from handlers.common import ask_again_or_menu, show_menu
from handlers.prompts import ask_current, prompt
from handlers.routing import RouterRecipe
from handlers.states import Harvest
from handlers.texts import (
    MENU_REPORT,
    amount_text,
    draft_summary,
    is_answer,
    is_menu,
    process_label,
    product_label,
    quantity_problem,
    quantity_text,
    variety_label,
)
from handlers.turn import Turn

router = RouterRecipe("harvest")

CHOICES: dict[str, frozenset[str]] = {
    "product": frozenset(p.value for p in Product),
    "process": frozenset(p.value for p in Process),
    "variety": frozenset(v.value for v in Variety),
    "grade": frozenset(g.value for g in Grade) | {"-"},
}
STEP_STATES = {
    "product": Harvest.product,
    "process": Harvest.process,
    "variety": Harvest.variety,
    "quantity": Harvest.quantity,
}


async def advance(turn: Turn, draft: HarvestDraft) -> None:
    """Save the draft and ask the first unanswered question, or show the summary."""
    await drafts.save(turn, draft)
    missing = draft.missing()
    await turn.state.set_state(STEP_STATES[missing] if missing else Harvest.summary)
    await PROMPTS_BY_STEP[missing or "summary"](turn)


@router.message(Command("report"))
@router.message(is_menu(MENU_REPORT))
async def start_report(message: Message, turn: Turn) -> None:
    if not turn.user.registered or turn.user.role != Role.FARMER:
        raise DomainError("not_farmer")
    await drafts.park(turn)
    if await drafts.offer(turn):  # an unfinished report first: continue or discard it
        return
    await turn.state.set_data({})
    await drafts.drop(turn)
    await advance(turn, HarvestDraft())


@router.callback_query(DraftCb.filter(F.action == "continue"))
async def continue_report(
    callback: CallbackQuery, turn: Turn, callback_answer: CallbackAnswer
) -> None:
    """The pending question of the unfinished report again (the summary when none was
    recorded)."""
    if not await drafts.kept(turn):
        callback_answer.text = _("This menu has expired.")
        await ask_again_or_menu(turn)
        return
    await turn.mark_answered(callback, _("Continuing your harvest report."))
    current = await turn.state.get_state()
    if drafts.in_report(current) and await ask_current(turn):
        return
    step = await drafts.parked_step(turn)
    await turn.state.set_data({})
    if step is None:
        await advance(turn, await drafts.load(turn))
        return
    await turn.state.set_state(step)
    await ask_current(turn)


@router.callback_query(DraftCb.filter(F.action == "discard"))
async def discard_report(
    callback: CallbackQuery, turn: Turn, callback_answer: CallbackAnswer
) -> None:
    if not await drafts.kept(turn):
        callback_answer.text = _("This menu has expired.")
        await ask_again_or_menu(turn)
        return
    await drafts.drop(turn)
    if drafts.in_report(await turn.state.get_state()):
        await turn.state.clear()
    await turn.mark_answered(callback, _("Discarded."))
    await show_menu(turn, _("The unfinished harvest report is discarded. Nothing was saved."))


@prompt(Harvest.product)
async def ask_product(turn: Turn) -> None:
    await turn.say(_("What do you want to sell?"), kb.products())


@prompt(Harvest.process)
async def ask_process(turn: Turn) -> None:
    await turn.say(_("How was it processed?"), kb.processes())


@prompt(Harvest.variety)
async def ask_variety(turn: Turn) -> None:
    await turn.say(_("Which variety is it?"), kb.varieties())


@prompt(Harvest.quantity)
async def ask_quantity(turn: Turn) -> None:
    await turn.say(
        _(
            "How much do you have? Type the amount with its unit, for example "
            "120 kg, 240 斤 or 1.5 t."
        ),
        kb.only_cancel(),
    )


@prompt(Harvest.summary)
async def ask_summary(turn: Turn) -> None:
    draft = await drafts.load(turn)
    bean_facts = draft.product is None or has_bean_facts(Product(draft.product))
    await turn.say(draft_summary(draft), kb.summary(bean_facts))


@prompt(Harvest.moisture)
async def ask_moisture(turn: Turn) -> None:
    await turn.say(
        _("What is the moisture in percent? For example 12 or 11.5."), kb.skip_back("moisture")
    )


@prompt(Harvest.grade)
async def ask_grade(turn: Turn) -> None:
    await turn.say(_("Which grade is it?"), kb.grades())


@prompt(Harvest.photo)
async def ask_photo(turn: Turn) -> None:
    await turn.say(_("Send one photo of your coffee."), kb.skip_back("photo"))


@prompt(Harvest.change)
async def ask_change(turn: Turn) -> None:
    draft = await drafts.load(turn)
    with_process = draft.product is None or needs_process(Product(draft.product))
    await turn.say(_("What do you want to change?"), kb.change_fields(with_process))


PROMPTS_BY_STEP = {
    "product": ask_product,
    "process": ask_process,
    "variety": ask_variety,
    "quantity": ask_quantity,
    "summary": ask_summary,
}


def _choice(field: str) -> object:
    return ChoiceCb.filter((F.field == field) & F.value.in_(CHOICES[field]))


@router.callback_query(Harvest.product, _choice("product"))
async def product_chosen(callback: CallbackQuery, callback_data: ChoiceCb, turn: Turn) -> None:
    draft = await drafts.load(turn)
    draft.product = callback_data.value
    if not needs_process(Product(draft.product)):
        draft.process = None
    if not has_bean_facts(Product(draft.product)):
        draft.grade = draft.moisture_tenths = None
    await turn.mark_answered(
        callback, _("Product: {value}").format(value=product_label(draft.product))
    )
    await advance(turn, draft)


@router.callback_query(Harvest.process, _choice("process"))
async def process_chosen(callback: CallbackQuery, callback_data: ChoiceCb, turn: Turn) -> None:
    draft = await drafts.load(turn)
    draft.process = callback_data.value
    await turn.mark_answered(
        callback, _("Process: {value}").format(value=process_label(draft.process))
    )
    await advance(turn, draft)


@router.callback_query(Harvest.variety, _choice("variety"))
async def variety_chosen(callback: CallbackQuery, callback_data: ChoiceCb, turn: Turn) -> None:
    draft = await drafts.load(turn)
    draft.variety = callback_data.value
    await turn.mark_answered(
        callback, _("Variety: {value}").format(value=variety_label(draft.variety))
    )
    await advance(turn, draft)


@router.message(Harvest.quantity, is_answer)
async def quantity_typed(message: Message, turn: Turn) -> None:
    try:
        typed = parse_typed(message.text or "")
    except QuantityRejected as exc:
        if exc.problem == Problem.NO_UNIT and exc.amount is not None:
            await ask_unit(turn, exc.amount)
            return
        if exc.problem == Problem.AMBIGUOUS_SEPARATOR and exc.readings:
            await ask_reading(turn, exc.readings, exc.unit)
            return
        await turn.say(quantity_problem(exc))
        await ask_quantity(turn)
        return
    await quantity_known(turn, typed.grams, typed.unit)


async def ask_unit(turn: Turn, number: Decimal) -> None:
    """A number without a unit: ask for the unit, never guess it."""
    amount = format(number, "f")
    await turn.state.update_data(amount=amount)
    await turn.ask(
        _("{amount} of what? Please choose the unit, or type the amount with its unit.").format(
            amount=amount
        ),
        kb.quantity_units(amount),
    )


async def ask_reading(turn: Turn, readings: tuple[Decimal, ...], unit: str | None) -> None:
    """A decimal comma ("12,5"): ask whether it is 12.5 or 125, keeping the unit typed. With a
    unit, only readings that are a plausible harvest are offered."""
    offered = list(readings)
    if unit is not None:
        problems = []
        for reading in readings:
            try:
                to_grams(reading, unit)
            except QuantityRejected as exc:
                problems.append(exc)
                offered.remove(reading)
        if not offered:
            await turn.say(quantity_problem(problems[0]))
            await ask_quantity(turn)
            return
    values = [format(r, "f") for r in offered]
    await turn.state.update_data(readings=values, reading_unit=unit)
    shown = [amount_text(r, unit) for r in offered]
    if len(shown) == 1:
        text = _("Did you mean {amount}? Tap it, or type the amount again.").format(amount=shown[0])
    else:
        text = _("Did you mean {first} or {second}? Tap the one you meant.").format(
            first=shown[0], second=shown[1]
        )
    await turn.ask(text, kb.readings(shown))


@router.callback_query(
    Harvest.quantity, ChoiceCb.filter((F.field == "reading") & F.value.in_({"0", "1"}))
)
async def reading_chosen(
    callback: CallbackQuery, callback_data: ChoiceCb, turn: Turn, callback_answer: CallbackAnswer
) -> None:
    data = await turn.state.get_data()
    readings, unit = data.get("readings") or [], data.get("reading_unit")
    index = int(callback_data.value)
    if index >= len(readings):
        callback_answer.text = _("This menu has expired.")
        await ask_quantity(turn)
        return
    number = Decimal(readings[index])
    await turn.state.update_data(readings=None, reading_unit=None)
    await turn.mark_answered(callback, amount_text(number, unit))
    if unit is None:
        await ask_unit(turn, number)
        return
    try:
        grams = to_grams(number, unit)
    except QuantityRejected as exc:
        await turn.say(quantity_problem(exc))
        await ask_quantity(turn)
        return
    await quantity_known(turn, grams, unit)


@router.callback_query(
    Harvest.quantity, ChoiceCb.filter((F.field == "unit") & F.value.in_({"kg", "jin"}))
)
async def quantity_unit_chosen(
    callback: CallbackQuery, callback_data: ChoiceCb, turn: Turn, callback_answer: CallbackAnswer
) -> None:
    amount = (await turn.state.get_data()).get("amount")
    if amount is None:
        callback_answer.text = _("This menu has expired.")
        await ask_quantity(turn)
        return
    try:
        grams = to_grams(Decimal(amount), callback_data.value)
    except QuantityRejected as exc:
        await turn.say(quantity_problem(exc))
        await ask_quantity(turn)
        return
    await turn.mark_answered(
        callback,
        _("Quantity: {value}").format(value=quantity_text(grams, callback_data.value)),
    )
    await quantity_known(turn, grams, callback_data.value)


async def quantity_known(turn: Turn, grams: int, unit: str) -> None:
    draft = await drafts.load(turn)
    draft.quantity_g, draft.quantity_unit = grams, unit
    await turn.state.update_data(amount=None, readings=None, reading_unit=None)
    await advance(turn, draft)


@router.callback_query(Harvest.summary, SummaryCb.filter(F.action == "confirm"))
async def confirm(callback: CallbackQuery, turn: Turn) -> None:
    draft = await drafts.load(turn)
    try:
        report = await harvests.submit_report(turn.session, turn.user, draft)
    except DomainError:
        missing = draft.missing()
        if missing is not None:  # ask for the missing answer rather than the summary
            await turn.state.set_state(STEP_STATES[missing])
        raise
    await turn.mark_answered(callback, draft_summary(draft).rsplit("\n\n", 1)[0])
    await turn.state.clear()
    await drafts.drop(turn)
    await show_menu(
        turn,
        _(
            "✅ Report #{id} is saved: {quantity} at {village}.\n"
            "We will pool it with your neighbours' coffee and tell you when "
            "it is sold."
        ).format(
            id=report.farmer_seq,
            quantity=quantity_text(report.quantity_g, report.quantity_unit),
            village=report.village.name,
        ),
    )


@router.callback_query(
    Harvest.summary, SummaryCb.filter(F.action.in_({"moisture", "grade", "photo", "change"}))
)
async def summary_action(callback: CallbackQuery, callback_data: SummaryCb, turn: Turn) -> None:
    if callback_data.action in ("moisture", "grade"):
        check_bean_fact((await drafts.load(turn)).product, callback_data.action)
    step = {
        "moisture": Harvest.moisture,
        "grade": Harvest.grade,
        "photo": Harvest.photo,
        "change": Harvest.change,
    }[callback_data.action]
    await turn.state.set_state(step)
    await ASK_OPTIONAL[callback_data.action](turn)


async def bean_fact_allowed(turn: Turn, draft: HarvestDraft, field: str) -> None:
    """A grade or moisture for fresh cherry is refused, and the summary shown again."""
    try:
        check_bean_fact(draft.product, field)
    except DomainError:
        await turn.state.set_state(Harvest.summary)
        raise


ASK_OPTIONAL = {
    "moisture": ask_moisture,
    "grade": ask_grade,
    "photo": ask_photo,
    "change": ask_change,
}


@router.callback_query(
    Harvest.moisture, ChoiceCb.filter((F.field == "moisture") & (F.value == "-"))
)
@router.callback_query(Harvest.photo, ChoiceCb.filter((F.field == "photo") & (F.value == "-")))
async def optional_skipped(callback: CallbackQuery, callback_data: ChoiceCb, turn: Turn) -> None:
    await turn.mark_answered(callback, _("Skipped."))
    await advance(turn, await drafts.load(turn))


@router.message(Harvest.moisture, is_answer)
async def moisture_typed(message: Message, turn: Turn) -> None:
    tenths = parse_moisture(message.text or "")
    draft = await drafts.load(turn)
    await bean_fact_allowed(turn, draft, "moisture")
    draft.moisture_tenths = tenths
    await advance(turn, draft)


@router.callback_query(Harvest.grade, _choice("grade"))
async def grade_chosen(callback: CallbackQuery, callback_data: ChoiceCb, turn: Turn) -> None:
    draft = await drafts.load(turn)
    await bean_fact_allowed(turn, draft, "grade")
    draft.grade = None if callback_data.value == "-" else callback_data.value
    await turn.mark_answered(
        callback, _("Grade: {value}").format(value=draft.grade or _("not given"))
    )
    await advance(turn, draft)


@router.message(Harvest.photo, F.photo)
async def photo_sent(message: Message, turn: Turn) -> None:
    assert message.photo
    draft = await drafts.load(turn)
    draft.photo_file_id = message.photo[-1].file_id
    await advance(turn, draft)


@router.callback_query(Harvest.change, ChoiceCb.filter(F.field == "change"))
async def change_chosen(callback: CallbackQuery, callback_data: ChoiceCb, turn: Turn) -> None:
    draft = await drafts.load(turn)
    attribute = {
        "product": "product",
        "process": "process",
        "variety": "variety",
        "quantity": "quantity_g",
    }.get(callback_data.value)
    if attribute is not None:
        setattr(draft, attribute, None)
    await advance(turn, draft)


@router.callback_query(SummaryCb.filter(F.action == "cancel"))
async def cancel_report(
    callback: CallbackQuery, turn: Turn, callback_answer: CallbackAnswer
) -> None:
    current = await turn.state.get_state()
    if current is None or not current.startswith(f"{Harvest.__name__}:"):
        callback_answer.text = _("This menu has expired.")
        await show_menu(turn)
        return
    await turn.mark_answered(callback, _("Cancelled."))
    await turn.state.clear()
    await drafts.drop(turn)
    await show_menu(turn, _("The report was cancelled. Nothing was saved."))
