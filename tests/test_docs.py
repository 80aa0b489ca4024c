"""The README and docs/ point only at files a clone has."""

from __future__ import annotations

import re

import pytest

from bot.config import REPO_ROOT

DOCS = [
    "README.md",
    *(p.relative_to(REPO_ROOT).as_posix() for p in (REPO_ROOT / "docs").glob("*.md")),
]
LINK = re.compile(r"\]\(([^)#\s]+)")  # [text](target)
PATH = re.compile(r"`((?:\.\./|docs/)[^`\s]+)`")  # `docs/domain.md`, `../shared/...`


@pytest.mark.parametrize("name", DOCS)
def test_every_file_named_is_in_the_repository(name: str) -> None:
    doc = REPO_ROOT / name
    text = doc.read_text(encoding="utf-8")
    targets = [t for t in LINK.findall(text) + PATH.findall(text) if "://" not in t]
    for target in targets:
        resolved = (doc.parent / target).resolve()
        assert resolved.is_relative_to(REPO_ROOT), f"{name} points outside the repository: {target}"
        assert resolved.exists(), f"{name} points at {target}, which is not there"


def test_the_domain_reference_is_in_docs() -> None:
    assert "(docs/domain.md)" in (REPO_ROOT / "README.md").read_text(encoding="utf-8")
