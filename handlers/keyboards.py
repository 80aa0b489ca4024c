"""Keyboards: built here so every dialogue shows the same buttons the same way."""

from __future__ import annotations

import functools

from aiogram.types import (
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
)
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder, ReplyKeyboardBuilder

from bot.models import Grade, MerchantStatus, Process, Product, Role, User, Variety, Village
from handlers.callbacks import (
    ApprovalCb,
    AuditCb,
    ChoiceCb,
    DigestAnswerCb,
    DraftCb,
    LangCb,
    ProfileCb,
    ReportCb,
    RoleCb,
    SummaryCb,
    VillageAdminCb,
    VillageCb,
)
from handlers.texts import (
    COORDINATOR_MENU,
    LANGUAGE_NAMES,
    MENU_HELP,
    MENU_PAYOUTS,
    MENU_PRICES,
    MENU_PROFILE,
    MENU_REPORT,
    MENU_REPORTS,
    MERCHANT_MENU,
    menu_label,
    process_label,
    product_label,
    variety_label,
)
from handlers.texts import (
    locale as current_locale,
)


def main_menu(user: User) -> ReplyKeyboardMarkup:
    farmer = user.role == Role.FARMER and user.registered
    merchant = user.role == Role.MERCHANT and user.merchant_status == MerchantStatus.APPROVED
    return _main_menu(farmer, merchant, user.role == Role.COORDINATOR, current_locale())


@functools.cache
def _main_menu(farmer: bool, merchant: bool, coordinator: bool, locale: str) -> ReplyKeyboardMarkup:
    """Built once per kind of user and language (`locale` is the one `_` uses now) and
    shared, never changed: building one (a builder, then a deep copy of its rows) cost more
    than the rest of a /help."""
    builder = ReplyKeyboardBuilder()
    if farmer:
        builder.button(text=menu_label(MENU_REPORT))
        builder.button(text=menu_label(MENU_REPORTS))
        builder.button(text=menu_label(MENU_PROFILE))
        builder.button(text=menu_label(MENU_PAYOUTS))
    if merchant:
        for label in MERCHANT_MENU:
            builder.button(text=menu_label(label))
    if farmer or merchant:
        builder.button(text=menu_label(MENU_PRICES))
    if coordinator:
        for label in COORDINATOR_MENU:
            builder.button(text=menu_label(label))
    builder.button(text=menu_label(MENU_HELP))
    builder.adjust(2)
    return builder.as_markup(resize_keyboard=True, is_persistent=True)


def audit_more(before: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("Older actions ▸"), callback_data=AuditCb(before=before))
    return builder.as_markup()


def languages() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for code, name in LANGUAGE_NAMES.items():
        builder.button(text=name, callback_data=LangCb(code=code))
    return builder.as_markup()


def roles() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("🌱 I grow coffee"), callback_data=RoleCb(role=Role.FARMER.value))
    builder.button(text=_("🏢 I buy coffee"), callback_data=RoleCb(role=Role.MERCHANT.value))
    builder.adjust(1)
    return builder.as_markup()


def digest_choice() -> InlineKeyboardMarkup:
    """Yes first: the digest is on unless the user says no."""
    builder = InlineKeyboardBuilder()
    builder.button(text=_("✅ Yes"), callback_data=DigestAnswerCb(want=True))
    builder.button(text=_("No"), callback_data=DigestAnswerCb(want=False))
    return builder.as_markup()


def share_contact() -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup(
        keyboard=[[KeyboardButton(text=_("📱 Share my phone number"), request_contact=True)]],
        resize_keyboard=True,
        one_time_keyboard=True,
    )


