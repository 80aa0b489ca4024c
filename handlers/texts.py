"""Every label and rendered text users see; strings through gettext, numbers through Babel."""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from aiogram.types import Message
from aiogram.utils.i18n import I18n, get_i18n, ngettext
from aiogram.utils.i18n import gettext as _
from babel.numbers import format_decimal

from bot.config import Settings
from bot.formatting import (
    format_amount,
    format_date,
    format_datetime,
    format_moisture,
    format_moisture_range,
    format_money,
    format_price,
    format_quantity,
)
from bot.i18n import N_
from bot.models import (
    AuditAction,
    AuditEntry,
    AuditVia,
    HarvestReport,
    MerchantStatus,
    Product,
    ReportStatus,
    Role,
    User,
    Village,
)
from bot.quantity import Problem, QuantityRejected
from bot.services import harvests
from bot.services.errors import DomainError
from bot.services.harvests import HarvestDraft
from bot.services.pools import Pool
from bot.services.users import may_reapply

LANGUAGE_NAMES = {"zh": "中文", "en": "English"}


def locale() -> str:
    return get_i18n().current_locale


def all_locales(msgid: str) -> frozenset[str]:
    """A menu label in every shipped language, so an old keyboard still works after /language."""
    return _all_locales(get_i18n(), msgid)


@functools.cache
def _all_locales(i18n: I18n, msgid: str) -> frozenset[str]:
    """Once per label: menu filters ask on every message (a dozen lookups an update)."""
    return frozenset({i18n.gettext(msgid, locale=code) for code in LANGUAGE_NAMES} | {msgid})


# Menu buttons (reply keyboard): msgids kept as constants so filters can match every language.
MENU_REPORT = N_("📦 Report harvest")
MENU_REPORTS = N_("📋 My reports")
MENU_PROFILE = N_("👤 Profile")
MENU_HELP = N_("❓ Help")
MENU_PAYOUTS = N_("💴 Payouts")
MENU_PRICES = N_("📈 Prices")  # farmers' and approved merchants' menus
MENU_LABELS = (MENU_REPORT, MENU_REPORTS, MENU_PROFILE, MENU_HELP, MENU_PAYOUTS, MENU_PRICES)
# The coordinator's menu: each button does what its command does.
MENU_BROADCAST = N_("📣 Announcement")
MENU_BROADCASTS = N_("🗓 Announcements")
MENU_APPROVE = N_("🏢 Approve merchants")
MENU_VILLAGES = N_("🏘 Villages")
MENU_AUDIT = N_("📜 Audit log")
MENU_AUCTIONS = N_("🔨 Auctions")
MENU_STATS = N_("📊 Figures")
MENU_EXPORT = N_("💾 Export")
COORDINATOR_MENU = (
    MENU_BROADCAST,
    MENU_BROADCASTS,
    MENU_APPROVE,
    MENU_VILLAGES,
    MENU_AUDIT,
    MENU_AUCTIONS,
    MENU_STATS,
    MENU_EXPORT,
)
# An approved merchant's menu: the market.
MENU_LOTS = N_("🔨 Lots")
MENU_MYBIDS = N_("💰 My bids")
MENU_RULES = N_("📖 Rules")
MERCHANT_MENU = (MENU_LOTS, MENU_MYBIDS, MENU_RULES)


def menu_label(msgid: str) -> str:
    return _(msgid)


def is_answer(message: Message) -> bool:
    """Typed text that answers a question: not a command and not a menu button."""
    text = message.text
    if not text or text.startswith("/"):
        return False
    return not any(
        text in all_locales(label) for label in (*MENU_LABELS, *COORDINATOR_MENU, *MERCHANT_MENU)
    )


def share_phone_help() -> str:
    """A typed phone number where the share-phone button is asked for (registration, profile)."""
    return _("Please do not type the number: tap the button “📱 Share my phone number” below.")


def is_menu(*msgids: str) -> Callable[[Message], bool]:
    """A filter matching a menu button's label (any of these) in any shipped language."""

    def check(message: Message) -> bool:
        return message.text is not None and any(
            message.text in all_locales(msgid) for msgid in msgids
        )

    return check


def product_label(value: str) -> str:
    return {"cherry": _("Fresh cherry"), "parchment": _("Parchment"), "green": _("Green bean")}.get(
        value, value
    )


