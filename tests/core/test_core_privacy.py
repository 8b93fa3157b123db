"""Personal data: card numbers masked, customers' phone numbers masked and hashed with the
store's own secret, and neither kept whole anywhere in the database (the audit included)."""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Any

from hypothesis import given, settings, strategies as st
import pytest

from custom_components.careon.core import ActionEngine
from custom_components.careon.core.privacy import (
    hash_phone,
    is_masked,
    mask_card_number,
    mask_phone,
    normalise_phone,
    redact_phone,
    store_privacy_key,
)

PHONE = "010-1234-5678"
CARD = "5365-1012-3456-7890"


@pytest.mark.parametrize(
    ("given_number", "masked"),
    [
        ("5365101234567890", "536510******7890"),
        (CARD, "5365-10**-****-7890"),
        (" 5365 1012 3456 7890 ", "5365 10** **** 7890"),
        # already masked: stays as it is; partly masked: the rest is hidden too
        ("5365-10**-****-7890", "5365-10**-****-7890"),
        ("536510******7890", "536510******7890"),
        ("5365-1012-****-7890", "5365-10**-****-7890"),
        ("1234-56XX-XXXX-7890", "1234-56**-****-7890"),
        ("5365-10##-####-7890", "5365-10**-****-7890"),
        # AMEX, 15 digits; the X of a brand name is a letter, not a hidden digit
        ("3782-822463-10005", "3782-82****-*0005"),
        ("AMEX 3782 822463 10005", "AMEX 3782 82**** *0005"),
        # 19 digits
        ("6212345678901234567", "621234*********4567"),
        # fewer than 10 digits: only the last 4 stay
        ("12345678", "****5678"),
        ("1234", "1234"),
        ("", ""),
    ],
)
def test_mask_card_number(given_number: str, masked: str) -> None:
    assert mask_card_number(given_number) == masked
    assert mask_card_number(masked) == masked


_CARD_CHARS = st.sampled_from("0123456789-* xX#")


@given(st.text(_CARD_CHARS, max_size=30) | st.text(max_size=30))
@settings(max_examples=300, deadline=None)
def test_mask_card_number_never_shows_more_than_first_6_and_last_4(text: str) -> None:
    masked = mask_card_number(text)
    stripped = text.strip()
    assert len(masked) == len(stripped)
    assert mask_card_number(masked) == masked
    # what is shown is what was there, in place
    for before, after in zip(stripped, masked, strict=True):
        assert after in (before, "*")
    shown = sum(char.isdigit() for char in masked)
    assert shown <= 10
    if sum(char.isdigit() or char in "*#xX" for char in stripped) < 10:
        assert shown <= 4
    # a plain number keeps its last 4 digits
    if stripped.isdigit() and stripped.isascii():
        assert masked[-4:] == stripped[-4:]


@pytest.mark.parametrize(
    ("number", "digits", "masked"),
    [
        (PHONE, "01012345678", "010-****-5678"),
        ("01012345678", "01012345678", "010-****-5678"),
        ("+82 10-1234-5678", "01012345678", "010-****-5678"),
        ("+82 010 1234 5678", "01012345678", "010-****-5678"),
        ("0082-10-1234-5678", "01012345678", "010-****-5678"),
        ("０１０-１２３４-５６７８", "01012345678", "010-****-5678"),  # noqa: RUF001 - full width
        ("02-123-4567", "021234567", "02-***-4567"),
        ("02-1234-5678", "0212345678", "02-****-5678"),
        ("031-123-4567", "0311234567", "031-***-4567"),
        ("1588-1234", "15881234", "****1234"),
        ("+1 415 555 0100", "14155550100", "141-****-0100"),
        ("5678", "5678", "5678"),
    ],
)
def test_phone_numbers(number: str, digits: str, masked: str) -> None:
    assert normalise_phone(number) == digits
    assert mask_phone(number) == masked
    assert redact_phone(number) == masked
    assert redact_phone(masked) == masked


def test_redact_and_is_masked() -> None:
    assert is_masked("010-****-5678")
    assert not is_masked(PHONE)
    assert redact_phone("ask at the counter") == "ask at the counter"


def test_hash_phone_is_keyed_and_format_blind() -> None:
    key = "ab" * 32
    expected = hmac.new(key.encode(), b"01012345678", hashlib.sha256).hexdigest()
    assert hash_phone(PHONE, key) == expected
    assert re.fullmatch(r"[0-9a-f]{64}", expected)
    for same in ("01012345678", "+82 10 1234 5678", " 010 1234 5678 "):
        assert hash_phone(same, key) == expected
    assert hash_phone(PHONE, "cd" * 32) != expected
    assert hash_phone("010-1234-5679", key) != expected


