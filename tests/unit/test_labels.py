from __future__ import annotations

import unicodedata

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from bot.labels import match_label, normalize_label

LABELS = ["🌱 I grow coffee", "🏢 I buy coffee"]
GRADES = ["AA", "A", "AB", "PB", "C", "No grade", "✖ Cancel"]


@pytest.mark.parametrize(
    ("typed", "labels", "expected"),
    [
        ("I grow coffee", LABELS, 0),
        ("i GROW   coffee", LABELS, 0),
        ("Igrowcoffee", LABELS, 0),
        ("我种咖啡", ["🌱 我种咖啡", "🏢 我收购咖啡"], 0),
        ("conggang", ["Conggang", "Nankang"], 0),
        ("ＡＡ", GRADES, 0),  # full width, from a Chinese input method
        ("a", GRADES, 1),
        ("cancel", GRADES, 6),
        ("✏️Change", ["✏️ Change"], 0),
        ("1️⃣", ["1"], 0),
        ("A级", GRADES, None),
        ("没有照片", ["跳过"], None),
        ("coffee", LABELS, None),
        ("👍", ["👍"], None),  # a label of decoration only is never guessed
        ("", GRADES, None),
        ("12.5", ["12.5 kg", "125 kg"], None),
        ("12.5kg", ["12.5 kg", "125 kg"], 0),
        ("same", ["Same", "SAME ✓"], None),  # two buttons that read alike: no guess
        ("Conggang", ["Conggang", "Conggang"], 0),  # the same label twice is one button
    ],
)
def test_typed_words_match_labels(typed: str, labels: list[str], expected: int | None) -> None:
    assert match_label(typed, labels) == expected


EMOJI = st.sampled_from(["🌱", "📦", "✅", "✖", "✏️", "👍🏽", "👨‍🌾", "◀", "🏷"])
LABEL_TEXT = st.text(
    st.characters(whitelist_categories=("Lu", "Ll", "Lo", "Nd", "Po")), min_size=1, max_size=20
)


@st.composite
def noisy(draw: st.DrawFn, label: str) -> str:
    """The label as it might be typed: emoji dropped or added, case changed, spaces moved."""
    out = []
    for char in label:
        if draw(st.booleans()):
            out.append(draw(st.sampled_from([" ", "  ", "\u3000"])))
        if draw(st.integers(0, 9)) == 0:
            out.append(draw(EMOJI))
        cased = char.upper() if draw(st.booleans()) else char.lower()
        # Some letters are another letter in the other case (Turkish dotless ı upper-cases to
        # I): typed that way it is a different word, not noise.
        out.append(cased if normalize_label(cased) == normalize_label(char) else char)
    return "".join(out)


@given(st.data(), st.lists(LABEL_TEXT, min_size=1, max_size=6), EMOJI)
def test_any_label_with_noise_matches_itself(
    data: st.DataObject, words: list[str], emoji: str
) -> None:
    labels = [f"{emoji} {word}" for word in words]
    label = data.draw(st.sampled_from(labels))
    # Only buttons that read differently can be told apart (the same label twice is fine).
    assume(len({x for x in labels if normalize_label(x) == normalize_label(label)}) == 1)
    typed = data.draw(noisy(label))
    assert match_label(typed, labels) == labels.index(label)


@given(st.text(), st.lists(LABEL_TEXT, max_size=6))
def test_a_match_is_always_a_label_equal_to_the_typed_text(typed: str, labels: list[str]) -> None:
    found = match_label(typed, labels)
    if found is not None:
        assert normalize_label(labels[found]) == normalize_label(typed) != ""


@given(st.text())
def test_normalizing_is_idempotent_and_drops_spaces_and_symbols(text: str) -> None:
    once = normalize_label(text)
    assert normalize_label(once) == once
    assert not any(c.isspace() or unicodedata.category(c) == "So" for c in once)