def process_label(value: str | None) -> str:
    if value is None:
        return _("— (fresh cherry)")
    return {"washed": _("Washed"), "natural": _("Natural"), "honey": _("Honey")}.get(value, value)


def variety_label(value: str) -> str:
    return {
        "catimor": _("Catimor"),
        "typica": _("Typica"),
        "bourbon": _("Bourbon"),
        "other": _("Other variety"),
    }.get(value, value)


def grade_label(value: str | None) -> str:
    return value if value else _("not given")


def status_label(status: ReportStatus) -> str:
    """In plain words: where the report is and what happens next."""
    return {
        ReportStatus.SUBMITTED: _(
            "Received: waiting to be sold together with your village's coffee"
        ),
        ReportStatus.POOLED: _("Put together with your village's coffee: waiting for a buyer"),
        ReportStatus.SOLD: _("Sold: we will tell you when and where to bring it"),
        ReportStatus.COLLECTED: _("Handed over to the buyer: waiting for your payment"),
        ReportStatus.PAID: _("Paid: this report is finished"),
        ReportStatus.WITHDRAWN: _("Withdrawn by you: it will not be sold"),
        ReportStatus.NOT_DELIVERED: _("Not brought to the collection: not paid"),
    }[status]


def quantity_text(grams: int, unit: str | None) -> str:
    """What the farmer typed beside kilograms: "500 斤（250 公斤）"."""
    return format_quantity(grams, locale(), _, unit)


def amount_text(amount: Decimal, unit: str | None) -> str:
    """A number in the unit typed ("12.5 公斤"), or alone when no unit was typed."""
    if unit is None:
        return format_decimal(amount, format="#,##0.###", locale=locale())
    return format_amount(amount, unit, locale(), _)


def draft_summary(draft: HarvestDraft) -> str:
    """Fresh cherry has no process, grade or moisture lines."""
    loc = locale()
    bean_facts = draft.product is None or harvests.has_bean_facts(Product(draft.product))
    lines = [
        _("Please check your harvest report:"),
        "",
        _("Product: {value}").format(value=product_label(draft.product or "")),
    ]
    if draft.product != "cherry":
        lines.append(_("Process: {value}").format(value=process_label(draft.process)))
    lines += [
        _("Variety: {value}").format(value=variety_label(draft.variety or "")),
        _("Quantity: {value}").format(
            value=quantity_text(draft.quantity_g or 0, draft.quantity_unit)
        ),
    ]
    if bean_facts:
        lines += [
            _("Moisture: {value}").format(
                value=format_moisture(draft.moisture_tenths, loc)
                if draft.moisture_tenths is not None
                else _("not given")
            ),
            _("Grade: {value}").format(value=grade_label(draft.grade)),
        ]
    lines += [
        _("Photo: {value}").format(value=_("attached") if draft.photo_file_id else _("none")),
        "",
        _("Tap Confirm to send it, or add or change details first."),
    ]
    return "\n".join(lines)


def report_line(report: HarvestReport, settings: Settings) -> str:
    loc = locale()
    kind = product_label(report.product.value)
    if report.process is not None:
        kind += " · " + process_label(report.process.value)
    return _("#{id} {kind}, {variety}, {quantity}\n{status} · {date}").format(
        id=report.farmer_seq,
        kind=kind,
        variety=variety_label(report.variety.value),
        quantity=quantity_text(report.quantity_g, report.quantity_unit),
        status=status_label(report.status),
        date=format_date(report.created_at, loc, settings.tz),
    )


def profile_text(user: User) -> str:
    return "\n".join(
        [
            _("Your profile"),
            _("Name: {value}").format(value=user.name or "—"),
            _("Phone: {value}").format(value=user.phone or "—"),
            _("Village: {value}").format(value=user.village.name if user.village else "—"),
            _("Language: {value}").format(value=LANGUAGE_NAMES.get(user.language or "", "—")),
        ]
    )


