from __future__ import annotations

from dataclasses import replace

import pytest
from aiogram.fsm.storage.base import DefaultKeyBuilder, StorageKey

from bot.storage import DestinyKeyBuilder

KEY = StorageKey(bot_id=1, chat_id=42, user_id=42)
PARTS = ["state", "data", "lock", None]


@pytest.mark.parametrize("part", PARTS)
def test_default_slot_keeps_aiogram_default_keys(part: str | None) -> None:
    """Dialogues under way in Redis survive the deployment of the draft slot."""
    assert DestinyKeyBuilder().build(KEY, part) == DefaultKeyBuilder().build(KEY, part)  # type: ignore[arg-type]


def test_each_destiny_has_keys_of_its_own() -> None:
    keys = DestinyKeyBuilder()
    built = [
        keys.build(replace(KEY, destiny=destiny), part)  # type: ignore[arg-type]
        for destiny in ("default", "report_draft", "other")
        for part in PARTS
    ]
    assert len(set(built)) == len(built)
    assert keys.build(replace(KEY, destiny="report_draft"), "data") == "fsm:42:42:report_draft:data"
