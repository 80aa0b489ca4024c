"""Telegram-style text processing: HTML parse mode, trimming, UTF-16 lengths."""

from __future__ import annotations

import re
from typing import Any

__all__ = ["EntityParseError", "prepare_text", "utf16_len"]

_SIMPLE_TAGS: dict[str, str] = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "code": "code",
    "pre": "pre",
}
_SUPPORTED_TAGS = frozenset({*_SIMPLE_TAGS, "a", "span", "tg-emoji", "blockquote", "tg-time"})
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY_RE = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z]{2,8});")
_ATTR_RE = re.compile(r"""\s*([a-zA-Z_:][-a-zA-Z0-9_:.]*)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s>]*))?""")


class EntityParseError(ValueError):
    """Raised for text Telegram would reject with "can't parse entities"."""


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units (Telegram's offset unit)."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(src: str, index: int) -> int:
    return len(src[:index].encode("utf-8"))


def _parse_attrs(raw: str) -> dict[str, str]:
    attrs: dict[str, str] = {}
    for match in _ATTR_RE.finditer(raw):
        value = match.group(2) or ""
        if value[:1] in {'"', "'"}:
            value = value[1:-1]
        attrs[match.group(1).lower()] = _unescape(value)
    return attrs


def _unescape(text: str) -> str:
    def repl(match: re.Match[str]) -> str:
        body = match.group(1)
        if body.startswith(("#x", "#X")):
            return chr(int(body[2:], 16))
        if body.startswith("#"):
            return chr(int(body[1:]))
        return _NAMED_ENTITIES.get(body, match.group(0))

    return _ENTITY_RE.sub(repl, text) if "&" in text else text


def parse_html(src: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse Telegram HTML into (plain text, entities); raise EntityParseError like Telegram."""
    out: list[str] = []
    pos = 0  # UTF-16 offset of the next output character
    # stack entries: [tag name, entity dict or None, start offset]
    stack: list[list[Any]] = []
    entities: list[dict[str, Any]] = []
    i, n = 0, len(src)
    while i < n:
        lt = src.find("<", i)
        chunk = src[i:] if lt < 0 else src[i:lt]
        if chunk:
            chunk = _unescape(chunk)
            out.append(chunk)
            pos += utf16_len(chunk)
        if lt < 0:
            break
        gt = src.find(">", lt)
        if src.startswith("</", lt):
            if gt < 0:
                raise EntityParseError(
                    f"Can't find end of end tag at byte offset {_byte_offset(src, lt)}"
                )
            name = src[lt + 2 : gt].strip().lower()
            if not stack:
                raise EntityParseError(f"Unexpected end tag at byte offset {_byte_offset(src, lt)}")
            open_name, entity, start = stack.pop()
            if name != open_name:
                raise EntityParseError(
                    f"Unmatched end tag at byte offset {_byte_offset(src, lt)}, "
                    f'expected "</{open_name}>", found "</{name}>"'
                )
            if entity is not None and pos > start:
                entity["offset"], entity["length"] = start, pos - start
                parent = stack[-1] if stack else None
                lang = entity.pop("_language", None)
                if open_name == "code" and parent is not None and parent[0] == "pre" and lang:
                    if parent[1] is not None:
                        parent[1]["language"] = lang
                else:
                    entities.append(entity)
            i = gt + 1
            continue
        j = lt + 1
        while j < n and not src[j].isspace() and src[j] not in "<>/":
            j += 1
        name = src[lt + 1 : j].lower()
        if name not in _SUPPORTED_TAGS:
            raise EntityParseError(
                f'Unsupported start tag "{name}" at byte offset {_byte_offset(src, lt)}'
            )
        if gt < 0:
            raise EntityParseError(f"Unclosed start tag at byte offset {_byte_offset(src, lt)}")
        attrs = _parse_attrs(src[j:gt].rstrip("/"))
        stack.append([name, _entity_for(name, attrs), pos])
        i = gt + 1
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _entity_for(name: str, attrs: dict[str, str]) -> dict[str, Any] | None:
    if name in _SIMPLE_TAGS:
        entity: dict[str, Any] = {"type": _SIMPLE_TAGS[name]}
        cls = attrs.get("class", "")
        if name == "code" and cls.startswith("language-"):
            entity["_language"] = cls[len("language-") :]
        return entity
    if name == "a":
        href = attrs.get("href")
        if not href:
            return None
        if href.startswith("tg://user?id="):
            return {
                "type": "text_mention",
                "user": {"id": int(href.split("=", 1)[1] or 0), "is_bot": False, "first_name": ""},
            }
        return {"type": "text_link", "url": href}
    if name == "span":
        if attrs.get("class") != "tg-spoiler":
            raise EntityParseError('Tag "span" must have class "tg-spoiler"')
        return {"type": "spoiler"}
    if name == "blockquote":
        return {"type": "expandable_blockquote" if "expandable" in attrs else "blockquote"}
    if name == "tg-emoji":
        return {"type": "custom_emoji", "custom_emoji_id": attrs.get("emoji-id", "")}
    return None


def _strip(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    stripped = text.strip()
    if stripped == text or not entities:
        return stripped, entities
    shift = utf16_len(text[: len(text) - len(text.lstrip())])
    limit = utf16_len(stripped)
    result: list[dict[str, Any]] = []
    for entity in entities:
        start = max(entity["offset"] - shift, 0)
        end = min(entity["offset"] + entity["length"] - shift, limit)
        if end > start:
            result.append({**entity, "offset": start, "length": end - start})
    return stripped, result


def prepare_text(
    text: str, parse_mode: str | None, entities: list[dict[str, Any]] | None
) -> tuple[str, list[dict[str, Any]]]:
    """Return the visible text and entities Telegram would store for a sent text/caption.

    HTML is parsed (and validated like Telegram); Markdown modes are kept verbatim.
    Leading/trailing whitespace is trimmed.
    """
    if parse_mode and parse_mode.lower() == "html" and not entities:
        plain, parsed = parse_html(text)
        return _strip(plain, parsed)
    return _strip(text, list(entities or []))
