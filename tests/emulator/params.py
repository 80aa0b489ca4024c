"""Reading a Bot API call's parameters as Telegram does: query string, JSON body or multipart
form (aiogram's choice), with JSON-encoded fields decoded and uploads resolved."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from .models import ApiError, Upload

__all__ = ["read_params"]

JSON = dict[str, Any]

# Fields that stay strings even when they look like numbers or JSON.
_STRING_FIELDS = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "callback_query_id",
        "inline_message_id",
        "url",
        "photo",
        "document",
        "language_code",
        "description",
    }
)


def _decode(key: str, value: str) -> Any:
    if key in _STRING_FIELDS or not value:
        return value
    if value[0] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    if value in ("true", "false"):
        return value == "true"
    if value[0] in "-0123456789":
        for convert in (int, float):
            try:
                return convert(value)
            except ValueError:
                pass
    return value


async def read_params(request: web.Request) -> JSON:
    """The call's parameters; an ``attach://name`` value becomes that multipart part."""
    raw: dict[str, Any] = dict(request.query) if request.query_string else {}
    if request.method == "POST" and request.body_exists:
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError as e:
                raise ApiError(400, "Bad Request: can't parse JSON") from e
            if not isinstance(body, dict):
                raise ApiError(400, "Bad Request: JSON object expected")
            raw.update(body)
        else:
            for k, v in (await request.post()).items():
                if isinstance(v, web.FileField):
                    raw[k] = Upload(v.filename, v.file.read(), v.content_type)
                elif isinstance(v, bytes | bytearray):
                    raw[k] = bytes(v).decode("utf-8", "replace")
                else:
                    raw[k] = v
    params: JSON = {}
    attached: set[str] = set()
    for k, v in raw.items():
        value = _decode(k, v) if isinstance(v, str) else v
        if isinstance(value, str) and value.startswith("attach://"):
            name = value[len("attach://") :]
            value = raw.get(name)
            if not isinstance(value, Upload):
                raise ApiError(400, f"Bad Request: file {name!r} not found in the request")
            attached.add(name)
        params[k] = value
    for name in attached:
        params.pop(name, None)
    return params