def quantity_problem(exc: QuantityRejected) -> str:
    """Why a typed quantity was refused, in the user's words."""
    texts = {
        Problem.EMPTY: _("Please type the quantity."),
        Problem.UNREADABLE: _("I could not read a number there."),
        Problem.UNKNOWN_UNIT: _("I do not know that unit. Please use kg, 公斤, 斤 or t."),
        Problem.NO_UNIT: _("Please add a unit: kg, 公斤, 斤 or 吨."),
        Problem.AMBIGUOUS_SEPARATOR: _("Please write decimals with a dot, like 12.5."),
        Problem.ZERO: _("The quantity cannot be zero."),
        Problem.NEGATIVE: _("The quantity cannot be negative."),
        Problem.TOO_SMALL: _("That is less than half a kilogram: too little to collect."),
        Problem.TOO_LARGE: _("That is more than 100 tonnes: please check the number and unit."),
        Problem.TOO_PRECISE: _("Please round to the nearest gram."),
    }
    return texts[exc.problem]


def domain_problem(exc: DomainError) -> str:
    """A rule's refusal, in the user's words; only the matching text is rendered."""
    d = exc.details
    if exc.reason == "report_not_withdrawable":
        return _("This report can no longer be withdrawn. Its status: {status}.").format(
            status=status_label(ReportStatus(str(d.get("status", "sold"))))
        )
    if exc.reason == "already_coordinator":
        if "telegram_id" in d:
            return _("{id} is a coordinator already.").format(id=d["telegram_id"])
        return _("You are a coordinator already.")
    if exc.reason == "lot_not_open":
        return _("This auction is over already: {status}.").format(
            status=lot_status_label(str(d.get("status", "")))
        )
    if exc.reason == "sale_decided":
        if d.get("late"):
            return _(
                "The time to accept this sale ran out, so it is rejected: the coffee goes back "
                "to its pool and everyone concerned is told."
            )
        if d.get("status") == "open":
            return _("This lot is still open for bids: there is no sale to decide yet.")
        return _("This sale was decided already: {status}.").format(
            status=lot_status_label(str(d.get("status", "")))
        )
    if exc.reason == "lot_not_sold":
        return _("This lot is not sold, so there is nothing to collect: {status}.").format(
            status=lot_status_label(str(d.get("status", "")))
        )
    if exc.reason == "merchant_decided":
        if d.get("status") == "approved":
            return _("This merchant was already approved.")
        return _("This merchant was already turned down.")
    templates = {
        "name_invalid": _("That does not look like a name. Please type letters."),
        "name_too_long": _("That is too long (at most {limit} characters)."),
        "phone_invalid": _("That does not look like a phone number."),
        "contact_not_own": _(
            "That is someone else's contact. Please share your own number with the button "
            "below, so buyers and the cooperative can reach you."
        ),
        "contact_empty": _(
            "Please type a phone number or an e-mail address, or share your Telegram contact "
            "with the button below."
        ),
        "contact_phone_length": _(
            "A phone number has {low} to {high} digits. Please check the number and type it again."
        ),
        "contact_email_invalid": _(
            "That e-mail address is not complete: it should look like name@example.com."
        ),
        "contact_invalid": _(
            "The cooperative cannot reach you with that: it is neither a phone number nor an "
            "e-mail address. Type one of them, or share your Telegram contact with the button "
            "below."
        ),
        "village_unknown": _("That village is not in the programme any more. Please choose again."),
        "unreadable": _("I could not read a percentage there."),
        "out_of_range": _("Moisture must be between {low}% and {high}%."),
        "too_precise": _("Please use at most one decimal, like 12.5."),
        "report_not_found": _("That report was not found."),
        "cherry_no_bean_facts": _(
            "Grade and moisture are for parchment and green beans, not for fresh cherry."
        ),
        "not_farmer": _("Only registered farmers can do that. Send /start to register."),
        "not_allowed": _("Sorry, only coordinators can do that."),
        "prices_not_registered": _(
            "Coffee prices are shown to the programme's registered farmers and merchants. "
            "Please register first: send /start."
        ),
        "broadcast_empty": _("An announcement needs some text, or a photo."),
        "broadcast_too_long": _("That is too long for one message (at most {limit} characters)."),
        "schedule_in_past": _("That time has already passed. Please choose a later one."),
        "schedule_unreadable": _(
            "I could not read that date and time. Please write it like 2026-12-01 09:00."
        ),
        "broadcast_not_found": _("That announcement was not found."),
        "broadcast_not_active": _("That announcement is finished or cancelled already."),
        "merchant_not_found": _("That merchant was not found."),
        "reason_empty": _("Please type the reason: the merchant will read it."),
        "reason_too_long": _("That is too long (at most {limit} characters)."),
        "village_name_empty": _("Please type the village's name."),
        "village_name_too_long": _("That is too long (at most {limit} characters)."),
        "village_exists": _("There is a village called {name} already."),
        "user_not_found": _(
            "Nobody with the Telegram id {id} has used this bot yet. Ask them to send /start "
            "to the bot first, then promote them."
        ),
        "not_coordinator": _("{id} is not a coordinator."),
        "coordinator_configured": _(
            "{id} is a coordinator by the bot's configuration (COORDINATOR_IDS), so they "
            "cannot be demoted in chat. Ask the operator to remove the id there; it takes "
            "effect at the bot's next start."
        ),
        "last_coordinator": _(
            "You are the last coordinator, so you cannot step down: promote someone else first."
        ),
        "merchant_approved_already": _("You are an approved merchant already."),
        "bid_not_registered": _(
            "Only approved merchants can bid. To buy coffee here, send /start and register "
            "as a merchant."
        ),
        "bid_farmer": _(
            "Only approved merchants can bid on lots. Your own coffee is sold for you here: "
            "we will tell you the result."
        ),
        "bid_coordinator": _(
            "Coordinators run the auctions and do not bid: only approved merchants can bid."
        ),
        "bid_pending": _(
            "Your merchant registration is still waiting for a coordinator's approval. You can "
            "bid as soon as it is approved: we will message you here."
        ),
        "bid_rejected": _(
            "Your merchant registration was not approved, so you cannot bid. Send /start to "
            "apply again."
        ),
        "lot_closed": _("Bidding on this lot has closed: it takes no more bids."),
        "bid_out_of_range": _(
            "That price cannot be bid: a price per kg is more than zero and at most ¥1,000."
        ),
        "lot_cancelled": _(
            "The auction of this lot was cancelled by the cooperative: it takes no bids."
        ),
        "no_such_lot": _("That lot was not found. Send /lots to see the lots open now."),
        "bid_empty": _("Please type a price per kilogram, like 9.60."),
        "maximum_below_price": _("Your maximum cannot be below the price you bid."),
        "bad_reserve": _(
            "A price must be more than zero and at most ¥1,000 per kg. Please type another one."
        ),
        "bad_price": _(
            "A price must be more than zero and at most ¥1,000 per kg. Please type another one."
        ),
        "bad_increment": _(
            "The minimum increment must be more than zero and not more than the reserve price. "
            "Please choose another one."
        ),
        "close_in_past": _("That closing time has already passed. Please choose a later one."),
        "bad_lot_size": _("A lot size must be more than zero. Please choose another one."),
        "pool_empty": _(
            "This pool is empty now: its reports were withdrawn or went into another lot. "
            "Send /pools to see what is waiting."
        ),
        "pool_changed": _(
            "The pool changed since you looked (a report was added, withdrawn or put in another "
            "lot), so nothing was opened. Here is the new plan: please check it again."
        ),
        "payout_not_found": _("That payout was not found. Send /payouts to see yours."),
        "payout_paid_already": _("This payout was marked paid already (reference {reference})."),
        "reference_empty": _(
            "Please type the transfer's reference: the bank or mobile-money transfer id."
        ),
        "reference_too_long": _("That is too long (at most {limit} characters)."),
        "dispute_reason_empty": _("Please write in a few words what is wrong."),
        "dispute_reason_too_long": _("That is too long (at most {limit} characters)."),
        "dispute_open_already": _(
            "You have told the cooperative about this payout already; a coordinator will "
            "answer you here."
        ),
        "dispute_not_found": _("That dispute was not found. Send /disputes to see the open ones."),
        "dispute_resolved_already": _("This dispute was resolved already."),
        "explanation_empty": _("Please type the explanation: the farmer will read it."),
        "explanation_too_long": _("That is too long (at most {limit} characters)."),
        "correction_invalid": _(
            "A correction must be more than zero either way, like 12.50 or -3."
        ),
        "correction_below_zero": _(
            "That would make the payout less than zero: it is {amount} now. Please type "
            "another correction."
        ),
        "telegram_id_invalid": _(
            "That is not a Telegram user id. It is a number like 123456789: the person can "
            "see theirs in Telegram, for example with @userinfobot."
        ),
        "collection_not_set": _(
            "Set the collection's place and time first: then the weights can be recorded."
        ),
        "collection_completed": _(
            "This collection is completed already: the merchant is invoiced and the payouts "
            "are scheduled."
        ),
        "collection_incomplete": _(
            "{missing} report(s) still have no weight. Record every report (or mark it not "
            "delivered) before completing."
        ),
        "no_such_contribution": _("That report is not in this lot."),
        "bad_weight": _(
            "A weighed quantity must be more than zero and at most 100 t. Please type it again."
        ),
        "place_empty": _("Please type where the coffee is collected."),
        "place_too_long": _("That is too long (at most {limit} characters)."),
    }
    template = templates.get(exc.reason)
    if template is None:
        return _("That did not work. Please try again.")
    values = defaultdict(str, {**d, "id": d.get("telegram_id", "")})
    if "amount_fen" in d:
        values["amount"] = format_money(int(str(d["amount_fen"])), locale())
    return template.format_map(values)


