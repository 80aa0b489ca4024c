"""Callback data factories for every inline button."""

from aiogram.filters.callback_data import CallbackData


class LangCb(CallbackData, prefix="lang"):
    code: str


class RoleCb(CallbackData, prefix="role"):
    role: str


class VillageCb(CallbackData, prefix="vil"):
    village_id: int


class ChoiceCb(CallbackData, prefix="hv"):
    """A wizard answer: `field` is the question (product, process, ...), `value` the answer."""

    field: str
    value: str


class SummaryCb(CallbackData, prefix="sum"):
    action: str


class ReportCb(CallbackData, prefix="rep"):
    action: str
    report_id: int


class ProfileCb(CallbackData, prefix="prof"):
    field: str
