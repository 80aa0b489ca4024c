"""Telegram counts text lengths and entity offsets in UTF-16 code units."""

from __future__ import annotations

__all__ = ["utf16_len"]


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units (Telegram's unit for limits and offsets)."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le")) // 2
