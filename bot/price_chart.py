"""The price chart of /prices: 30 days of reference prices (a step line: a reference holds until
the next one) and auction prices (markers), in CNY per kg, as a PNG for a phone.

No aiogram and no pyplot: a matplotlib Figure drawn by the Agg canvas, so nothing global is
touched and it can run in a worker thread (`render`) without holding up the event loop.

Every text element is drawn with one font, Noto Sans CJK SC from the `mplfonts` package (a
dependency): Chinese labels render as Chinese on a fresh machine with no system fonts. Only
the font file is used; mplfonts' own matplotlib set-up (global rcParams) is never called.
Every string is computed here first (`words`, Babel for dates and numbers), so a test can
check the font covers each character the chart draws (`drawn_texts`).
"""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import io
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from babel.dates import format_skeleton
from babel.numbers import format_decimal

from bot.i18n import N_

if TYPE_CHECKING:
    from matplotlib.figure import Figure

Translate = Callable[[str], str]

DAYS = 30
MAX_SERIES = 4  # lines on one phone-sized chart; the text lists every price
SIZE_IN = (8.0, 5.0)  # at DPI: 800 x 500 pixels
DPI = 100
COLOURS = ("#2e7d32", "#1565c0", "#c62828", "#6a1b9a")
NEUTRAL = "#616161"

TITLE = N_("Coffee prices, last {days} days")
AXIS = N_("CNY per kg")
REFERENCE = N_("Reference price")
AUCTION = N_("Auction price")


