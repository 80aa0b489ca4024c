"""Secrets never reach a terminal or a log: the bot token and database/Redis passwords.

The token is part of every Bot API URL, so any aiohttp error that names its URL carries it;
a database URL carries its password. Both are replaced by `***` in the CLI's error lines and
in every formatted log line (message and traceback alike).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.config import Settings

MASK = "***"


def safe_url(url: str) -> str:
    """A database or Redis URL fit to print: its password masked."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return "(a URL that could not be parsed)"


def _url_password(url: str | None) -> str | None:
    if not url:
        return None
    try:
        return make_url(url).password  # type: ignore[return-value]
    except (ArgumentError, ValueError):
        return None


def secrets_of(settings: Settings) -> list[str]:
    """Every secret in the settings, in each spelling it may take inside a URL."""
    found = [
        settings.bot_token,
        _url_password(settings.database_url),
        _url_password(settings.redis_url),
    ]
    spellings = set()
    for secret in found:
        if secret:
            spellings |= {secret, quote(secret, safe=""), quote_plus(secret)}
    # Longest first, so a secret that contains another is masked whole.
    return sorted((s for s in spellings if len(s) >= 3), key=len, reverse=True)


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, MASK)
    return text


class RedactingFormatter(logging.Formatter):
    """Formats as usual, then masks the secrets in the whole line, traceback included."""

    def __init__(self, secrets: Iterable[str], fmt: str | None = None) -> None:
        super().__init__(fmt)
        self.secrets = list(secrets)

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record), self.secrets)


def redact_logging(secrets: Iterable[str], fmt: str | None = None) -> None:
    """Give every handler of the root logger a formatter that masks the secrets."""
    masked = list(secrets)
    for handler in logging.getLogger().handlers:
        current = handler.formatter
        handler.setFormatter(RedactingFormatter(masked, fmt or (current._fmt if current else None)))
