"""The `farmgate` command as an operator meets it: one clear line for each set-up mistake."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import REPO_ROOT
from tests.conftest import TOKEN


def farmgate(
    *args: str, env: dict[str, str], cwd: Path, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("BOT_", "DATABASE_", "TELEGRAM_", "COORDINATOR_", "REDIS_"))
    }
    clean["PYTHONPATH"] = str(REPO_ROOT)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env={**clean, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _one_clear_line(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.startswith("farmgate:")]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0], lines[0]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path


def test_missing_token(workdir: Path) -> None:
    _one_clear_line(farmgate("run", env={}, cwd=workdir), "BOT_TOKEN is not set")


def test_malformed_token(workdir: Path) -> None:
    _one_clear_line(
        farmgate("run", env={"BOT_TOKEN": "hello"}, cwd=workdir), "BOT_TOKEN is malformed"
    )


def test_unreachable_database(workdir: Path) -> None:
    env = {"BOT_TOKEN": TOKEN, "DATABASE_URL": "postgresql+asyncpg://nobody@127.0.0.1:1/none"}
    _one_clear_line(farmgate("run", env=env, cwd=workdir), "DATABASE_URL")


def test_unreachable_bot_api(workdir: Path) -> None:
    env = {"BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": "http://127.0.0.1:1"}
    _one_clear_line(farmgate("run", env=env, cwd=workdir), "TELEGRAM_API_URL")


def test_bad_setting_value(workdir: Path) -> None:
    _one_clear_line(farmgate("run", env={"TIMEZONE": "Mars/Olympus"}, cwd=workdir), "TIMEZONE")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AUCTION_INCREMENTS", "0.105"),
        ("AUCTION_HOURS", "24,-1"),
        ("AUCTION_RESERVES", '{"coffee": "9"}'),
    ],
)
def test_bad_market_setting(workdir: Path, name: str, value: str) -> None:
    _one_clear_line(farmgate("run", env={name: value}, cwd=workdir), name)


def test_settings_from_a_dotenv_file(workdir: Path) -> None:
    (workdir / ".env").write_text("BOT_TOKEN=nonsense\n")
    _one_clear_line(farmgate("run", env={}, cwd=workdir), "BOT_TOKEN is malformed")


def test_village_add_and_list(workdir: Path) -> None:
    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'fg.db'}"}
    added = farmgate("village", "add", "Conggang", env=env, cwd=workdir)
    assert added.returncode == 0, added.stderr
    assert "/start v_conggang" in added.stdout
    farmgate("village", "add", "南康", "--code", "nankang", env=env, cwd=workdir)
    again = farmgate("village", "add", "Conggang", env=env, cwd=workdir)
    _one_clear_line(again, "village exists")
    listing = farmgate("village", "list", env=env, cwd=workdir)
    assert "conggang\tConggang" in listing.stdout and "nankang\t南康" in listing.stdout


def test_db_upgrade_and_downgrade(workdir: Path) -> None:
    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'fg.db'}"}
    assert "up to date" in farmgate("db", "upgrade", env=env, cwd=workdir).stdout
    assert farmgate("db", "downgrade", "base", env=env, cwd=workdir).returncode == 0
    assert farmgate("db", "upgrade", env=env, cwd=workdir).returncode == 0


def test_unreachable_database_never_prints_its_password(workdir: Path) -> None:
    env = {
        "BOT_TOKEN": TOKEN,
        "DATABASE_URL": "postgresql+asyncpg://farm:hunter2-Secret@127.0.0.1:1/farm",
    }
    result = farmgate("run", env=env, cwd=workdir)
    _one_clear_line(result, "DATABASE_URL", "farm:***@127.0.0.1:1/farm")
    assert "hunter2" not in result.stderr + result.stdout


def test_a_bot_api_error_never_prints_the_token(workdir: Path) -> None:
    # aiohttp names the whole request URL, /bot<token>/getMe, when the address is invalid.
    env = {
        "BOT_TOKEN": TOKEN,
        "DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'fg.db'}",
        "TELEGRAM_API_URL": "http://127.0.0.1:99999",
    }
    result = farmgate("run", env=env, cwd=workdir)
    _one_clear_line(result, "TELEGRAM_API_URL", "/bot***/getMe")
    secret = TOKEN.split(":")[1]
    assert secret not in result.stderr + result.stdout
