"""Callback data factories for every inline button."""

from aiogram.filters.callback_data import CallbackData


class LangCb(CallbackData, prefix="lang"):
    code: str


class RoleCb(CallbackData, prefix="role"):
    role: str


class VillageCb(CallbackData, prefix="vil"):
    village_id: int


class DigestAnswerCb(CallbackData, prefix="dgst"):
    """Registration's last answer: the daily price digest wanted or not."""

    want: bool


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


class ApprovalCb(CallbackData, prefix="appr"):
    """A coordinator's decision on a merchant: `action` is "yes" (approve) or "no" (reject)."""

    action: str
    merchant_id: int


class VillageAdminCb(CallbackData, prefix="vadm"):
    """Village admin: `action` is "link", "rename" or "add" (then `village_id` is 0)."""

    action: str
    village_id: int = 0


class AuditCb(CallbackData, prefix="aud"):
    """The next page of /audit: entries older than `before`."""

    before: int


class BroadcastCb(CallbackData, prefix="bc"):
    """A step of writing a broadcast: choose audience, add a version, send, schedule."""

    action: str
    value: str = ""


class BroadcastCtl(CallbackData, prefix="bcx"):
    """Cancel a scheduled or running broadcast."""

    action: str
    broadcast_id: int


class DraftCb(CallbackData, prefix="draft"):
    """An unfinished harvest report: `action` is "continue" or "discard"."""

    action: str


class LotCb(CallbackData, prefix="lot"):
    """A lot's buttons: "card" (show it in a new message, from a notice), "open" (show it in
    place of the /lots list), "list" (a page of /lots, in place; `lot_id` 0), "photos", "bid"
    (type a price), "max" (type a proxy maximum), "bids" / "close" / "cancel" (coordinators);
    `page` and `product` keep the list's place so "back" returns to it."""

    action: str
    lot_id: int = 0
    page: int = 0
    product: str = ""


class QuickBidCb(CallbackData, prefix="qb"):
    """A quick bid at a price computed when the button was drawn (+1, +3, +5 increments over
    the leading price then): a price that moved since is refused with the new minimum."""

    lot_id: int
    price: int
    confirmed: bool = False


class SaleCb(CallbackData, prefix="sale"):
    """A coordinator's Accept / Reject of a sale waiting for acceptance."""

    lot_id: int
    accept: bool


class MaximumCb(CallbackData, prefix="mx"):
    """A proxy maximum the merchant chose (one reading of "9,6", or confirmed far above the
    leading price): the system bids for them up to it."""

    lot_id: int
    maximum: int
    confirmed: bool = False


class PoolCb(CallbackData, prefix="pool"):
    """A pool in /pools, to open an auction on it; an empty `process` or `grade` is None
    (fresh cherry has no process; ungraded is a grade of its own)."""

    village_id: int
    product: str
    process: str = ""
    grade: str = ""


class AuctionCb(CallbackData, prefix="auc"):
    """A step of opening an auction: `action` is the question answered ("size", "reserve",
    "increment", "hours", "accept") or "confirm" / "cancel"; `value` the answer."""

    action: str
    value: str = ""


class CollectCb(CallbackData, prefix="col"):
    """Collecting a sold lot: "open" (its collection screen), "place" (set or change place and
    time), "ok" / "type" / "none" (a report weighed as reported, typed, not delivered),
    "page" (the screen's `page`), "complete" (asks first), "complete_yes", "back", "cancel"."""

    action: str
    lot_id: int
    report_id: int = 0
    page: int = 0


class FiguresCb(CallbackData, prefix="fig"):
    """/stats for another period: "month", "season" or "all" (bot.services.periods.Period)."""

    period: str


class PayoutCb(CallbackData, prefix="pay"):
    """A coordinator's payouts screen (/due): "paid" marks `payout_id` paid (a reference is
    asked), "all" marks every payout due on or before the day `day` (an ordinal) paid."""

    action: str
    payout_id: int = 0
    day: int = 0


class DisputeCb(CallbackData, prefix="dsp"):
    """A farmer's "this is wrong" on a payout notice ("open"), then "send" / "cancel"."""

    action: str
    payout_id: int = 0


class ResolveCb(CallbackData, prefix="dres"):
    """A coordinator resolves a dispute: "fix" (type a correction) or "explain"."""

    action: str
    dispute_id: int


class SetPriceCb(CallbackData, prefix="pset"):
    """A step of /setprice: "product" / "grade" (`value` the answer, "-" for ungraded),
    "price" (one reading of "9,6", in fen), "confirm" or "cancel"."""

    action: str
    value: str = ""


class HeldPriceCb(CallbackData, prefix="held"):
    """A coordinator's Confirm / Reject of a price held for moving too far."""

    price_id: int
    confirm: bool


class DigestCb(CallbackData, prefix="pdg"):
    """/prices' button: switch the daily price digest to `on`."""

    on: bool
