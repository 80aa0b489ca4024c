"""aiogram routers, one per feature; `setup` wires them and their middleware into a dispatcher."""

from __future__ import annotations

from aiogram import Dispatcher, Router

from handlers import (
    access,
    auctions,
    bidding,
    broadcast,
    collection,
    collection_notices,  # noqa: F401 (registers the collection's notice texts)
    common,
    coordinator,
    disputes,
    fallback,
    feed_notices,  # noqa: F401 (registers the price feed's notice texts)
    figures,
    harvest,
    held_prices,
    lots,
    market_notices,  # noqa: F401 (registers the market's notice texts)
    menus,
    payout_notices,  # noqa: F401 (registers the payout and dispute notice texts)
    payouts,
    price_notices,  # noqa: F401 (registers the price digest and alert texts)
    prices,
    profile,
    registration,
    reports,
    setprice,
)
from handlers.broadcast import progress_view
from handlers.refusals import RefusalMiddleware
from handlers.turn import TurnMiddleware

__all__ = ["progress_view", "routers", "setup"]


def routers() -> list[Router]:
    """Fresh routers in matching order: commands first, the catch-all fallback last."""
    recipes = [
        access.router,
        common.router,
        broadcast.router,
        coordinator.router,
        lots.router,
        bidding.router,
        auctions.router,
        collection.router,
        figures.router,
        payouts.router,
        disputes.router,
        setprice.router,
        held_prices.router,
        registration.router,
        harvest.router,
        reports.router,
        profile.router,
        prices.router,  # after every dialogue: a step expecting typed text gets "价格" first
        fallback.router,
    ]
    return [recipe.build() for recipe in recipes]


def setup(dp: Dispatcher) -> None:
    """Routers, their middlewares, and the command menus registered when polling starts."""
    turn = TurnMiddleware()
    refusals = RefusalMiddleware()
    dp.message.outer_middleware(turn)
    dp.callback_query.outer_middleware(turn)
    dp.my_chat_member.outer_middleware(turn)
    dp.message.outer_middleware(refusals)
    dp.callback_query.outer_middleware(refusals)
    dp.include_routers(*routers())
    dp.startup.register(menus.set_commands)
    dp.shutdown.register(menus.stop_menu_refresh)
