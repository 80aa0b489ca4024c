"""Each kind of coordinator action reads as itself in /audit: a new kind that falls through to
the last wording ("renamed the village ...") would tell coordinators something that never
happened."""

from __future__ import annotations

import pytest
from aiogram.utils.i18n import I18n

from bot.config import REPO_ROOT, Settings
from bot.i18n import make_i18n
from bot.models import AuditAction, AuditEntry, AuditVia
from handlers.texts import _audit_what

DETAILS = {
    "name": "Li Wei",
    "telegram_id": 501,
    "company": "Mekong Roasters",
    "key": "green/AA",
    "fen_per_kg": 3360,
    "old": "Conggang",
    "place": "the school yard",
    "reference": "TX-1",
    "payout_id": 7,
    "dispute_id": 3,
    "correction_fen": 500,
}


@pytest.fixture(scope="module")
def i18n() -> I18n:
    return make_i18n(REPO_ROOT / "locales", "zh")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_action_has_its_own_words(i18n: I18n, lang: str) -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    with i18n.context(), i18n.use_locale(lang):
        texts = {
            action: _audit_what(
                AuditEntry(action=action, via=AuditVia.CHAT, details=dict(DETAILS)), settings
            )
            for action in AuditAction
        }
    rename = texts.pop(AuditAction.VILLAGE_RENAME)
    assert all(text != rename for text in texts.values()), texts
    assert len(set(texts.values())) == len(texts), texts