def lot_status_label(status: str) -> str:
    """Where a lot stands, in a few words."""
    return {
        "open": _("open for bids"),
        "awaiting": _("waiting for acceptance"),
        "sold": _("sold"),
        "unsold": _("closed without a sale"),
        "rejected": _("sale rejected"),
        "cancelled": _("cancelled"),
    }.get(status, status)


def help_text(user: User, programme: str) -> str:
    """What this user can do now: it depends on the role and, for a merchant, the status."""
    if user.role == Role.FARMER and user.registered:
        return (
            _(
                "farmgate helps you sell your coffee together with your neighbours.\n\n"
                "📦 Report harvest: tell us what you have (about a minute, mostly buttons).\n"
                "📋 My reports: see your reports and withdraw one not yet sold.\n"
                "👤 Profile: change your name, phone or village.\n\n"
                "/language changes the language, /cancel stops any question."
            )
            + "\n\n"
            + _(
                "💴 Payouts (/payouts): what you are paid for coffee sold and weighed, when, and "
                "whether it is paid. If a payout message is wrong, press ⚠️ This is wrong on it."
            )
            + "\n\n"
            + prices_help()
        )
    if may_reapply(user):
        return _(
            "Your merchant registration was not approved. Send /start to apply again with "
            "corrected details; a coordinator will check it again.\n\n"
            "/language changes the language, /cancel stops any question."
        )
    if user.role == Role.MERCHANT and user.merchant_status == MerchantStatus.APPROVED:
        return (
            _(
                "You are an approved merchant of {programme} ({company}).\n\n"
                "Coffee pooled from many farmers is auctioned here, in this chat: we message you "
                "when a lot opens.\n\n"
                "🔨 Lots (/lots): the lots open now; open one to see it, its photos, and bid.\n"
                "💰 My bids (/mybids): your lots, whether you lead, what you won and owe.\n"
                "📖 Rules (/rules): how bidding works.\n\n"
                "The programme's announcements arrive here too. /language changes the language, "
                "/cancel stops typing a price."
            ).format(programme=programme, company=user.company or "—")
            + "\n\n"
            + _(
                "When you win a lot, a coordinator tells you where and when to collect it; after "
                "the weighing your invoice (weighed kg × your price) arrives here."
            )
            + "\n\n"
            + prices_help()
        )
    if user.role == Role.MERCHANT and user.registered:
        return (
            _(
                "Your registration ({company}) is waiting for a coordinator's approval. There is "
                "nothing more to do now: we will message you here when it is approved, and then "
                "you can bid on coffee pooled from many farmers.\n\n"
                "/language changes the language."
            ).format(company=user.company or "—")
            + "\n\n"
            + _("/prices: today's coffee prices and a chart of the last 30 days.")
        )
    if user.role == Role.COORDINATOR:
        return (
            _(
                "You are a coordinator of {programme}. Your tools are in the menu below:\n\n"
                "📣 Announcement (/broadcast): send an announcement to everyone or to a group.\n"
                "🗓 Announcements (/broadcasts): scheduled and running announcements.\n"
                "🏢 Approve merchants (/approve): merchants waiting for approval.\n"
                "🏘 Villages (/villages): villages, their registration links and QR codes; add or "
                "rename one.\n"
                "📜 Audit log (/audit): the latest coordinator actions, who did what and when.\n"
                "/pools: harvest waiting to be sold, by pool; open an auction on one.\n"
                "🔨 Auctions (/auctions): open auctions and sales waiting for acceptance; bids, "
                "closing early, cancelling.\n\n"
                "/promote: make a user a coordinator, for example /promote 123456789.\n"
                "/demote: take the coordinator role back, for example /demote 123456789.\n"
                "/language changes the language, /cancel stops any question."
            ).format(programme=programme)
            + "\n\n"
            + _(
                "📊 Figures (/stats): farmers, harvest, lots, sales and payouts this month, this "
                "season or in all.\n"
                "💾 Export (/export): all the data as CSV files (farmers, harvest reports, lots, "
                "bids, collections, payouts)."
            )
            + "\n\n"
            + _(
                "/collect: sold lots to collect: set the place and time, record each farmer's "
                "weighed kg, then complete (the merchant is invoiced, the payouts scheduled).\n"
                "/due: payouts due; mark them paid with the transfer reference.\n"
                "/disputes: farmers' open disputes about payouts; correct the amount or explain."
            )
            + "\n\n"
            + _("/prices: today's coffee prices and a chart of the last 30 days.")
            + "\n\n"
            + _(
                "/setprice: set the reference price of a product and grade, typed like 9.6元; "
                "you see the change from the last price before you confirm."
            )
        )
    return _("Welcome to {programme}! Send /start to register as a farmer or a merchant.").format(
        programme=programme
    )


