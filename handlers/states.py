"""Dialogue states, one StatesGroup per dialogue."""

from aiogram.fsm.state import State, StatesGroup


class Registration(StatesGroup):
    language = State()
    role = State()
    farmer_name = State()
    farmer_phone = State()
    farmer_village = State()
    farmer_digest = State()
    merchant_company = State()
    merchant_contact = State()
    merchant_digest = State()


class Harvest(StatesGroup):
    product = State()
    process = State()
    variety = State()
    quantity = State()
    moisture = State()
    grade = State()
    photo = State()
    summary = State()
    change = State()


class Profile(StatesGroup):
    name = State()
    phone = State()
    village = State()


class Coordinating(StatesGroup):
    reject_reason = State()
    village_name = State()
    village_rename = State()
    promote_id = State()
    demote_id = State()


class Broadcasting(StatesGroup):
    audience = State()
    content = State()
    review = State()
    version = State()
    when = State()


class Bidding(StatesGroup):
    """A merchant typing a price, or a proxy maximum, for one lot (`lot_id` in the data)."""

    price = State()
    maximum = State()


class Auctioning(StatesGroup):
    """Opening an auction on a pool: lot size, reserve, increment, close, acceptance, summary."""

    size = State()
    reserve = State()
    increment = State()
    closes = State()
    acceptance = State()
    accept_below = State()
    summary = State()


class Collecting(StatesGroup):
    """A coordinator setting a sold lot's collection (place, then time) or typing one
    report's weighed quantity (`lot_id`, `report_id` in the data)."""

    place = State()
    when = State()
    weight = State()


class Paying(StatesGroup):
    """A coordinator typing the transfer reference for one payout (`payout_id` in the data)
    or for all due ones (`day`)."""

    reference = State()


class Disputing(StatesGroup):
    """A farmer saying why a payout is wrong (`payout_id`), then confirming (`reason`)."""

    reason = State()
    confirm = State()


class Resolving(StatesGroup):
    """A coordinator resolving a dispute (`dispute_id`): a correction or an explanation."""

    correction = State()
    explanation = State()


class SettingPrice(StatesGroup):
    """A coordinator's /setprice: product, grade, the typed price, then confirmation
    (`product`, `grade` ("-": ungraded), `fen` in the data)."""

    product = State()
    grade = State()
    price = State()
    confirm = State()
