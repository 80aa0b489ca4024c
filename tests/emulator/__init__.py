"""Local Telegram Bot API emulator for end-to-end tests, benchmarks and a sandbox."""

from .client import UserChat
from .models import ApiError, BotMessage, Button, CallRecord, KeyboardButton, Upload
from .server import BotApiEmulator, StoredFile, make_png

__all__ = [
    "ApiError",
    "BotApiEmulator",
    "BotMessage",
    "Button",
    "CallRecord",
    "KeyboardButton",
    "StoredFile",
    "Upload",
    "UserChat",
    "make_png",
]