def prices_help() -> str:
    """The 📈 button's line of a farmer's and an approved merchant's help."""
    return _(
        '📈 Prices (/prices, or type 价格 or "price"): today\'s coffee prices and a chart of the '
        "last 30 days; its button turns the daily prices on or off."
    )


# Coordinator tools


def coordinator_greeting() -> str:
    return _(
        "You are a coordinator. Your tools are in the menu below: announcements, auctions, "
        "merchants waiting for approval, villages and the audit log. ❓ Help explains each one."
    )


def merchant_card(merchant: User, settings: Settings) -> str:
    """One merchant waiting for approval, as the coordinator sees them."""
    registered = (
        format_date(merchant.registered_at, locale(), settings.tz)
        if merchant.registered_at
        else "—"
    )
    card = _("🏢 {company}\nContact: {contact}\nRegistered: {date}").format(
        company=merchant.company or "—", contact=merchant.contact or "—", date=registered
    )
    if merchant.merchant_application > 1:
        card += "\n" + _("Application {number}; the last one was not approved: {reason}").format(
            number=merchant.merchant_application, reason=merchant.merchant_reject_reason or "—"
        )
    return card


def village_list(villages: list[Village], counts: dict[int, int]) -> str:
    if not villages:
        return _("There are no villages yet. Add the first one with the button below.")
    lines = [_("Villages of the programme, with their registered farmers:"), ""]
    lines += [
        _("{name} · farmers: {count}").format(name=v.name, count=counts.get(v.id, 0))
        for v in villages
    ]
    lines += [
        "",
        _("Tap a village for its registration link and QR code, or ✏️ to rename it."),
    ]
    return "\n".join(lines)


