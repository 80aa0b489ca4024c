"""A merchant's contact: a phone number, an e-mail address, or their own Telegram contact.

The coordinator reads it to call or write to the merchant, so anything else (a nickname, an
emoji, a sentence) is refused with the reason, never stored. Pure functions: no database, no
Telegram.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from bot.services.errors import DomainError

MAX_EMAIL = 200  # the column (users.contact) holds 200 characters; real addresses are far shorter
# E.164 allows 15 digits; a Chinese mobile without the country code has 11, a landline with its
# area code 10 to 12; fewer than 7 is no number anyone can call.
MIN_DIGITS, MAX_DIGITS = 7, 15

_PHONE_SEPARATORS = re.compile(r"[\s().\-]")
_PHONE = re.compile(r"\+?[0-9]+")
_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_TLD = re.compile(r"[A-Za-z]{2,63}")


class ContactKind(StrEnum):
    PHONE = "phone"
    EMAIL = "email"
    TELEGRAM = "telegram"


@dataclass(frozen=True)
class MerchantContact:
    kind: ContactKind
    value: str  # what is stored and shown to coordinators


def _phone_digits(text: str) -> str | None:
    """The number without separators ("+86 138-0000 0001" -> "+8613800000001"), or None
    when the text is not made of digits and separators."""
    compact = _PHONE_SEPARATORS.sub("", text)
    return compact if _PHONE.fullmatch(compact) else None


def _valid_email(text: str) -> bool:
    if len(text) > MAX_EMAIL or text.count("@") != 1:
        return False
    local, domain = text.split("@")
    labels = domain.split(".")
    return (
        0 < len(local) <= 64
        and _LOCAL.fullmatch(local) is not None
        and len(labels) >= 2
        and all(_LABEL.fullmatch(label) for label in labels[:-1])
        and _TLD.fullmatch(labels[-1]) is not None
    )


def parse_contact(text: str) -> MerchantContact:
    """A typed contact, normalised; DomainError names what is wrong with anything else:
    contact_empty, contact_phone_length (digits, but too few or too many),
    contact_email_invalid (has an @ but is no address), contact_invalid (neither)."""
    text = unicodedata.normalize("NFKC", text).strip()  # full-width digits and ＠ too
    if not text:
        raise DomainError("contact_empty")
    digits = _phone_digits(text)
    if digits is not None:
        count = len(digits.lstrip("+"))
        if not MIN_DIGITS <= count <= MAX_DIGITS:
            raise DomainError("contact_phone_length", low=MIN_DIGITS, high=MAX_DIGITS)
        return MerchantContact(ContactKind.PHONE, digits)
    if "@" in text:
        local, _at, domain = text.rpartition("@")
        email = f"{local}@{domain.lower()}"
        if not _valid_email(email):
            raise DomainError("contact_email_invalid")
        return MerchantContact(ContactKind.EMAIL, email)
    raise DomainError("contact_invalid")


def shared_contact(sender_id: int, contact_user_id: int | None, phone: str) -> MerchantContact:
    """A contact shared with Telegram's button: the merchant's own (not someone's from the
    address book), its number in international form as Telegram gives it."""
    if contact_user_id != sender_id:
        raise DomainError("contact_not_own")
    digits = _phone_digits(unicodedata.normalize("NFKC", phone).strip())
    if digits is None or not MIN_DIGITS <= len(digits.lstrip("+")) <= MAX_DIGITS:
        raise DomainError("phone_invalid")
    return MerchantContact(ContactKind.TELEGRAM, "+" + digits.lstrip("+"))
