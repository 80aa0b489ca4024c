"""Domain errors carry a machine-readable reason; handlers turn it into the user's language."""

from __future__ import annotations


class DomainError(Exception):
    """A rule refused the request; `reason` names which one."""

    def __init__(self, reason: str, **details: object) -> None:
        super().__init__(reason)
        self.reason = reason
        self.details = details
