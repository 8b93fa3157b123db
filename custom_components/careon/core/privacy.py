"""Personal data kept only as far as the store needs it: card numbers masked, phone numbers
masked for people and hashed with the store's secret key for finding a customer again.

Nothing here logs or keeps what it is given.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from .database import PRIVACY_KEY
from .errors import StoreUnavailableError
from .tables import meta_table

MASK = "*"
# what vendors and card-sales exports write for a digit they hide; x/X only in a number with
# no other letters (not the X of "AMEX")
_MASK_CHARACTERS = frozenset("*#•●")
_MASK_LETTERS = frozenset("xX")
# a card number keeps its first 6 digits (the issuer's BIN) and its last 4, no more
_CARD_HEAD = 6
_CARD_TAIL = 4
_CARD_SHORTEST = _CARD_HEAD + _CARD_TAIL
_PHONE_TAIL = 4
_SEOUL_AREA_CODE = "02"
_KOREA_CALLING_CODE = "82"


def mask_card_number(text: str) -> str:
    """A card number with every digit but the first 6 and the last 4 replaced by ``*``.

    Separators stay where they are; a digit that is already hidden (``*``, ``x``, ``#``…)
    stays hidden (as ``*``). A number of fewer than 10 digits keeps only its last 4.
    ``5365-1012-3456-7890`` -> ``5365-10**-****-7890``.
    """
    text = text.strip()
    hidden = _MASK_CHARACTERS
    if not any(char.isalpha() and char not in _MASK_LETTERS for char in text):
        hidden = hidden | _MASK_LETTERS
    positions = [i for i, char in enumerate(text) if char.isdigit() or char in hidden]
    count = len(positions)
    head = _CARD_HEAD if count >= _CARD_SHORTEST else 0
    keep = {*positions[:head], *positions[max(count - _CARD_TAIL, 0) :]}
    chars = list(text)
    for position in positions:
        if position not in keep or chars[position] in hidden:
            chars[position] = MASK
    return "".join(chars)


def normalise_phone(text: str) -> str:
    """The digits of a phone number, in the national form: ``+82 10-1234-5678`` ->
    ``01012345678``."""
    stripped = text.strip()
    # any script's digits (full-width ones typed on a phone) count as their ASCII digit
    digits = "".join(str(unicodedata.digit(char)) for char in stripped if char.isdigit())
    if stripped.startswith(("+", "00")):
        international = digits.removeprefix("00")
        if international.startswith(_KOREA_CALLING_CODE):
            national = international[len(_KOREA_CALLING_CODE) :]
            return national if national.startswith("0") else f"0{national}"
    return digits


def mask_phone(text: str) -> str:
    """A phone number with its middle hidden: ``010-1234-5678`` -> ``010-****-5678``,
    ``02-123-4567`` -> ``02-***-4567``. Too short to have a middle: all but the last 4."""
    digits = normalise_phone(text)
    tail = digits[-_PHONE_TAIL:]
    prefix_length = len(_SEOUL_AREA_CODE) if digits.startswith(_SEOUL_AREA_CODE) else 3
    middle = len(digits) - prefix_length - _PHONE_TAIL
    if middle < 3:
        hidden = max(len(digits) - _PHONE_TAIL, 0)
        return f"{MASK * hidden}{tail}"
    return f"{digits[:prefix_length]}-{MASK * middle}-{tail}"


def redact_phone(text: str) -> str:
    """What may be kept of a phone number where only people read it (an audit row): masked,
    unless it is masked already or has no digits to hide."""
    return text if is_masked(text) or not normalise_phone(text) else mask_phone(text)


def is_masked(text: str) -> bool:
    """True for a value that already hides something (``010-****-5678``)."""
    return MASK in text


def phone_tail(text: str) -> str:
    """The last 4 digits of a phone number (what a receipt shows)."""
    return normalise_phone(text)[-_PHONE_TAIL:]


def hash_phone(text: str, key: str) -> str:
    """The hex HMAC-SHA256 of a phone number's digits (``normalise_phone``) with the store's
    secret ``key``: the same number always hashes the same in one store, and the hash cannot
    be reversed without the key."""
    return hmac.new(
        key.encode("utf-8"), normalise_phone(text).encode("utf-8"), hashlib.sha256
    ).hexdigest()


async def store_privacy_key(conn: AsyncConnection) -> str:
    """The store's secret key for ``hash_phone`` (made by migration 4)."""
    value = await conn.scalar(select(meta_table.c.value).where(meta_table.c.key == PRIVACY_KEY))
    if not isinstance(value, str) or not value:
        raise StoreUnavailableError("the store's privacy key is missing")
    return value
