"""My reports: the farmer's harvest reports, and withdrawing one not yet sold."""

from __future__ import annotations

from aiogram import F
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from bot.config import Settings
from bot.models import Role
from bot.services import harvests
from bot.services.errors import DomainError
from handlers import drafts
from handlers import keyboards as kb
from handlers.callbacks import ReportCb
from handlers.routing import RouterRecipe
from handlers.texts import MENU_REPORTS, domain_problem, is_menu, report_line
from handlers.turn import Turn

router = RouterRecipe("reports")
SHOWN = 10


@router.message(Command("reports"))
@router.message(is_menu(MENU_REPORTS))
async def my_reports(message: Message, turn: Turn, settings: Settings) -> None:
    if turn.user.role != Role.FARMER or not turn.user.registered:
        raise DomainError("not_farmer")
    left_report = drafts.in_report(await turn.state.get_state())
    kept = await drafts.park(turn)
    reports = await harvests.list_reports(turn.session, turn.user, limit=SHOWN)
    if not reports:
        await turn.say(_("You have no harvest reports yet. Tap “📦 Report harvest” to add one."))
    else:
        lines = [_("Your latest harvest reports:")]
        lines += [report_line(report, settings) for report in reports]
        withdrawable = [(r.id, r.farmer_seq) for r in reports if r.status in harvests.WITHDRAWABLE]
        await turn.say("\n\n".join(lines), kb.withdraw_buttons(withdrawable))
    if left_report and kept:  # left in the middle of a report: say it is kept
        await drafts.offer(turn)


@router.callback_query(ReportCb.filter(F.action == "withdraw"))
async def ask_withdraw(
    callback: CallbackQuery, callback_data: ReportCb, turn: Turn, settings: Settings
) -> None:
    report = await harvests.get_own_report(turn.session, turn.user, callback_data.report_id)
    if report.status not in harvests.WITHDRAWABLE:
        raise DomainError("report_not_withdrawable", status=report.status.value)
    await turn.say(
        _("Withdraw this report? It will not be sold.\n\n{report}").format(
            report=report_line(report, settings)
        ),
        kb.confirm_withdraw(report.id),
    )


@router.callback_query(ReportCb.filter(F.action == "yes"))
async def withdraw(callback: CallbackQuery, callback_data: ReportCb, turn: Turn) -> None:
    try:
        report = await harvests.withdraw_report(turn.session, turn.user, callback_data.report_id)
    except DomainError as exc:
        await turn.mark_answered(callback, domain_problem(exc))
        return
    await turn.mark_answered(callback, _("Report #{id} is withdrawn.").format(id=report.farmer_seq))


@router.callback_query(ReportCb.filter(F.action == "no"))
async def keep(callback: CallbackQuery, callback_data: ReportCb, turn: Turn) -> None:
    report = await harvests.get_own_report(turn.session, turn.user, callback_data.report_id)
    await turn.mark_answered(callback, _("Report #{id} is kept.").format(id=report.farmer_seq))
