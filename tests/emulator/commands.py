"""Command menus (setMyCommands, deleteMyCommands) per scope and language, as the bot
registers them at start and sets or clears them for each coordinator's chat."""

from __future__ import annotations

import json
from typing import Any

from .models import ApiError

__all__ = ["CommandMenus"]

JSON = dict[str, Any]


def _key(scope: Any, language_code: Any) -> tuple[str, str]:
    if not scope or (isinstance(scope, dict) and scope.get("type") == "default"):
        scope_key = "default"
    else:
        scope_key = json.dumps(scope, sort_keys=True)
    return scope_key, str(language_code or "")


class CommandMenus:
    def __init__(self) -> None:
        self._menus: dict[tuple[str, str], list[JSON]] = {}

    def set(self, p: JSON) -> bool:
        """setMyCommands: validated like Telegram; an empty list deletes the menu."""
        commands = p.get("commands")
        if not isinstance(commands, list):
            raise ApiError(400, "Bad Request: can't parse commands JSON object")
        for command in commands:
            name = command.get("command", "") if isinstance(command, dict) else ""
            if (
                not (1 <= len(name) <= 32)
                or not name.replace("_", "a").isalnum()
                or name.lower() != name
            ):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not command.get("description"):
                raise ApiError(400, "Bad Request: command description is empty")
        key = _key(p.get("scope"), p.get("language_code"))
        if commands:
            self._menus[key] = [dict(c) for c in commands]
        else:
            self._menus.pop(key, None)
        return True

    def delete(self, p: JSON) -> bool:
        """deleteMyCommands: that scope and language fall back to the wider menus."""
        self._menus.pop(_key(p.get("scope"), p.get("language_code")), None)
        return True

    def get(self, scope: JSON | None, language_code: str | None) -> list[JSON]:
        return list(self._menus.get(_key(scope, language_code), []))
