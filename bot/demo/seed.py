"""`farmgate demo --seed`: a small programme played through the running bot, as its people
would, so that every role has something to look at.

The steps are bench/programme.py's (the same conversations, tapped and typed in the emulator's
chats); only the cast is smaller: one coordinator, two villages, six farmers (Chinese and
English) with a harvest report each, two approved merchants, an auction on each village's
pool with bids from both merchants, one of them closed early and collected, so its farmers'
payouts are scheduled; then the coordinator sets three reference prices with /setprice. Like
the benchmark it reads the database only to learn the new lots' numbers and the reported
weights the scale readings are typed near; everything is written by the bot.
"""

from __future__ import annotations

from bench.programme import (
    PAYOUT_SCHEDULED,
    SOLD,
    Farmer,
    Merchant,
    Plan,
    Programme,
    containing,
    exchange,
    with_button,
)
from bot.demo.run import Person
from handlers.callbacks import SetPriceCb
from tests.emulator import BotApiEmulator

COORDINATOR = 1000
FARMERS = [
    Farmer(1001, "李伟", "zh", "Conggang", "240斤", 120_000),
    Farmer(1002, "王芳", "zh", "Nankang", "95公斤", 95_000),
    Farmer(1003, "Zhang Min", "en", "Conggang", "180 kg", 180_000),
    Farmer(1004, "刘洋", "zh", "Nankang", "0.15吨", 150_000),
    Farmer(1005, "陈秀英", "zh", "Conggang", "310斤", 155_000),
    Farmer(1006, "Yang Tao", "en", "Nankang", "130 kg", 130_000),
]
MERCHANTS = [
    Merchant(2001, "保山咖啡贸易有限公司", "sales@bscoffee.cn", "zh", proxy=True),
    Merchant(2002, "Mekong Roasters Ltd", "+86 871 6512 3456", "en", proxy=False),
]
# Reference prices the coordinator sets with /setprice: (product, grade or "-", typed price).
PRICES = [("parchment", "-", "24.50"), ("green", "AA", "¥33.60"), ("cherry", None, "5.8元")]
SOLD_VILLAGE = "Conggang"  # its pool is sold and collected; Nankang's stays open for bids
# The pools (under 500 kg) are each sold whole, as one lot.
PLAN = Plan(FARMERS, MERCHANTS, lot_kg=1000, seed=2024)


def cast(seeded: bool) -> list[Person]:
    """Who is who in the demo: the coordinator always, the seeded people with --seed."""
    people = [Person(COORDINATOR, "Coordinator Zhao", "coordinator (English)")]
    if not seeded:
        return people
    for f in FARMERS:
        sold = "lot sold, payout scheduled" if f.village == SOLD_VILLAGE else "lot open for bids"
        people.append(Person(f.tid, f.name, f"farmer in {f.village} ({f.lang}), {sold}"))
    for m in MERCHANTS:
        people.append(Person(m.tid, m.company, f"merchant, approved ({m.lang})"))
    return people


async def seed(emu: BotApiEmulator, database_url: str) -> None:
    """Play the small programme through the running bot; prints a line per step."""
    p = Programme(emu, database_url, PLAN, len(FARMERS), 30.0, coordinators=(COORDINATOR,))
    p.progress("seeding a small programme through the bot")
    await p.coordinators_start()
    await p.add_villages()
    await p.farmers_join()
    await p.merchants_approved()
    await p.open_auctions()
    sold_lot, open_lot = p.lot_ids  # opened village by village: Conggang's first
    await p.sell(0, sold_lot)
    await p.sell(1, open_lot)
    p.progress(f"both merchants bid on lots #{sold_lot} and #{open_lot}")
    told = [f for f in FARMERS if f.village == SOLD_VILLAGE]
    await p.close_lot(sold_lot)
    await p.every_farmer_told(SOLD, "sold", told)
    await p.collect(p.coordinators[0], sold_lot, await p.reported_grams())
    await p.every_farmer_told(PAYOUT_SCHEDULED, "payout-scheduled", told)
    p.progress(f"lot #{sold_lot} is collected; lot #{open_lot} stays open for bids")
    await set_prices(p)


async def set_prices(p: Programme) -> None:
    """The coordinator types today's reference prices with /setprice, button by button."""
    chat = p.coordinators[0]
    for product, grade, typed in PRICES:
        pick = SetPriceCb(action="product", value=product).pack()
        asked = await exchange(chat, chat.send("/setprice"), with_button(pick))
        if grade is None:  # fresh cherry has no grade: the price is asked at once
            await exchange(chat, chat.press(callback_data=pick, message=asked), containing("¥9.6"))
        else:
            grading = SetPriceCb(action="grade", value=grade).pack()
            grades = await exchange(
                chat, chat.press(callback_data=pick, message=asked), with_button(grading)
            )
            await exchange(
                chat, chat.press(callback_data=grading, message=grades), containing("¥9.6")
            )
        confirm = SetPriceCb(action="confirm").pack()
        card = await exchange(chat, chat.send(typed), with_button(confirm))
        await exchange(chat, chat.press(callback_data=confirm, message=card), containing("✅"))
    p.progress(f"coordinator {chat.id} set {len(PRICES)} reference prices with /setprice")
