"""Debian's chromium for the browser tests (/usr/bin/chromium; .ci/run installs it), driven by
Playwright for Python without `playwright install`. Where it cannot run the tests skip, saying
how to install it; under CI=true they fail instead, so a CI run never passes without them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
INSTALL = "apt-get update -q && apt-get install -y -q chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _under_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}


def need_chromium() -> None:
    """Skip (fail under CI) with the command that fixes it when the browser cannot run; called
    where a browser test module is imported, before it imports Playwright."""
    problem = None
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        problem = "playwright is not installed: .venv/bin/pip install -e '.[test]'"
    if problem is None and not CHROMIUM.exists():
        problem = f"{CHROMIUM} is missing: install Debian's chromium with `{INSTALL}` (as root)"
    if problem is not None:
        if _under_ci():
            pytest.fail(f"browser tests cannot run under CI: {problem}")
        pytest.skip(problem, allow_module_level=True)