def font_path() -> Path:
    """Noto Sans CJK SC as shipped by the mplfonts package: found without importing it (its
    import would load more than a file name)."""
    spec = importlib.util.find_spec("mplfonts")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the mplfonts package (the chart's font) is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "fonts" / "NotoSansCJKsc-Regular.otf"
    if not path.is_file():
        raise RuntimeError(f"the chart's font is missing: {path}")
    return path


@dataclass(frozen=True)
class Series:
    """One product and grade: its name in the reader's language, its reference prices (the one
    in force when the chart starts first, oldest first) and its auction prices, in fen/kg."""

    name: str
    reference: Sequence[tuple[datetime, int]]
    auctions: Sequence[tuple[datetime, int]]


@dataclass(frozen=True)
class Words:
    """What the chart says, already in the reader's language."""

    title: str
    axis: str
    reference: str
    auction: str


def words(translate: Translate, days: int = DAYS) -> Words:
    return Words(
        title=translate(TITLE).format(days=days),
        axis=translate(AXIS),
        reference=translate(REFERENCE),
        auction=translate(AUCTION),
    )


@dataclass(frozen=True)
class Chart:
    """Everything one chart shows: its lines, its words, and the reader's time and locale."""

    series: Sequence[Series]
    words: Words
    now: datetime
    tz: ZoneInfo
    locale: str
    days: int = DAYS


def day_label(day: datetime, locale: str) -> str:
    """A day on the axis: "11月29日", "Nov 29"."""
    return format_skeleton("MMMd", day, locale=locale)


def price_label(value: float, locale: str) -> str:
    """A price on the axis in yuan: "32", "32.5"."""
    return format_decimal(Decimal(str(round(value, 2))), format="#,##0.##", locale=locale)


@dataclass(frozen=True)
class _Frame:
    """The chart's window in the programme's time zone. Positions on the x axis are days
    since its start (floats for drawing), ticks each week back from today's midnight."""

    start: datetime
    end: datetime
    tz: ZoneInfo

    def x(self, moment: datetime) -> float:
        return (moment - self.start).total_seconds() / 86400

    @property
    def ticks(self) -> list[datetime]:
        today = datetime.combine(self.end.astimezone(self.tz).date(), time(0), tzinfo=self.tz)
        back = [today - timedelta(days=7 * n) for n in range(int(self.x(self.end)) // 7 + 1)]
        return sorted(t for t in back if t >= self.start)


RIGHT_MARGIN_DAYS = 0.6


def _yuan(fen: int) -> float:
    """For drawing only: positions on the axis (money itself is never a float here)."""
    return fen / 100


_lock = threading.Lock()  # one chart at a time: matplotlib's font objects are not shared-safe


def prepare() -> None:
    """Import matplotlib and load the font now (about 0.8 s, holding the GIL), so the first
    /prices after a start does not stall every other update that long (bench/prices.py)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: F401
    from matplotlib.figure import Figure  # noqa: F401

    _font()


@functools.cache
def _font() -> Any:
    from matplotlib.font_manager import FontProperties

    return FontProperties(fname=str(font_path()))


def figure(chart: Chart) -> Figure:
    """The chart as a matplotlib Figure (not drawn yet): every text in the CJK font."""
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    font = _font()
    now, locale, text = chart.now, chart.locale, chart.words
    frame = _Frame(now - timedelta(days=chart.days), now, chart.tz)
    fig = Figure(figsize=SIZE_IN, dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    values: list[float] = []
    handles: list[Any] = []
    for colour, one in zip(COLOURS, chart.series[:MAX_SERIES], strict=False):
        steps = [(max(frame.x(at), 0.0), _yuan(fen)) for at, fen in one.reference]
        if steps:
            # Each change is marked, so a price set today shows, not only a line of no width.
            changes = [(frame.x(at), _yuan(fen)) for at, fen in one.reference if at >= frame.start]
            if changes:
                ax.plot(*zip(*changes, strict=True), "s", color=colour, markersize=5)
            steps.append((frame.x(now), steps[-1][1]))  # the last price holds until now
            ax.step(*zip(*steps, strict=True), where="post", color=colour, linewidth=2)
            values += [y for _x, y in steps]
        marks = [(frame.x(at), _yuan(fen)) for at, fen in one.auctions if at >= frame.start]
        if marks:
            ax.plot(*zip(*marks, strict=True), "o", color=colour, markersize=7)
            values += [y for _x, y in marks]
        handles.append(Line2D([], [], color=colour, linewidth=6, label=one.name))
    handles.append(
        Line2D([], [], color=NEUTRAL, linewidth=2, marker="s", markersize=5, label=text.reference)
    )
    handles.append(Line2D([], [], color=NEUTRAL, marker="o", linestyle="", label=text.auction))

    ax.set_xlim(0, frame.x(now) + RIGHT_MARGIN_DAYS)  # today's marks are not cut in half
    ticks = frame.ticks
    ax.set_xticks(
        [frame.x(t) for t in ticks], [day_label(t, locale) for t in ticks], fontproperties=font
    )
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    pad = max((high - low) * 0.15, high * 0.05, 0.5)
    low, high = max(low - pad, 0.0), high + pad
    levels = [t for t in MaxNLocator(nbins=6).tick_values(low, high) if low <= t <= high]
    ax.set_ylim(low, high)
    ax.set_yticks(levels, [price_label(t, locale) for t in levels], fontproperties=font)
    ax.tick_params(labelsize=11)
    ax.grid(True, color="#e0e0e0")
    ax.set_axisbelow(True)
    ax.set_title(text.title, fontproperties=font, fontsize=16)
    ax.set_ylabel(text.axis, fontproperties=font, fontsize=12)
    legend = fig.legend(
        handles=handles,
        prop=font,
        loc="outside lower center",
        ncols=min(len(handles), 4),
        frameon=False,
    )
    for label in legend.get_texts():
        label.set_fontsize(11)
    return fig


def drawn_texts(fig: Figure) -> list[Any]:
    """Every non-empty text artist of a figure (title, axis and tick labels, legend)."""
    from matplotlib.text import Text

    return [t for t in fig.findobj(Text) if t.get_text() and t.get_visible()]


def render_png(chart: Chart) -> bytes:
    """The chart as PNG bytes (blocking: call `render` from the event loop)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    with _lock:
        buffer = io.BytesIO()
        FigureCanvasAgg(figure(chart)).print_png(buffer)
    return buffer.getvalue()


async def render(chart: Chart) -> bytes:
    """`render_png` in a worker thread: the event loop goes on answering others meanwhile."""
    return await asyncio.to_thread(render_png, chart)
