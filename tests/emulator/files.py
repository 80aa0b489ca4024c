"""Files: photos and documents the bot uploads (QR codes, charts, CSV exports) or re-sends by
file_id, and files users send. Kept in memory; the bot never downloads, so getFile is not
emulated."""

from __future__ import annotations

import mimetypes
import secrets
import struct
import zlib
from dataclasses import dataclass
from typing import Any

from .models import ApiError, Upload

__all__ = ["FileStore", "StoredFile", "make_png"]

JSON = dict[str, Any]

_FILE_ID_PREFIX = {"photo": "AgACAgIAAxkBAA", "document": "BQACAgIAAxkBAA"}


def make_png(width: int = 8, height: int = 8, rgb: tuple[int, int, int] = (40, 140, 60)) -> bytes:
    """A valid solid-colour RGB PNG."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        body = tag + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + bytes(rgb) * width
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


def png_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of PNG bytes, None for anything else."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        w, h = struct.unpack(">II", data[16:24])
        return int(w), int(h)
    return None


@dataclass(slots=True)
class StoredFile:
    """A file known to the emulator (uploaded by the bot or "sent" by a user)."""

    file_id: str
    file_unique_id: str
    kind: str
    data: bytes
    file_name: str | None = None
    mime_type: str | None = None


class FileStore:
    """file_id -> bytes, and Telegram's PhotoSize lists for photos."""

    def __init__(self) -> None:
        self.files: dict[str, StoredFile] = {}
        self._photo_sizes: dict[str, list[JSON]] = {}
        self._counter = 0

    def store(
        self, kind: str, data: bytes, *, file_name: str | None = None, mime_type: str | None = None
    ) -> StoredFile:
        self._counter += 1
        n = self._counter
        if (mime_type is None or mime_type == "application/octet-stream") and file_name:
            mime_type = mimetypes.guess_type(file_name)[0] or mime_type
        stored = StoredFile(
            file_id=f"{_FILE_ID_PREFIX.get(kind, 'BQACAgIAAxkBAA')}{n:06d}{secrets.token_hex(8)}",
            file_unique_id=f"AQAD{n:06d}{kind[:2]}",
            kind=kind,
            data=data,
            file_name=file_name,
            mime_type=mime_type,
        )
        self.files[stored.file_id] = stored
        return stored

    def new_photo(self, data: bytes) -> list[JSON]:
        """Register photo bytes as Telegram does: several sizes, smallest first."""
        width, height = png_size(data) or (800, 600)
        side = max(width, height, 1)
        sizes: list[JSON] = []
        for target in [s for s in (90, 320, 800) if s < side] + [min(side, 1280)]:
            ratio = target / side
            stored = self.store("photo", data)
            entry: JSON = {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "width": max(1, round(width * ratio)),
                "height": max(1, round(height * ratio)),
            }
            if data:
                entry["file_size"] = max(1, len(data) * target // side)
            sizes.append(entry)
        for entry in sizes:
            self._photo_sizes[entry["file_id"]] = sizes
        return sizes

    def photo(self, value: Any) -> list[JSON]:
        """sendPhoto's photo: an upload, or the file_id of a photo seen before."""
        if isinstance(value, Upload):
            return self.new_photo(value.data)
        if isinstance(value, str) and value in self._photo_sizes:
            return self._photo_sizes[value]
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            return self.new_photo(b"")
        if isinstance(value, str) and value in self.files:
            raise ApiError(400, "Bad Request: can't use file of type Document as Photo")
        if isinstance(value, str) and value:
            raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        raise ApiError(400, "Bad Request: there is no photo in the request")

    def document(self, value: Any) -> StoredFile:
        """sendDocument's document: an upload, or a known non-photo file_id."""
        if isinstance(value, Upload):
            return self.store(
                "document", value.data, file_name=value.filename, mime_type=value.content_type
            )
        if isinstance(value, str) and value:
            stored = self.files.get(value)
            if stored is None:
                raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
            if stored.kind == "photo":
                raise ApiError(400, "Bad Request: can't use file of type Photo as Document")
            return stored
        raise ApiError(400, "Bad Request: there is no document in the request")
