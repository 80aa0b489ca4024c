"""The price digest and alert render in both languages from the payloads the push service
writes: product and grade in the reader's words, money by Babel, signed changes."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import pytest

import handlers.price_notices  # noqa: F401  (registers the renderers)
from bot.config import REPO_ROOT
from bot.i18n import make_i18n
from bot.notice_texts import render

TZ = ZoneInfo("Asia/Shanghai")
DIGEST = {
    "day": "2026-11-29",
    "lines": [
        {
            "key": "cherry/-",
            "fen": 550,
            "yesterday_fen": None,
            "auction_fen": None,
            "auction_at": None,
        },
        {
            "key": "green/AA",
            "fen": 3360,
            "yesterday_fen": 3200,
            "auction_fen": 3500,
            "auction_at": "2026-11-28T02:00:00+00:00",
        },
        {
            "key": "parchment/-",
            "fen": None,
            "yesterday_fen": None,
            "auction_fen": 2310,
            "auction_at": "2026-11-27T02:00:00+00:00",
        },
    ],
}
ALERT = {"key": "green/AA", "fen": 3100, "told_fen": 3360, "at": "2026-11-29T02:00:00+00:00"}


@pytest.fixture(scope="module")
def i18n() -> Any:
    return make_i18n(REPO_ROOT / "locales", "zh")


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        (
            "zh",
            "📈 咖啡价格（2026年11月29日）\n"
            "• 鲜果：¥5.50/公斤（今日新价）\n"
            "• 生豆 · AA：¥33.60/公斤（较昨日 +5.0%）\n"
            "   最近拍卖价：¥35.00/公斤（2026年11月28日）\n"
            "• 带壳豆 · 未分级：暂无参考价\n"
            "   最近拍卖价：¥23.10/公斤（2026年11月27日）\n\n"
            "发送 /prices 查看走势图 · 在 /prices 中可关闭推送",
        ),
        (
            "en",
            "📈 Coffee prices, Nov 29, 2026\n"
            "• Fresh cherry: CN¥5.50/kg (new today)\n"
            "• Green bean · AA: CN¥33.60/kg (+5.0% since yesterday)\n"
            "   Latest auction: CN¥35.00/kg on Nov 28, 2026\n"
            "• Parchment · ungraded: no reference price yet\n"
            "   Latest auction: CN¥23.10/kg on Nov 27, 2026\n\n"
            "/prices for the chart · turn off in /prices",
        ),
    ],
)
def test_the_digest(i18n: Any, locale: str, expected: str) -> None:
    assert render("price_digest", DIGEST, locale, i18n, tz=TZ).text == expected


def test_the_alert(i18n: Any) -> None:
    en = render("price_alert", ALERT, "en", i18n, tz=TZ).text
    assert en.startswith(
        "⚠️ Price alert: Green bean · AA is now CN¥31.00/kg, -7.7% since the last price we "
        "sent you (CN¥33.60/kg)."
    )
    zh = render("price_alert", ALERT, "zh", i18n, tz=TZ).text
    assert "生豆 · AA" in zh and "¥31.00/公斤" in zh and "-7.7%" in zh and "/prices" in zh
