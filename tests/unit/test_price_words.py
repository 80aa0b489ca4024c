"""Plain words that ask for the prices ("价格", "多少钱", "prices"), however they are typed, and
nothing else: a sentence that merely mentions a price is not a request for /prices."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from handlers.prices import PRICE_WORDS, asks_prices


def full_width(text: str) -> str:
    """What a Chinese input method types: ASCII as its full-width form."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def test_the_words_of_the_issue_ask_for_prices() -> None:
    for typed in ("价格", "价钱", "多少钱", "咖啡价格", "今天价格", "行情", "price", "prices"):
        assert asks_prices(typed), typed
    for typed in (
        "Coffee price",
        "  PRICES ",
        "多少钱？",
        "价格?",
        "📈 价格",
        "📈 Prices",
        "ＰＲＩＣＥ",
    ):
        assert asks_prices(typed), typed
    for other in ("/prices", "", None, "1200斤", "价格太低了", "my price is 9.60", "coffee"):
        assert not asks_prices(other), other


words = st.sampled_from(sorted(PRICE_WORDS))
spaces = st.text(alphabet=" \u3000\t", max_size=3)


@given(words, spaces, spaces, st.booleans(), st.booleans(), st.sampled_from(["", "?", "？", "!"]))
def test_case_spaces_width_and_a_question_mark_do_not_matter(
    word: str, before: str, after: str, upper: bool, wide: bool, mark: str
) -> None:
    typed = word.upper() if upper else word
    typed = full_width(typed) if wide else typed
    assert asks_prices(before + typed + mark + after)


@given(st.text(max_size=12))
def test_anything_else_is_left_to_the_dialogue(text: str) -> None:
    kept = "".join(
        c
        for c in unicodedata.normalize("NFKC", text).casefold()
        if c.isalnum() or unicodedata.category(c).startswith("L")
    )
    if kept not in PRICE_WORDS:
        assert not asks_prices(text)