@given(st.text(max_size=40))
@settings(max_examples=200, deadline=None)
def test_phone_helpers_take_any_text(text: str) -> None:
    digits = normalise_phone(text)
    assert digits.isascii()
    assert digits == "" or digits.isdigit()
    masked = mask_phone(text)
    # never more than the first 3 and the last 4 digits shown
    assert sum(char.isdigit() for char in masked) <= 7
    assert masked.endswith(digits[-4:])
    assert len(hash_phone(text, "k")) == 64


async def test_store_privacy_key(database, open_engine) -> None:
    keys = []
    for _ in range(2):
        engine: ActionEngine = await open_engine(database.new_url())
        async with engine.engine.connect() as conn:
            keys.append(await store_privacy_key(conn))
    assert all(re.fullmatch(r"[0-9a-f]{64}", key) for key in keys)
    # each store its own secret
    assert keys[0] != keys[1]
    # the same store, reopened, keeps it
    async with engine.engine.connect() as conn:
        assert await store_privacy_key(conn) == keys[1]


async def _key(engine: ActionEngine) -> str:
    async with engine.engine.connect() as conn:
        return await store_privacy_key(conn)


def _whole_values(dump: dict[str, list[tuple[Any, ...]]]) -> str:
    return repr(dump)


async def test_customer_phone_is_kept_masked_and_hashed(
    engine: ActionEngine, act, get, dump
) -> None:
    key = await _key(engine)
    created = await act(
        engine,
        "create_object",
        object_type="Customer",
        key="regular",
        name="단골",
        properties={"phone": PHONE, "loyalty_points": 3},
    )
    customer = await get(engine, created.result["object_id"])
    assert customer.properties == {
        "phone": "010-****-5678",
        "phone_hash": hash_phone(PHONE, key),
        "loyalty_points": 3,
    }
    # nowhere whole: not in the object, not in the audit row of the action
    everything = _whole_values(await dump(engine))
    assert "1234-5678" not in everything
    assert "01012345678" not in everything
    assert "010-****-5678" in everything

    # a form sending back what it showed keeps the hash
    await act(
        engine,
        "update_object",
        object_id="customer.regular",
        name="단골손님",
        properties={"phone": "010-****-5678"},
    )
    assert (await get(engine, "customer.regular")).get("phone_hash") == hash_phone(PHONE, key)
    # a new number: masked and hashed again
    await act(
        engine,
        "update_object",
        object_id="customer.regular",
        properties={"phone": "+82 10 9876 5432"},
    )
    customer = await get(engine, "customer.regular")
    assert customer.get("phone") == "010-****-5432"
    assert customer.get("phone_hash") == hash_phone("01098765432", key)
    assert "9876 5432" not in _whole_values(await dump(engine))
    assert "98765432" not in _whole_values(await dump(engine))
    # a masked number that is not the customer's: nothing to hash it with
    await act(
        engine,
        "update_object",
        object_id="customer.regular",
        properties={"phone": "010-****-1111"},
    )
    customer = await get(engine, "customer.regular")
    assert customer.get("phone") == "010-****-1111"
    assert "phone_hash" not in customer.properties
    # removed: the hash goes with it
    await act(engine, "update_object", object_id="customer.regular", properties={"phone": PHONE})
    await act(engine, "update_object", object_id="customer.regular", properties={"phone": None})
    customer = await get(engine, "customer.regular")
    assert "phone" not in customer.properties
    assert "phone_hash" not in customer.properties

    # created masked (from another system): kept, no hash
    masked = await act(
        engine,
        "create_object",
        object_type="Customer",
        name="손님",
        properties={"phone": "010-****-0000"},
    )
    assert (await get(engine, masked.result["object_id"])).properties == {"phone": "010-****-0000"}
    # a supplier's number is the business's own: kept as given
    supplier = await act(
        engine,
        "create_object",
        object_type="Supplier",
        name="우유 대리점",
        properties={"phone": "02-000-0002"},
    )
    assert (await get(engine, supplier.result["object_id"])).get("phone") == "02-000-0002"


async def test_a_replayed_customer_creation_compares_the_masked_audit(
    engine: ActionEngine, act
) -> None:
    params = {
        "object_type": "Customer",
        "name": "단골",
        "properties": {"phone": PHONE},
    }
    first = await act(engine, "create_object", idempotency_key="c1", **params)
    again = await act(engine, "create_object", idempotency_key="c1", **params)
    assert again.replayed
    assert again.result == first.result
    assert (await engine.replayed("create_object", params, "c1")) is not None
