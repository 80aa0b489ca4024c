"""Settings read from the environment or a .env file (pydantic-settings)."""

from __future__ import annotations

import re
from datetime import time
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

TOKEN_RE = re.compile(r"^\d{1,20}:[A-Za-z0-9_-]{20,}$")
FEE_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
SHIPPED_LOCALES = ("zh", "en")
PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent


def default_locales_dir() -> Path:
    """The checkout's locales/ (the source of truth, compiled on start) when running from a
    checkout, else the catalogs an installed package carries, compiled when it was built."""
    checkout = REPO_ROOT / "locales"
    if any(checkout.glob("*/LC_MESSAGES/*.po")):
        return checkout
    return PACKAGE_DIR / "locales"


class Settings(BaseSettings):
    """Every setting of the bot; the README's configuration table mirrors this class."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    bot_token: str = ""
    database_url: str = "sqlite+aiosqlite:///farmgate.db"
    database_pool_size: int = Field(default=10, ge=3)
    telegram_api_url: str = "https://api.telegram.org"
    coordinator_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    timezone: str = "Asia/Shanghai"
    programme_name: str = Field(default="farmgate", min_length=1, max_length=64)
    default_locale: str = "zh"
    redis_url: str | None = None
    locales_dir: Path = Field(default_factory=default_locales_dir)
    polling_timeout: int = 30
    notice_rate: float = Field(default=30.0, gt=0, le=1000)
    notice_chat_interval: float = Field(default=1.0, ge=0)
    notice_max_in_flight: int = Field(default=200, ge=1, le=1000)
    notice_retention_days: int = Field(default=30, ge=1)
    update_retention_days: int = Field(default=2, ge=1)
    # The market (issue 8; docs/market.md). Prices are CNY per kg as typed, e.g. "22.00".
    auction_reserves: dict[str, Decimal] = Field(
        default_factory=lambda: {
            "cherry": Decimal("5.00"),
            "parchment": Decimal("22.00"),
            "green": Decimal("32.00"),
        }
    )
    auction_increments: Annotated[tuple[Decimal, ...], NoDecode] = (
        Decimal("0.10"),
        Decimal("0.20"),
        Decimal("0.50"),
    )
    auction_hours: Annotated[tuple[int, ...], NoDecode] = (24, 48, 72)
    lot_sizes_kg: Annotated[tuple[int, ...], NoDecode] = (1000, 5000)
    soft_close_minutes: int = Field(default=3, ge=0, le=60)
    closing_soon_minutes: int = Field(default=30, ge=1, le=24 * 60)
    bid_confirm_above_percent: int = Field(default=20, ge=1, le=1000)
    acceptance_hours: int = Field(default=24, ge=1, le=24 * 14)
    # The figures (issue 9): the coffee season starts on this month-day each year ("10-01");
    # bot/services/periods.py is the one place that turns it into dates.
    season_start: str = "10-01"
    # Collection and payouts (issue 9). Fees are percent of a farmer's gross, by name.
    payout_fees: dict[str, Decimal] = Field(
        default_factory=lambda: {"cooperative": Decimal("2"), "platform": Decimal("1")}
    )
    payout_days: int = Field(default=7, ge=0, le=365)
    # Payouts (issue 9): each pay date's reminder to the coordinators, at this local time
    # ("HH:MM" in TIMEZONE).
    payout_reminder_time: str = "09:00"
    # Prices (issue 10; docs/prices.md). The feed is off unless PRICE_FEED_URL is set.
    price_feed_url: str | None = None
    price_feed_minutes: int = Field(default=60, ge=1, le=24 * 60)
    price_feed_timeout_s: float = Field(default=10.0, gt=0, le=120)
    # Green bean from the ICE "C" price: CNY per kg added per grade ("ungraded" for none).
    price_green_differentials: dict[str, Decimal] = Field(
        default_factory=lambda: {
            "AA": Decimal("4.00"),
            "A": Decimal("2.00"),
            "AB": Decimal("1.00"),
            "PB": Decimal("1.00"),
            "C": Decimal("-3.00"),
            "ungraded": Decimal("0.00"),
        }
    )
    # Parchment and cherry as a share of the green bean price of the same grade.
    price_parchment_ratio: Decimal = Field(default=Decimal("0.80"), gt=0, le=1)
    price_cherry_ratio: Decimal = Field(default=Decimal("0.17"), gt=0, le=1)
    # A new reference price this far (percent) from the last one waits for a coordinator.
    price_hold_percent: Decimal = Field(default=Decimal("15"), gt=0, le=1000)
    # An alert goes out when a price moved this far (percent) since it was last pushed.
    price_alert_percent: Decimal = Field(default=Decimal("5"), gt=0, le=1000)
    # The daily digest's local time, and the quiet hours in which non-urgent pushes wait.
    price_digest_time: str = "08:00"
    quiet_hours: str = "21:00-07:00"

    @field_validator("coordinator_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [p for p in re.split(r"[,\s]+", value.strip()) if p]
            try:
                return frozenset(int(p) for p in parts)
            except ValueError:
                raise ValueError(
                    "COORDINATOR_IDS must be Telegram user ids separated by commas"
                ) from None
        if isinstance(value, int):
            return frozenset({value})
        return value

    @field_validator("auction_increments", "auction_hours", "lot_sizes_kg", mode="before")
    @classmethod
    def _split_list(cls, value: object) -> object:
        """ "0.10,0.20,0.50" in the environment; each must be positive."""
        if isinstance(value, str):
            value = tuple(p for p in re.split(r"[,\s]+", value.strip()) if p)
        return value

    @field_validator("auction_increments", "auction_hours", "lot_sizes_kg")
    @classmethod
    def _positive(cls, value: tuple[Any, ...]) -> tuple[Any, ...]:
        if not value or any(v <= 0 for v in value):
            raise ValueError("must be one or more positive numbers separated by commas")
        if any(isinstance(v, Decimal) and (v * 100) % 1 for v in value):
            raise ValueError("prices are whole fen: at most two decimals")
        return value

    @field_validator("auction_reserves")
    @classmethod
    def _reserves(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        for product, price in value.items():
            if product not in {"cherry", "parchment", "green"} or price <= 0 or (price * 100) % 1:
                raise ValueError(
                    'AUCTION_RESERVES is JSON like {"cherry": "5.00", "parchment": "22.00"}'
                )
        return value

    @field_validator("payout_fees")
    @classmethod
    def _fees(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        """Each fee a percent from 0 to 100, named in lower-case letters; together under 100."""
        problem = 'PAYOUT_FEES is JSON like {"cooperative": "2", "platform": "1"} (percent)'
        for name, percent in value.items():
            if not FEE_NAME_RE.match(name) or not 0 <= percent <= 100:
                raise ValueError(problem)
            if percent.as_tuple().exponent < -4:  # type: ignore[operator]
                raise ValueError("a fee has at most four decimals")
        if sum(value.values(), Decimal(0)) >= 100:
            raise ValueError("the fees together must be under 100 percent")
        return value

    @field_validator("timezone")
    @classmethod
    def _check_tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"TIMEZONE {value!r} is not a known time zone") from None
        return value

    @field_validator("payout_reminder_time", "price_digest_time")
    @classmethod
    def _check_local_time(cls, value: str) -> str:
        try:
            time.fromisoformat(value.strip())
        except ValueError:
            raise ValueError("a local time like 09:00") from None
        return value.strip()

    @field_validator("quiet_hours")
    @classmethod
    def _check_quiet_hours(cls, value: str) -> str:
        """ "21:00-07:00" (may wrap midnight); empty for none."""
        value = value.strip()
        if value:
            start, sep, end = value.partition("-")
            try:
                if not sep:
                    raise ValueError
                time.fromisoformat(start.strip())
                time.fromisoformat(end.strip())
            except ValueError:
                raise ValueError("QUIET_HOURS is two local times like 21:00-07:00") from None
        return value

    @field_validator("price_green_differentials")
    @classmethod
    def _differentials(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        allowed = {"AA", "A", "AB", "PB", "C", "ungraded"}
        for grade, amount in value.items():
            if grade not in allowed or (amount * 100) % 1:
                raise ValueError(
                    'PRICE_GREEN_DIFFERENTIALS is JSON like {"AA": "4.00", "ungraded": "0"}'
                    " (CNY per kg, grades AA, A, AB, PB, C, ungraded)"
                )
        return value

    @field_validator("price_feed_url", mode="before")
    @classmethod
    def _empty_feed_is_none(cls, value: object) -> object:
        return value or None

    @field_validator("season_start")
    @classmethod
    def _check_season_start(cls, value: str) -> str:
        from bot.services.periods import parse_month_day

        try:
            parse_month_day(value)
        except ValueError:
            raise ValueError(
                f"SEASON_START {value!r} is not a month and day like 10-01 (1 October)"
            ) from None
        return value

    @field_validator("default_locale")
    @classmethod
    def _check_locale(cls, value: str) -> str:
        if value not in SHIPPED_LOCALES:
            raise ValueError(f"DEFAULT_LOCALE must be one of {', '.join(SHIPPED_LOCALES)}")
        return value

    @field_validator("redis_url", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return value or None

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def reminder_time(self) -> time:
        return time.fromisoformat(self.payout_reminder_time)

    @property
    def digest_time(self) -> time:
        return time.fromisoformat(self.price_digest_time)

    @property
    def quiet(self) -> tuple[time, time] | None:
        """QUIET_HOURS as (start, end) local times, or None when there are none."""
        if not self.quiet_hours:
            return None
        start, _, end = self.quiet_hours.partition("-")
        return time.fromisoformat(start.strip()), time.fromisoformat(end.strip())

    def token_problem(self) -> str | None:
        """Why BOT_TOKEN cannot be used, or None when it looks like a token."""
        if not self.bot_token:
            return "BOT_TOKEN is not set: put the token from @BotFather in the environment or .env"
        if not TOKEN_RE.match(self.bot_token):
            return "BOT_TOKEN is malformed: it should look like 123456789:AAE... (from @BotFather)"
        return None
