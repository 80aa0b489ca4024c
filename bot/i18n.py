"""Gettext set-up: Babel catalogs in locales/, compiled on start, served by aiogram's I18n."""

from __future__ import annotations

import os
from pathlib import Path

from aiogram.utils.i18n import I18n
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from bot.config import SHIPPED_LOCALES

DOMAIN = "messages"


def N_(msgid: str) -> str:
    """Marks a msgid for extraction where it is translated later, for a locale chosen then."""
    return msgid


def compile_catalogs(locales_dir: Path) -> list[Path]:
    """Compile every .po whose .mo is missing or older; returns what it wrote.

    Compiled catalogs are build products (not in git): the bot and the tests produce them.
    """
    written = []
    for po_path in sorted(locales_dir.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file, locale=po_path.parent.parent.name)
        tmp = mo_path.with_suffix(f".mo.{os.getpid()}.tmp")  # processes may compile at once
        with tmp.open("wb") as mo_file:
            write_mo(mo_file, catalog, use_fuzzy=False)
        tmp.replace(mo_path)
        written.append(mo_path)
    return written


def make_i18n(locales_dir: Path, default_locale: str) -> I18n:
    compile_catalogs(locales_dir)
    return I18n(path=locales_dir, default_locale=default_locale, domain=DOMAIN)


def pick_locale(language_code: str | None, default: str) -> str:
    """Map a Telegram language_code (e.g. "zh-hans", "en-US") to a shipped locale."""
    if language_code:
        base = language_code.split("-")[0].split("_")[0].lower()
        if base in SHIPPED_LOCALES:
            return base
    return default
