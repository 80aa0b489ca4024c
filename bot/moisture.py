"""Parse a typed moisture percentage ("12", "12.5%", "１２．５") into tenths of a percent."""

from __future__ import annotations

import re
from decimal import Decimal

from bot.quantity import normalise
from bot.services.errors import DomainError

MIN_TENTHS = 10  # 1 %: drier coffee does not exist
MAX_TENTHS = 800  # 80 %: wetter is not coffee any more
_PERCENT = re.compile(r"^(?P<number>[0-9]+(?:\.[0-9]+)?)\s*(?:%|％|percent|pct)?$", re.IGNORECASE)


def parse_moisture(text: str) -> int:
    """Tenths of a percent, or DomainError unreadable / out_of_range / too_precise."""
    match = _PERCENT.match(normalise(text).replace("％", "%"))
    if not match:
        raise DomainError("unreadable")
    value = Decimal(match["number"]) * 10
    if value != value.to_integral_value():
        raise DomainError("too_precise")
    tenths = int(value)
    if not MIN_TENTHS <= tenths <= MAX_TENTHS:
        raise DomainError("out_of_range", low=MIN_TENTHS // 10, high=MAX_TENTHS // 10)
    return tenths
