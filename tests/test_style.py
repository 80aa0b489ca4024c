"""ruff and mypy are part of the suite, so CI fails on a style or typing regression."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bot.config import REPO_ROOT


@pytest.mark.parametrize(
    "command",
    [
        ["ruff", "check", "."],
        ["ruff", "format", "--check", "."],
        ["mypy", "bot", "handlers", "tests", "bench"],
    ],
)
def test_clean(command: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", *command],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
