"""`pip install .` (not editable) gives a farmgate that starts: the wheel carries its compiled
catalogs and the installed bot answers in Chinese and English without writing into itself.

The wheel is built from a copy of the sources (pip's build isolation fetches setuptools and
Babel through the configured index, or its cache) and installed with --no-deps into a fresh
virtual environment that borrows the dependencies already installed here (a .pth line), so
no network is needed for them.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from bot.config import REPO_ROOT
from tests.conftest import TOKEN
from tests.emulator import BotApiEmulator

SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "bot", "handlers", "locales")
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.mo", "*.db*")


def _run(*args: str | Path, cwd: Path | None = None) -> str:
    result = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _build_wheel(tmp_path: Path) -> Path:
    source = tmp_path / "source"
    source.mkdir()
    for name in SOURCES:
        path = REPO_ROOT / name
        if not path.exists():
            continue
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=IGNORED)
        else:
            shutil.copy(path, source / name)
    dist = tmp_path / "dist"
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", dist, source)
    (wheel,) = dist.glob("farmgate-*.whl")
    return wheel


def _fresh_venv(tmp_path: Path, wheel: Path) -> tuple[Path, Path]:
    """A new venv with farmgate installed from the wheel; its dependencies come from ours."""
    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    purelib = "import sysconfig; print(sysconfig.get_path('purelib'))"
    site = Path(_run(python, "-c", purelib).strip())
    (site / "deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    pip = (sys.executable, "-m", "pip", "--python", python, "install", "-q")
    _run(*pip, "--no-deps", "--no-index", wheel)
    return venv, site


def _package_files(site: Path) -> set[Path]:
    return {
        p.relative_to(site)
        for p in (site / "bot").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


@pytest.mark.timeout(300)
async def test_a_built_wheel_installs_and_the_bot_answers(
    tmp_path: Path, emulator: BotApiEmulator
) -> None:
    wheel = await asyncio.to_thread(_build_wheel, tmp_path)
    names = zipfile.ZipFile(wheel).namelist()
    for locale in ("zh", "en"):
        assert f"bot/locales/{locale}/LC_MESSAGES/messages.mo" in names
    assert not any(name.startswith("locales/") for name in names)
    for page_file in ("index.html", "app.js", "style.css"):  # the demo page (bot/demo/page.py)
        assert f"bot/demo/static/{page_file}" in names

    venv, site = await asyncio.to_thread(_fresh_venv, tmp_path, wheel)
    where = _run(
        venv / "bin" / "python",
        "-c",
        "import bot; from bot.config import Settings; "
        "print(bot.__file__); print(Settings(_env_file=None).locales_dir)",
        cwd=tmp_path,
    ).split()
    assert where == [str(site / "bot" / "__init__.py"), str(site / "bot" / "locales")]
    installed = _package_files(site)

    workdir = tmp_path / "work"
    workdir.mkdir()
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "LOCALES_DIR")},
        "BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": emulator.base_url,
        "DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'farmgate.db'}",
        "POLLING_TIMEOUT": "1",
    }
    process = await asyncio.create_subprocess_exec(
        venv / "bin" / "farmgate",
        "run",
        cwd=workdir,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        chinese = emulator.user(801, language_code="zh-hans")
        english = emulator.user(802, language_code="en")
        await chinese.send("/start")
        await english.send("/start")
        assert (await chinese.receive(timeout=60)).text.startswith("欢迎使用 farmgate！请选择语言")
        assert (await english.receive(timeout=60)).text.startswith(
            "Welcome to farmgate! Choose your language"
        )
    finally:
        if process.returncode is None:
            process.terminate()
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0, stderr.decode()
    assert TOKEN.split(":")[1] not in stderr.decode()  # its log lines never show the token
    assert _package_files(site) == installed  # nothing written into the installation