def village_link_caption(village: Village, link: str) -> str:
    return _(
        "{name}\nFarmers who open this link or scan this code register straight into "
        "{name}:\n{link}"
    ).format(name=village.name, link=link)


# The audit log

MAX_MESSAGE = 4000  # Telegram allows 4096 characters; the rest is headroom
_LONG = 80


def _short(text: object) -> str:
    text = str(text or "—")
    return text if len(text) <= _LONG else text[: _LONG - 1] + "…"


def _named(name: object, telegram_id: object) -> str:
    return f"{_short(name)} ({telegram_id})" if name else str(telegram_id)


def _audit_actor(entry: AuditEntry) -> str:
    if entry.actor is not None:
        return _named(entry.actor.name or entry.actor.company, entry.actor.telegram_id)
    if entry.via == AuditVia.CONFIG:
        return _("the configuration (COORDINATOR_IDS)")
    if entry.via == AuditVia.SCHEDULER:
        return _("the bot (a deadline passed)")
    return _("the operator (command line)")


def _audit_what(entry: AuditEntry, settings: Settings) -> str:
    d = entry.details
    person = _named(d.get("name"), d.get("telegram_id", ""))
    company = _short(d.get("company"))
    number = entry.broadcast_id or ""
    if entry.action == AuditAction.PROMOTE:
        return _("made {person} a coordinator").format(person=person)
    if entry.action == AuditAction.DEMOTE:
        return _("took the coordinator role from {person}").format(person=person)
    if entry.action == AuditAction.APPROVE:
        return _("approved the merchant {company}").format(company=company)
    if entry.action == AuditAction.REJECT:
        return _("turned down the merchant {company}: {reason}").format(
            company=company, reason=_short(d.get("reason"))
        )
    if entry.action == AuditAction.BROADCAST:
        return _("sent announcement #{id}").format(id=number)
    if entry.action == AuditAction.SCHEDULE:
        when = d.get("scheduled_at")
        return _("scheduled announcement #{id} for {when}").format(
            id=number,
            when=format_datetime(datetime.fromisoformat(when), locale(), settings.tz)
            if when
            else "—",
        )
    if entry.action == AuditAction.CANCEL:
        return _("cancelled announcement #{id}").format(id=number)
    lot = _("Lot #{id}").format(id=d.get("lot_id", ""))
    if entry.action == AuditAction.LOT_OPEN:
        return _("opened the auction of {lot} ({kg}, reserve {price})").format(
            lot=lot,
            kg=format_quantity(int(d.get("grams") or 0), locale(), _),
            price=format_price(int(d.get("reserve_fen") or 0), locale(), _),
        )
    if entry.action == AuditAction.LOT_CLOSE:
        return _("closed the auction of {lot} early").format(lot=lot)
    if entry.action == AuditAction.LOT_CANCEL:
        return _("cancelled the auction of {lot}").format(lot=lot)
    if entry.action in (AuditAction.SALE_ACCEPT, AuditAction.SALE_REJECT):
        price = format_price(int(d.get("price_fen") or 0), locale(), _)
        if entry.action == AuditAction.SALE_ACCEPT:
            return _("accepted the sale of {lot} at {price}").format(lot=lot, price=price)
        if entry.via == AuditVia.SCHEDULER:
            return _("rejected the sale of {lot} at {price}: nobody answered in time").format(
                lot=lot, price=price
            )
        return _("rejected the sale of {lot} at {price}").format(lot=lot, price=price)
    if entry.action == AuditAction.COLLECTION_SET:
        when = d.get("collect_at")
        return _("set the collection of {lot}: {place}, {when}").format(
            lot=lot,
            place=_short(d.get("place")),
            when=format_datetime(datetime.fromisoformat(when), locale(), settings.tz)
            if when
            else "—",
        )
    if entry.action == AuditAction.COLLECTION_COMPLETE:
        return _("completed the collection of {lot}: {kg} weighed, invoice {amount}").format(
            lot=lot,
            kg=format_quantity(int(d.get("weighed_grams") or 0), locale(), _),
            amount=format_money(int(d.get("invoice_fen") or 0), locale()),
        )
    if entry.action == AuditAction.PAYOUT_PAID:
        return _("marked payout #{id} paid: {amount}, reference {reference}").format(
            id=d.get("payout_id", ""),
            amount=format_money(int(d.get("amount_fen") or 0), locale()),
            reference=_short(d.get("reference")),
        )
    if entry.action == AuditAction.DISPUTE_RESOLVE:
        if d.get("correction_fen"):
            return _("corrected payout #{id} by {amount} (dispute #{dispute})").format(
                id=d.get("payout_id", ""),
                amount=format_money(int(d.get("correction_fen") or 0), locale()),
                dispute=d.get("dispute_id", ""),
            )
        return _("explained payout #{id} (dispute #{dispute})").format(
            id=d.get("payout_id", ""), dispute=d.get("dispute_id", "")
        )
    if entry.action in (AuditAction.PRICE_SET, AuditAction.PRICE_CONFIRM, AuditAction.PRICE_REJECT):
        # Named as the price pushes name it; imported here: price_notices imports this module.
        from handlers.price_notices import key_label

        what = key_label(str(d.get("key", "")))
        price = format_price(int(d.get("fen_per_kg") or 0), locale(), _)
        if entry.action == AuditAction.PRICE_CONFIRM:
            return _("confirmed the feed's price of {what}: {price}").format(what=what, price=price)
        if entry.action == AuditAction.PRICE_REJECT and d.get("outdated"):
            return _(
                "turned down the feed's price of {what} ({price}): a newer price was set"
            ).format(what=what, price=price)
        if entry.action == AuditAction.PRICE_REJECT:
            return _("turned down the feed's price of {what}: {price}").format(
                what=what, price=price
            )
        return _("set the reference price of {what} to {price}").format(what=what, price=price)
    if entry.action == AuditAction.VILLAGE_ADD:
        return _("added the village {name}").format(name=_short(d.get("name")))
    if entry.action == AuditAction.EXPORT:
        return _("exported the programme's data ({files} CSV files)").format(
            files=len(d.get("tables") or ())
        )
    return _("renamed the village {old} to {name}").format(
        old=_short(d.get("old")), name=_short(d.get("name"))
    )


