"""Typed words read as button labels: a farmer who types "I grow coffee" instead of tapping
"🌱 I grow coffee" meant that button.

Pure text logic (no aiogram), so the handlers' fallback can apply it to whatever buttons the
current question shows.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

# Symbols (emoji, ✖, ◀ ...), their modifiers, zero-width joiners, variation selectors and
# keycap marks: decoration a farmer cannot or does not type.
_IGNORED_CATEGORIES = frozenset({"So", "Sk", "Cf", "Me", "Cs", "Co"})
_VARIATION_SELECTORS = frozenset(chr(c) for c in range(0xFE00, 0xFE10))


def normalize_label(text: str) -> str:
    """The part of a label that matters when it is typed: no emoji, case or spaces.

    NFKC first, so full-width letters and digits (typed with a Chinese input method) read as
    their plain forms. Punctuation is kept: "12.5" and "125" stay different answers.
    """
    kept = []
    for char in unicodedata.normalize("NFKC", text):
        if char.isspace() or char in _VARIATION_SELECTORS:
            continue
        if unicodedata.category(char) in _IGNORED_CATEGORIES:
            continue
        kept.append(char)
    # Dropping a space can leave a combining mark next to a letter: compose once more.
    return unicodedata.normalize("NFKC", "".join(kept).casefold())


def match_label(typed: str, labels: Sequence[str]) -> int | None:
    """The index of the one label the typed text stands for, else None.

    Labels that are equal once normalized count as one (the same button shown twice); two
    different buttons with the same normalized label, or a label that is nothing but
    decoration, are never guessed.
    """
    wanted = normalize_label(typed)
    if not wanted:
        return None
    found = [i for i, label in enumerate(labels) if normalize_label(label) == wanted]
    if not found or len({labels[i] for i in found}) > 1:
        return None
    return found[0]
