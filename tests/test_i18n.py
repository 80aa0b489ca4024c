"""Every user-facing string is in the catalogs, translated in every shipped locale, and no
handler sends a literal string that bypasses gettext."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from bot.config import REPO_ROOT, SHIPPED_LOCALES

KEYWORDS = {"_": None, "gettext": None, "N_": None, "ngettext": (1, 2)}
SOURCES = ("bot", "handlers")
SENDING = {
    "say",
    "answer",
    "reply",
    "send_message",
    "edit_text",
    "edit_caption",
    "send_photo",
    "answer_photo",
    "edit_message_text",
    "answer_callback_query",
}
TEXT_KWARGS = {"text", "caption", "description"}


def extracted_msgids() -> set[str]:
    found: set[str] = set()
    for folder in SOURCES:
        for _file, _line, message, _comments, _context in extract_from_dir(
            REPO_ROOT / folder, method_map=[("**.py", "python")], keywords=KEYWORDS
        ):
            found.update([message] if isinstance(message, str) else [m for m in message if m])
    return found


def placeholders(text: str) -> set[str]:
    return {name for _lit, name, _spec, _conv in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("locale", SHIPPED_LOCALES)
def test_catalog_is_complete(locale: str) -> None:
    po_path = REPO_ROOT / "locales" / locale / "LC_MESSAGES" / "messages.po"
    with po_path.open("rb") as handle:
        catalog = read_po(handle)
    translated: dict[str, str] = {}
    for m in catalog:
        if not m.id or m.fuzzy:
            continue
        # A plural entry (ngettext) is translated when each of its forms is; each msgid form
        # is checked against the translation's matching form (Chinese has one).
        ids = [str(i) for i in m.id] if isinstance(m.id, (tuple, list)) else [m.id]
        forms = (
            [str(f or "") for f in m.string]
            if isinstance(m.string, (tuple, list))
            else [m.string or ""]
        )
        for n, msgid in enumerate(ids):
            translated[msgid] = forms[min(n, len(forms) - 1)] if all(forms) else ""
    missing = sorted(msgid for msgid in extracted_msgids() if not translated.get(msgid))
    assert not missing, f"{locale}: msgids without a translation: {missing}"
    wrong = sorted(
        msgid
        for msgid, text in translated.items()
        if isinstance(msgid, str) and placeholders(msgid) != placeholders(text)
    )
    assert not wrong, f"{locale}: translations whose placeholders differ: {wrong}"


def _literal_text(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str)
        )
    return None


def _has_words(text: str) -> bool:
    return bool(re.search(r"[^\W\d_]", text))


def literal_sends(path: Path) -> list[str]:
    """Calls that put a literal string with words in front of a user."""
    problems = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not isinstance(node, ast.Call):
            continue
        name = (
            node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        )
        candidates = [kw.value for kw in node.keywords if kw.arg in TEXT_KWARGS]
        if name in SENDING and node.args:
            candidates.append(node.args[0])
        for candidate in candidates:
            text = _literal_text(candidate)
            if text is not None and _has_words(text):
                problems.append(f"{path.name}:{node.lineno}: {text!r}")
    return problems


def test_no_handler_sends_a_literal_string() -> None:
    files = [p for folder in SOURCES for p in sorted((REPO_ROOT / folder).rglob("*.py"))]
    problems = [problem for path in files for problem in literal_sends(path)]
    assert not problems, "send these through gettext:\n" + "\n".join(problems)


def test_the_literal_check_catches_literals(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        'async def f(turn, m):\n    await turn.say("Hello there")\n'
        '    await m.answer(text=f"Hi {m}")\n    await turn.say("✅")\n'
    )
    assert len(literal_sends(sample)) == 2
