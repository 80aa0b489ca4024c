"""The /prices chart: drawn in Chinese and English as a phone-sized PNG, every text in the font
shipped with the mplfonts package, and that font has a glyph for every character the chart
can draw (product and grade names, month names, digits), so nothing renders as boxes."""

from __future__ import annotations

import functools
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from fontTools.ttLib import TTFont
from matplotlib.backends.backend_agg import FigureCanvasAgg
from PIL import Image

from bot import price_chart
from bot.config import REPO_ROOT
from bot.i18n import make_i18n
from bot.models import Grade, Product
from bot.services.prices import Key
from handlers.prices import key_label

NOW = datetime(2026, 11, 29, 6, 0, tzinfo=UTC)
TZ = ZoneInfo("Asia/Shanghai")
LANGS = pytest.mark.parametrize("lang", ["zh", "en"])


@pytest.fixture(scope="module")
def i18n() -> I18n:
    return make_i18n(REPO_ROOT / "locales", "zh")


@pytest.fixture
def in_lang(i18n: I18n, lang: str) -> Iterator[str]:
    with i18n.context(), i18n.use_locale(lang):
        yield lang


@functools.cache
def font_characters() -> frozenset[int]:
    font = TTFont(str(price_chart.font_path()), lazy=True)
    return frozenset(font.getBestCmap())


def every_key() -> list[Key]:
    return [Key(Product.CHERRY)] + [
        Key(p, g) for p in (Product.PARCHMENT, Product.GREEN) for g in [*Grade, None]
    ]


def sample() -> list[price_chart.Series]:
    green, parchment = Key(Product.GREEN, Grade.AA), Key(Product.PARCHMENT, Grade.A)
    return [
        price_chart.Series(
            key_label(green),
            [(NOW - timedelta(days=30), 3200), (NOW - timedelta(days=9), 3360)],
            [(NOW - timedelta(days=4), 3500)],
        ),
        price_chart.Series(key_label(parchment), [(NOW - timedelta(days=12), 2600)], []),
        price_chart.Series(key_label(Key(Product.CHERRY)), [], [(NOW - timedelta(days=1), 560)]),
    ]


def drawn(lang: str) -> list[Any]:
    fig = price_chart.figure(price_chart.Chart(sample(), price_chart.words(_), NOW, TZ, lang))
    FigureCanvasAgg(fig).draw()
    return price_chart.drawn_texts(fig)


@LANGS
def test_every_text_is_drawn_in_the_shipped_font_and_it_covers_each_character(
    in_lang: str,
) -> None:
    texts = drawn(in_lang)
    shown = [t.get_text() for t in texts]
    words = price_chart.words(_)
    for expected in (words.title, words.axis, words.reference, words.auction):
        assert expected in shown
    assert price_chart.day_label(datetime(2026, 11, 22, tzinfo=TZ), in_lang) in shown
    font = str(price_chart.font_path())
    assert all(t.get_fontproperties().get_file() == font for t in texts), shown
    # Anything the chart may draw: every product and grade, every month, every digit.
    possible = [*shown, *(key_label(k) for k in every_key()), "0123456789.,"]
    possible += [
        price_chart.day_label(datetime(2026, m, 28, tzinfo=TZ), in_lang) for m in range(1, 13)
    ]
    possible += [price_chart.price_label(v, in_lang) for v in (0.5, 12.25, 1234.0)]
    missing = {c for text in possible for c in text if ord(c) not in font_characters()}
    assert not missing, f"{in_lang}: the font has no glyph for {sorted(missing)}"


def test_chinese_labels_are_chinese() -> None:
    with make_i18n(REPO_ROOT / "locales", "zh").context():
        words = price_chart.words(_)
    assert words.title == "咖啡价格（近30天）" and words.axis == "元/公斤"
    assert price_chart.day_label(datetime(2026, 11, 29, tzinfo=TZ), "zh") == "11月29日"
    assert price_chart.day_label(datetime(2026, 11, 29, tzinfo=TZ), "en") == "Nov 29"


async def test_the_chart_is_a_phone_sized_png_in_each_language(i18n: I18n) -> None:
    pngs = {}
    for lang in ("zh", "en"):
        with i18n.context(), i18n.use_locale(lang):
            chart = price_chart.Chart(sample(), price_chart.words(_), NOW, TZ, lang)
        pngs[lang] = await price_chart.render(chart)  # in a worker thread
    for png in pngs.values():
        assert png.startswith(b"\x89PNG") and 10_000 < len(png) < 300_000
        image = Image.open(io.BytesIO(png))
        assert image.size == (800, 500)
    assert pngs["zh"] != pngs["en"]
