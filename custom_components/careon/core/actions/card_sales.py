"""Card-sales imports: the rows of a VAN or card-sales portal export, already read from the file
(core/connectors/card_sales.py), recorded as card Payments in one transaction.

A row is one card transaction: an approval, or the cancellation of one. The same row delivered
twice (in one file, or in a file imported again with more days) is recognised by its key,
``{approval_no}|{local date}|{amount}|{status}``, and counted as a duplicate, never recorded
twice. The import reads the known keys in chunks and writes every new Payment and its key in two
statements, so a file of 100,000 rows costs a few hundred statements, not one per row.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
import hashlib
import json
from typing import Any
import uuid

from ..engine import ActionContext, ActionType
from ..errors import ValidationError
from ..fields import Field
from ..ontology import new_object_id
from ..privacy import mask_card_number

PAYMENT = "Payment"
# ext-ref source and kind of an imported row (the card-sales connector's id)
CARD_SALES_SOURCE = "card_sales"
CARD_SALE_KIND = "card_sale"
# Payment.source of imported rows (also the engine source the HA layer runs the import with)
CARD_IMPORT = "card_import"
ROW_STATUSES = ("approved", "cancelled")
# the key (approval number, date, amount, status) must fit the vendor-id column (200)
MAX_APPROVAL_NO = 100

# what the file says beside the payment itself: kept with the payment for the owner to look up
_RAW_KEYS = (
    "terminal_id",
    "merchant_no",
    "source",
    "original_approved_date",
    "vat",
    "service_charge",
)


def audited_import(params: dict[str, Any]) -> dict[str, Any]:
    """What the audit keeps of an import: the file, the row count and a digest of the rows.

    The rows themselves become Payments (each with its file and row number); keeping them
    again in the audit would store a large file twice. The digest still tells a retried import
    of the same rows from one of other rows (idempotency keys compare it).
    """
    digest = hashlib.sha256(
        json.dumps(params["rows"], sort_keys=True, ensure_ascii=False, default=str).encode()
    ).hexdigest()
    return {
        "file_name": params["file_name"],
        "skipped": params["skipped"],
        "rows": len(params["rows"]),
        "rows_sha256": digest,
    }


ROW = {
    "row": Field(kind="integer", required=True, min=1),
    "approved_at": Field(kind="datetime", required=True),
    "approval_no": Field(kind="string", required=True),
    "amount": Field(kind="money", required=True, min=0),
    "status": Field(kind="string", required=True, choices=ROW_STATUSES),
    "issuer": Field(kind="string"),
    "acquirer": Field(kind="string"),
    "card_no_masked": Field(kind="string"),
    "terminal_id": Field(kind="string"),
    "merchant_no": Field(kind="string"),
    "source": Field(kind="string"),
    "installment_months": Field(kind="integer", min=0),
    "original_approved_date": Field(kind="string"),
    "vat": Field(kind="money"),
    "service_charge": Field(kind="money"),
}


def card_sale_key(row: dict[str, Any], tz: tzinfo) -> str:
    """The key that makes a row the same sale again: approval number, the store-local date of
    the transaction, amount and status (``approved_at`` as validated: UTC ISO 8601)."""
    local_date = datetime.fromisoformat(row["approved_at"]).astimezone(tz).date()
    return f"{row['approval_no']}|{local_date.isoformat()}|{row['amount']}|{row['status']}"


def _payment_properties(
    row: dict[str, Any], key: str, file_name: str, masked: dict[str, str]
) -> dict[str, Any]:
    card: dict[str, Any] = {}
    for name in ("issuer", "acquirer"):
        if row.get(name) is not None:
            card[name] = row[name]
    if (number := row.get("card_no_masked")) is not None:
        # a portal export may hold the full number: never store more than 6 + 4 digits
        # (masked once per distinct number: an export repeats the same masked numbers)
        if number not in masked:
            masked[number] = mask_card_number(number)
        card["number"] = masked[number]
    if row.get("installment_months") is not None:
        card["installment_months"] = row["installment_months"]
    properties: dict[str, Any] = {
        "method": "card",
        "amount": row["amount"],
        "status": row["status"],
        "approval_no": row["approval_no"],
        "source": CARD_IMPORT,
        "external_id": key,
        "approved_at": row["approved_at"],
        "raw": {
            "file_name": file_name,
            "row": row["row"],
            **{name: row[name] for name in _RAW_KEYS if row.get(name) is not None},
        },
    }
    if card:
        properties["card"] = card
    if row["status"] == "cancelled":
        # a cancel row is the cancellation itself: its time and amount are the cancelled ones
        properties["cancelled_amount"] = row["amount"]
        properties["cancelled_at"] = row["approved_at"]
    return properties


async def import_card_sales(ctx: ActionContext, params: dict[str, Any]) -> dict[str, Any]:
    """Record the rows of one card-sales file as card Payments; skip rows already recorded."""
    ontology = ctx.ontology
    file_name = params["file_name"]
    rows = params["rows"]
    for index, row in enumerate(rows):
        if len(row["approval_no"]) > MAX_APPROVAL_NO:
            raise ValidationError(
                "invalid_type",
                field=f"rows[{index}].approval_no",
                expected=f"an approval number of at most {MAX_APPROVAL_NO} characters",
            )
    keyed = [(card_sale_key(row, ctx.timezone), row) for row in rows]
    known = await ontology.find_external(
        CARD_SALES_SOURCE, CARD_SALE_KIND, {key for key, _ in keyed}
    )
    new: dict[str, tuple[str, dict[str, Any]]] = {}
    duplicates = 0
    approved_amount = cancelled_amount = 0
    # ids: one random prefix per import and a counter (a uuid per row costs more than the row)
    prefix = uuid.uuid4().hex[:24]
    for key, row in keyed:
        if key in known or key in new:
            duplicates += 1
            continue
        payment_id = new_object_id(PAYMENT, f"{prefix}{len(new):08x}")
        new[key] = (payment_id, row)
        if row["status"] == "approved":
            approved_amount += row["amount"]
        else:
            cancelled_amount += row["amount"]
    masked: dict[str, str] = {}
    await ontology.create_many(
        [
            (
                PAYMENT,
                payment_id,
                f"{row.get('issuer') or 'card'} {row['approval_no']}",
                _payment_properties(row, key, file_name, masked),
            )
            for key, (payment_id, row) in new.items()
        ]
    )
    await ontology.add_external(
        CARD_SALES_SOURCE, CARD_SALE_KIND, {key: payment_id for key, (payment_id, _) in new.items()}
    )
    summary = {
        "file_name": file_name,
        "imported": len(new),
        "duplicates": duplicates,
        "skipped": params["skipped"],
        "approved_amount": approved_amount,
        "cancelled_amount": cancelled_amount,
    }
    ctx.emit("card_sales_imported", **summary)
    return summary


CARD_SALES_ACTIONS = (
    ActionType(
        name="import_card_sales",
        params={
            "file_name": Field(kind="string", required=True),
            # rows the reader passed over (total and subtotal lines, rows without a date)
            "skipped": Field(kind="integer", default=0, min=0),
            "rows": Field(kind="records", required=True, fields=ROW, min_items=1),
        },
        apply=import_card_sales,
        redact=audited_import,
    ),
)
