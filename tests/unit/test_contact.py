"""A merchant's contact: phone numbers and e-mail addresses pass, normalised; the rest is
refused with a reason the merchant can act on."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.contact import (
    MAX_DIGITS,
    MIN_DIGITS,
    ContactKind,
    MerchantContact,
    parse_contact,
    shared_contact,
)
from bot.services.errors import DomainError

REASONS = {"contact_empty", "contact_phone_length", "contact_email_invalid", "contact_invalid"}


@pytest.mark.parametrize(
    ("typed", "kind", "stored"),
    [
        ("13800000001", ContactKind.PHONE, "13800000001"),
        ("+86 138 0000 0001", ContactKind.PHONE, "+8613800000001"),
        ("(0875) 221-2345", ContactKind.PHONE, "08752212345"),
        ("＋８６ １３８００００００01", ContactKind.PHONE, "+8613800000001"),
        (" sales@BSCoffee.CN ", ContactKind.EMAIL, "sales@bscoffee.cn"),
        (
            "li.wei+beans@mail.yunnan-coffee.com",
            ContactKind.EMAIL,
            "li.wei+beans@mail.yunnan-coffee.com",
        ),
        ("Li＠example.com", ContactKind.EMAIL, "Li@example.com"),
    ],
)
def test_phone_numbers_and_addresses_are_kept_normalised(
    typed: str, kind: ContactKind, stored: str
) -> None:
    assert parse_contact(typed) == MerchantContact(kind, stored)


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("   ", "contact_empty"),
        ("😀", "contact_invalid"),
        ("wechat bs_coffee", "contact_invalid"),
        ("call me", "contact_invalid"),
        ("138 000", "contact_phone_length"),
        ("+86 138 0000 0001 2345 6", "contact_phone_length"),
        ("1380000000-1x", "contact_invalid"),
        ("sales@", "contact_email_invalid"),
        ("@bscoffee", "contact_email_invalid"),
        ("sales@bscoffee", "contact_email_invalid"),
        ("sales@@bscoffee.cn", "contact_email_invalid"),
        ("sales bs@coffee.cn", "contact_email_invalid"),
        ("a..b@coffee.cn", "contact_email_invalid"),
        ("a@-coffee.cn", "contact_email_invalid"),
        ("x" * 190 + "@coffee.cn", "contact_email_invalid"),
    ],
)
def test_anything_else_is_refused_with_its_reason(typed: str, reason: str) -> None:
    with pytest.raises(DomainError) as refused:
        parse_contact(typed)
    assert refused.value.reason == reason


def test_a_shared_contact_must_be_the_merchants_own() -> None:
    assert shared_contact(7, 7, "8613800000001") == MerchantContact(
        ContactKind.TELEGRAM, "+8613800000001"
    )
    with pytest.raises(DomainError, match="contact_not_own"):
        shared_contact(7, 8, "8613800000001")
    with pytest.raises(DomainError, match="contact_not_own"):
        shared_contact(7, None, "8613800000001")


@given(st.text(max_size=60))
def test_any_text_is_a_valid_contact_or_refused_with_a_reason(text: str) -> None:
    """Never another exception; what is accepted reads back as itself (stored values are
    normalised once and for all) and is a number of sensible length or an address."""
    try:
        contact = parse_contact(text)
    except DomainError as refused:
        assert refused.reason in REASONS
        return
    assert parse_contact(contact.value) == contact
    if contact.kind == ContactKind.PHONE:
        assert MIN_DIGITS <= len(contact.value.lstrip("+")) <= MAX_DIGITS
        assert contact.value.lstrip("+").isdigit()
    else:
        assert contact.value.count("@") == 1 and " " not in contact.value


separator = st.sampled_from(["", " ", "-", ".", "(", ")"])


@given(
    st.booleans(),
    st.lists(
        st.tuples(st.text("0123456789", min_size=1, max_size=4), separator),
        min_size=1,
        max_size=8,
    ),
)
def test_a_number_with_any_separators_keeps_its_digits(
    plus: bool, parts: list[tuple[str, str]]
) -> None:
    typed = ("+" if plus else "") + "".join(digits + sep for digits, sep in parts)
    digits = "".join(d for d, _sep in parts)
    if not MIN_DIGITS <= len(digits) <= MAX_DIGITS:
        with pytest.raises(DomainError, match="contact_phone_length"):
            parse_contact(typed)
        return
    assert parse_contact(typed) == MerchantContact(
        ContactKind.PHONE, ("+" if plus else "") + digits
    )


@given(
    st.from_regex(r"[a-z0-9]{1,10}(\.[a-z0-9_+-]{1,8}){0,2}", fullmatch=True),
    st.from_regex(r"[a-z0-9]{1,10}(-[a-z0-9]{1,5})?(\.[a-z0-9]{1,10}){0,2}", fullmatch=True),
    st.from_regex(r"[a-zA-Z]{2,6}", fullmatch=True),
)
def test_plain_addresses_are_accepted(local: str, domain: str, tld: str) -> None:
    typed = f"{local}@{domain}.{tld}"
    assert parse_contact(typed) == MerchantContact(ContactKind.EMAIL, typed.lower())
