"""Slicing a pool into lots: pure planning, no database.

A coordinator may auction a whole pool or cut it into lots of about a target size (say 5 t), so
merchants of different sizes can bid. Every kilogram of a lot must trace back to farmers'
reports, so a report is never split between lots; the oldest reports go first, so the farmers
who reported earliest are sold earliest.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class PoolReport:
    """One report of a pool, as much of it as slicing and the summary need."""

    id: int
    farmer_id: int
    grams: int
    created_at: datetime


@dataclass(frozen=True)
class Slice:
    """A planned lot: whole reports, oldest first."""

    reports: tuple[PoolReport, ...]

    @property
    def grams(self) -> int:
        return sum(r.grams for r in self.reports)

    @property
    def farmer_ids(self) -> tuple[int, ...]:
        """The farmers in this lot, each once, in the order their first report entered it:
        the summary shows them before the coordinator confirms."""
        return tuple(dict.fromkeys(r.farmer_id for r in self.reports))


def oldest_first(reports: Iterable[PoolReport]) -> list[PoolReport]:
    """Reports in the order they join lots; the id breaks ties of reports made the same moment,
    so the plan is the same every time it is computed."""
    return sorted(reports, key=lambda r: (r.created_at, r.id))


def plan_slices(reports: Iterable[PoolReport], target_g: int | None) -> list[Slice]:
    """Cut a pool into lots of at least `target_g` grams (None: the whole pool is one lot).

    Reports join the current lot oldest first; a lot closes as soon as it reaches the target,
    so none is bigger than one report beyond it; the last lot keeps what remains, even if it
    is smaller. An empty pool has no lots.
    """
    if target_g is not None and target_g <= 0:
        raise ValueError(f"target must be positive grams, got {target_g}")
    ordered = oldest_first(reports)
    if target_g is None:
        return [Slice(tuple(ordered))] if ordered else []
    slices: list[Slice] = []
    current: list[PoolReport] = []
    grams = 0
    for report in ordered:
        current.append(report)
        grams += report.grams
        if grams >= target_g:
            slices.append(Slice(tuple(current)))
            current, grams = [], 0
    if current:
        slices.append(Slice(tuple(current)))
    return slices
