"""Telegram's message limits, counted as Telegram counts them (UTF-16 code units)."""

from __future__ import annotations

TELEGRAM_TEXT = 4096
TELEGRAM_CAPTION = 1024


def utf16_len(text: str) -> int:
    """An emoji outside the Basic Multilingual Plane counts twice, as in Telegram."""
    return len(text.encode("utf-16-le")) // 2
