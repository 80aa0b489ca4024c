"""Domain errors carry a machine-readable reason; handlers turn it into the user's language."""

from __future__ import annotations


class DomainError(Exception):
    """A rule refused the request; `reason` names which one."""

    def __init__(self, reason: str, **details: object) -> None:
        super().__init__(reason)
        self.reason = reason
        self.details = details


def typed_text(text: str | None, name: str, limit: int) -> str:
    """Free text a user typed, stripped: DomainError("<name>_empty") when nothing is left,
    ("<name>_too_long", limit=...) past `limit` characters."""
    cleaned = (text or "").strip()
    if not cleaned:
        raise DomainError(f"{name}_empty")
    if len(cleaned) > limit:
        raise DomainError(f"{name}_too_long", limit=limit)
    return cleaned