def audit_page(entries: list[AuditEntry], settings: Settings) -> tuple[str, int]:
    """Newest first, one line each, in the reader's language and the programme's time zone.
    Returns the text and how many entries fit in one message."""
    if not entries:
        return _("No coordinator actions are recorded yet."), 0
    text = _("Coordinator actions, newest first:")
    shown = 0
    for entry in entries:
        line = _("{when} · {who}: {what}").format(
            when=format_datetime(entry.created_at, locale(), settings.tz),
            who=_audit_actor(entry),
            what=_audit_what(entry, settings),
        )
        if len(text) + 2 + len(line) > MAX_MESSAGE:
            break
        text += "\n\n" + line
        shown += 1
    return text, shown


# Pools


def pool_block(pool: Pool, settings: Settings) -> str:
    """One pool in one line, the facts a price depends on: "Conggang · Parchment, Washed,
    grade A — 1,250 kg from 23 farmers (31 reports), moisture 10.5–12%, oldest …"."""
    loc = locale()
    key = pool.key
    kind = product_label(key.product.value)
    if key.process is not None:
        kind = _("{product}, {process}").format(
            product=kind, process=process_label(key.process.value)
        )
    grade = (
        _("grade {grade}").format(grade=key.grade.value) if key.grade is not None else _("ungraded")
    )
    if pool.moisture_min_tenths is None or pool.moisture_max_tenths is None:
        moisture = _("no moisture given")
    else:
        moisture = _("moisture {range}").format(
            range=format_moisture_range(pool.moisture_min_tenths, pool.moisture_max_tenths, loc)
        )
    farmers = ngettext("{count} farmer", "{count} farmers", pool.farmers).format(
        count=format_decimal(pool.farmers, locale=loc)
    )
    reports = ngettext("{count} report", "{count} reports", pool.reports).format(
        count=format_decimal(pool.reports, locale=loc)
    )
    return _(
        "{village} · {kind}, {grade} — {quantity} from {farmers} ({reports}), {moisture}, "
        "oldest {date}"
    ).format(
        village=pool.village_name,
        kind=kind,
        grade=grade,
        quantity=format_quantity(pool.grams, loc, _),
        farmers=farmers,
        reports=reports,
        moisture=moisture,
        date=format_date(pool.oldest_at, loc, settings.tz),
    )


POOLS_PER_PAGE = 50  # each pool of a message has a button; Telegram allows 100 per message


def pool_page_groups(pools: list[Pool], settings: Settings) -> list[tuple[str, list[Pool]]]:
    """Every pool, in as few messages as Telegram's length limit allows (a heading first),
    with the pools each message shows (for its buttons)."""
    if not pools:
        return [(_("No harvest is waiting to be pooled yet."), [])]
    pages: list[tuple[str, list[Pool]]] = [
        (
            _("Harvest waiting to be sold, by pool ({count}):").format(
                count=format_decimal(len(pools), locale=locale())
            ),
            [],
        )
    ]
    for pool in pools:
        block = pool_block(pool, settings)
        text, shown = pages[-1]
        if len(text) + 2 + len(block) > MAX_MESSAGE or len(shown) >= POOLS_PER_PAGE:
            pages.append((block, [pool]))
        else:
            pages[-1] = (text + "\n\n" + block, [*shown, pool])
    return pages


def pool_pages(pools: list[Pool], settings: Settings) -> list[str]:
    """Every pool, in as few messages as Telegram's length limit allows (a heading first)."""
    return [text for text, _shown in pool_page_groups(pools, settings)]