def villages(rows: list[Village]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for village in rows:
        builder.button(text=village.name, callback_data=VillageCb(village_id=village.id))
    builder.adjust(2)
    return builder.as_markup()


def _cancel_row(builder: InlineKeyboardBuilder) -> None:
    builder.row()
    builder.button(text=_("✖ Cancel"), callback_data=SummaryCb(action="cancel"))


def _choices(
    field: str,
    options: list[tuple[str, str]],
    columns: int,
    extra: list[tuple[str, str]] | None = None,
) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for value, text in options:
        builder.button(text=text, callback_data=ChoiceCb(field=field, value=value))
    for value, text in extra or []:
        builder.button(text=text, callback_data=ChoiceCb(field=field, value=value))
    builder.button(text=_("✖ Cancel"), callback_data=SummaryCb(action="cancel"))
    sizes = [columns] * ((len(options) + columns - 1) // columns) + [1] * (len(extra or []) + 1)
    builder.adjust(*sizes)
    return builder.as_markup()


def products() -> InlineKeyboardMarkup:
    return _choices("product", [(p.value, product_label(p.value)) for p in Product], 1)


def processes() -> InlineKeyboardMarkup:
    return _choices("process", [(p.value, process_label(p.value)) for p in Process], 3)


def varieties() -> InlineKeyboardMarkup:
    return _choices("variety", [(v.value, variety_label(v.value)) for v in Variety], 2)


def grades() -> InlineKeyboardMarkup:
    return _choices("grade", [(g.value, g.value) for g in Grade], 5, extra=[("-", _("No grade"))])


def quantity_units(amount: str) -> InlineKeyboardMarkup:
    return _choices(
        "unit",
        [
            ("kg", _("{amount} kg").format(amount=amount)),
            ("jin", _("{amount} 斤 (jin)").format(amount=amount)),
        ],
        2,
    )


def readings(shown: list[str]) -> InlineKeyboardMarkup:
    """The readings of a decimal comma ("12.5 kg", "125 kg"); the value is the index."""
    return _choices("reading", [(str(i), text) for i, text in enumerate(shown)], 2)


def only_cancel() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("✖ Cancel"), callback_data=SummaryCb(action="cancel"))
    return builder.as_markup()


def skip_back(field: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("Skip"), callback_data=ChoiceCb(field=field, value="-"))
    return builder.as_markup()


def summary(bean_facts: bool = True) -> InlineKeyboardMarkup:
    """Moisture and grade only where they mean something (not for fresh cherry)."""
    builder = InlineKeyboardBuilder()
    builder.button(text=_("✅ Confirm"), callback_data=SummaryCb(action="confirm"))
    if bean_facts:
        builder.button(text=_("💧 Moisture"), callback_data=SummaryCb(action="moisture"))
        builder.button(text=_("🏷 Grade"), callback_data=SummaryCb(action="grade"))
    builder.button(text=_("📷 Photo"), callback_data=SummaryCb(action="photo"))
    builder.button(text=_("✏️ Change"), callback_data=SummaryCb(action="change"))
    builder.button(text=_("✖ Cancel"), callback_data=SummaryCb(action="cancel"))
    if bean_facts:
        builder.adjust(1, 3, 2)
    else:
        builder.adjust(1, 2, 1)
    return builder.as_markup()


def change_fields(with_process: bool) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    fields = [("product", _("Product"))]
    if with_process:
        fields.append(("process", _("Process")))
    fields += [("variety", _("Variety")), ("quantity", _("Quantity"))]
    for value, text in fields:
        builder.button(text=text, callback_data=ChoiceCb(field="change", value=value))
    builder.button(text=_("◀ Back"), callback_data=ChoiceCb(field="change", value="-"))
    builder.adjust(2, 2, 1)
    return builder.as_markup()


def withdraw_buttons(reports: list[tuple[int, int]]) -> InlineKeyboardMarkup | None:
    """One button per (report id, the farmer's number for it)."""
    if not reports:
        return None
    builder = InlineKeyboardBuilder()
    for report_id, number in reports:
        builder.button(
            text=_("Withdraw #{id}").format(id=number),
            callback_data=ReportCb(action="withdraw", report_id=report_id),
        )
    builder.adjust(2)
    return builder.as_markup()


def confirm_withdraw(report_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text=_("Yes, withdraw"), callback_data=ReportCb(action="yes", report_id=report_id)
    )
    builder.button(text=_("No, keep it"), callback_data=ReportCb(action="no", report_id=report_id))
    return builder.as_markup()


def profile_actions() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("Change name"), callback_data=ProfileCb(field="name"))
    builder.button(text=_("Change phone"), callback_data=ProfileCb(field="phone"))
    builder.button(text=_("Change village"), callback_data=ProfileCb(field="village"))
    builder.adjust(2, 1)
    return builder.as_markup()


def approval(merchant_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text=_("✅ Approve"), callback_data=ApprovalCb(action="yes", merchant_id=merchant_id)
    )
    builder.button(
        text=_("✖ Reject"), callback_data=ApprovalCb(action="no", merchant_id=merchant_id)
    )
    return builder.as_markup()


def village_admin(rows: list[Village]) -> InlineKeyboardMarkup:
    """Per village: its link and QR code, and renaming; then adding one."""
    builder = InlineKeyboardBuilder()
    for village in rows:
        builder.button(
            text=_("🔗 {name}").format(name=village.name),
            callback_data=VillageAdminCb(action="link", village_id=village.id),
        )
        builder.button(
            text=_("✏️ {name}").format(name=village.name),
            callback_data=VillageAdminCb(action="rename", village_id=village.id),
        )
    builder.button(text=_("➕ Add village"), callback_data=VillageAdminCb(action="add"))
    builder.adjust(*([2] * len(rows)), 1)
    return builder.as_markup()


def draft_actions() -> InlineKeyboardMarkup:
    """Continue or discard an unfinished harvest report."""
    builder = InlineKeyboardBuilder()
    builder.button(text=_("▶ Continue"), callback_data=DraftCb(action="continue"))
    builder.button(text=_("🗑 Discard"), callback_data=DraftCb(action="discard"))
    return builder.as_markup()
