"""The heading of announcements: in the reader's language, and never a reason for Telegram to
refuse the message."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from bot.config import REPO_ROOT, SHIPPED_LOCALES
from bot.i18n import make_i18n
from bot.limits import TELEGRAM_CAPTION, TELEGRAM_TEXT, utf16_len
from bot.notice_texts import heading_room, render, with_heading


@pytest.fixture(scope="module")
def i18n() -> Any:
    return make_i18n(REPO_ROOT / "locales", "zh")


def test_an_announcement_is_headed_in_each_readers_language(i18n: Any) -> None:
    broadcast: Any = SimpleNamespace(texts={"": "Market closed"}, photo_file_id=None)
    heard = {
        code: render("announcement", {}, code, i18n, broadcast, programme="Baoshan Coffee").text
        for code in SHIPPED_LOCALES
    }
    assert heard == {
        "zh": "📣 来自 Baoshan Coffee 的公告\n\nMarket closed",
        "en": "📣 Announcement from Baoshan Coffee\n\nMarket closed",
    }


@pytest.mark.parametrize(("photo", "limit"), [(True, TELEGRAM_CAPTION), (False, TELEGRAM_TEXT)])
def test_the_heading_fits_or_is_left_out_but_the_text_is_never_cut(
    i18n: Any, photo: bool, limit: int
) -> None:
    room = heading_room("farmgate", i18n, SHIPPED_LOCALES)
    heading = "📣 Announcement from farmgate"
    fits = "☕" * (limit - room)
    assert with_heading(heading, fits, photo) == f"{heading}\n\n{fits}"
    assert utf16_len(with_heading(heading, fits, photo)) <= limit
    # Written before the programme took a longer name: sent without the heading, whole.
    longer = "x" * (limit - 5)
    assert with_heading(heading, longer, photo) == longer
    assert with_heading(heading, "", photo) == heading  # a photo without a caption


def test_the_programme_name_comes_from_the_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    from bot.config import Settings

    assert Settings(_env_file=None).programme_name == "farmgate"  # type: ignore[call-arg]
    monkeypatch.setenv("PROGRAMME_NAME", "保山咖啡")
    assert Settings(_env_file=None).programme_name == "保山咖啡"  # type: ignore[call-arg]
    monkeypatch.setenv("PROGRAMME_NAME", "")
    with pytest.raises(ValidationError, match="programme_name"):
        Settings(_env_file=None)  # type: ignore[call-arg]
