"""Secrets and personal data stay out of logs: bound parameters, the token, passwords."""

from __future__ import annotations

import io
import logging

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.models import User
from bot.redaction import redact_logging, safe_url, secrets_of
from tests.conftest import TOKEN

PHONE = "+8613812345678"
NAME = "Zhang Sanfeng"


async def test_a_logged_integrity_error_carries_no_parameters(
    session: AsyncSession, caplog: pytest.LogCaptureFixture
) -> None:
    session.add(User(telegram_id=4242, name=NAME, phone=PHONE))
    await session.flush()
    session.add(User(telegram_id=4242, name=NAME, phone=PHONE))
    with pytest.raises(IntegrityError) as caught:
        await session.flush()
    logging.getLogger("farmgate.test").error("update failed", exc_info=caught.value)
    assert "INSERT INTO users" in caplog.text  # the statement is named, its values are not
    assert PHONE not in caplog.text and NAME not in caplog.text
    assert PHONE not in str(caught.value) and NAME not in repr(caught.value)


async def test_a_logged_dbapi_error_carries_no_parameters(
    session: AsyncSession, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(DBAPIError) as caught:
        await session.execute(text("SELECT :phone FROM no_such_table"), {"phone": PHONE})
    logging.getLogger("farmgate.test").error("update failed", exc_info=caught.value)
    assert "no_such_table" in caplog.text
    assert PHONE not in caplog.text


def test_log_lines_mask_the_token_and_passwords() -> None:
    password = "s3cr/et:pw"
    settings = Settings(
        _env_file=None,
        bot_token=TOKEN,
        database_url="postgresql+asyncpg://farm:s3cr%2Fet%3Apw@db.example/farm",  # type: ignore[call-arg]
        redis_url="redis://:redispass@cache.example:6379/0",
    )
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        redact_logging(secrets_of(settings))
        log = logging.getLogger("aiogram.dispatcher")
        try:
            raise OSError(f"InvalidUrlClientError: http://x:99999/bot{TOKEN}/getUpdates")
        except OSError:
            log.exception("Failed to fetch updates - %s", f"/bot{TOKEN.replace(':', '%3A')}/")
        log.error("db %s redis %s", settings.database_url, settings.redis_url)
    finally:
        root.removeHandler(handler)
    out = stream.getvalue()
    assert "Failed to fetch updates" in out and "InvalidUrlClientError" in out
    assert TOKEN.split(":")[1] not in out
    assert "s3cr" not in out and password not in out and "redispass" not in out
    assert "***" in out


def test_safe_url_masks_the_password() -> None:
    shown = safe_url("postgresql+asyncpg://farm:hunter2@db.example:5432/farm")
    assert "hunter2" not in shown and "farm:***@db.example:5432/farm" in shown
