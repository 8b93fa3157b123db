"""Card-sales imports: rows recorded as card Payments, once each (in one file and across files),
with masked card numbers, in one transaction that either takes the whole file or nothing."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event, select

from custom_components.careon.core import ERROR_KEYS, ActionContext, ActionEngine, ValidationError
from custom_components.careon.core.actions.card_sales import card_sale_key
from custom_components.careon.core.privacy import mask_card_number
from custom_components.careon.core.tables import external_refs_table

FILE = "카드매출_202503.csv"


def _row(row: int, approval_no: str, amount: int, **extra: Any) -> dict[str, Any]:
    return {
        "row": row,
        "approved_at": extra.pop("approved_at", "2025-03-01T12:00:00+09:00"),
        "approval_no": approval_no,
        "amount": amount,
        "status": extra.pop("status", "approved"),
        **extra,
    }


async def _payments(engine: ActionEngine) -> dict[str, Any]:
    """Every Payment, by its import key (external_id)."""
    async with engine.reader() as ontology:
        return {p.get("external_id"): p for p in await ontology.by_type("Payment")}


async def _refs(engine: ActionEngine) -> dict[str, str]:
    async with engine.engine.connect() as conn:
        rows = await conn.execute(
            select(external_refs_table).where(
                external_refs_table.c.source == "card_sales",
                external_refs_table.c.kind == "card_sale",
            )
        )
        return {row.external_id: row.object_id for row in rows}


async def test_import_records_each_row_as_a_card_payment(engine: ActionEngine, act) -> None:
    full_number = "9410-1234-5678-1234"
    rows = [
        _row(
            3,
            "00012345",
            12000,
            issuer="신한카드",
            acquirer="신한카드",
            card_no_masked=full_number,
            installment_months=0,
            terminal_id="T01",
            merchant_no="123456789",
            source="NICE",
            vat=1091,
            service_charge=0,
        ),
        _row(4, "00012346", 4500, approved_at="2025-03-01T13:10:00+09:00", issuer="KB국민카드"),
        _row(
            5,
            "00012345",
            12000,
            status="cancelled",
            approved_at="2025-03-01T14:00:00+09:00",
            original_approved_date="20250301",
        ),
    ]
    result = await act(engine, "import_card_sales", via="card_import", file_name=FILE, rows=rows)
    assert result.result == {
        "file_name": FILE,
        "imported": 3,
        "duplicates": 0,
        "skipped": 0,
        "approved_amount": 16500,
        "cancelled_amount": 12000,
    }
    assert [(e.type, dict(e.data)) for e in result.events] == [
        ("card_sales_imported", dict(result.result))
    ]

    payments = await _payments(engine)
    assert set(payments) == {
        "00012345|2025-03-01|12000|approved",
        "00012346|2025-03-01|4500|approved",
        "00012345|2025-03-01|12000|cancelled",
    }
    assert result.created == {p.id for p in payments.values()}
    first = payments["00012345|2025-03-01|12000|approved"]
    assert first.type == "Payment"
    assert first.name == "신한카드 00012345"
    masked = mask_card_number(full_number)
    assert dict(first.properties) == {
        "method": "card",
        "amount": 12000,
        "status": "approved",
        "approval_no": "00012345",
        "source": "card_import",
        "external_id": "00012345|2025-03-01|12000|approved",
        "approved_at": "2025-03-01T03:00:00.000000+00:00",
        "card": {
            "issuer": "신한카드",
            "acquirer": "신한카드",
            "number": masked,
            "installment_months": 0,
        },
        "raw": {
            "file_name": FILE,
            "row": 3,
            "terminal_id": "T01",
            "merchant_no": "123456789",
            "source": "NICE",
            "vat": 1091,
            "service_charge": 0,
        },
    }
    # never more than the first 6 and the last 4 digits of a card number
    assert masked != full_number
    assert sum(c.isdigit() for c in masked) == 10
    assert masked == "9410-12**-****-1234"

    second = payments["00012346|2025-03-01|4500|approved"]
    assert second.name == "KB국민카드 00012346"
    assert second.get("card") == {"issuer": "KB국민카드"}
    cancel = payments["00012345|2025-03-01|12000|cancelled"]
    assert cancel.name == "card 00012345"
    assert (cancel.get("status"), cancel.get("cancelled_amount"), cancel.get("cancelled_at")) == (
        "cancelled",
        12000,
        "2025-03-01T05:00:00.000000+00:00",
    )
    assert cancel.get("card") is None
    assert cancel.get("raw") == {
        "file_name": FILE,
        "row": 5,
        "original_approved_date": "20250301",
    }
    # every row is found again by its key
    assert await _refs(engine) == {key: p.id for key, p in payments.items()}


async def test_duplicates_in_one_file_are_counted_not_written(engine: ActionEngine, act) -> None:
    rows = [
        _row(2, "00000001", 5000),
        _row(3, "00000001", 5000, approved_at="2025-03-01T18:00:00+09:00"),  # same day: dup
        _row(4, "00000001", 5000, status="cancelled"),  # a cancel is another transaction
        _row(5, "00000001", 5500),  # another amount
        # 23:30 and 00:30 in Seoul are two days, though one UTC date
        _row(6, "00000002", 3000, approved_at="2025-03-01T23:30:00+09:00"),
        _row(7, "00000002", 3000, approved_at="2025-03-02T00:30:00+09:00"),
        # 01:00 and 23:00 in Seoul are one day, though two UTC dates: a duplicate
        _row(8, "00000003", 3000, approved_at="2025-03-02T01:00:00+09:00"),
        _row(9, "00000003", 3000, approved_at="2025-03-02T23:00:00+09:00"),
        _row(10, "00000001", 5000),  # dup of row 2 again
    ]
    result = await act(
        engine, "import_card_sales", via="card_import", file_name=FILE, rows=rows, skipped=2
    )
    assert result.result == {
        "file_name": FILE,
        "imported": 6,
        "duplicates": 3,
        "skipped": 2,
        "approved_amount": 5000 + 5500 + 3000 + 3000 + 3000,
        "cancelled_amount": 5000,
    }
    payments = await _payments(engine)
    assert sorted(payments) == [
        "00000001|2025-03-01|5000|approved",
        "00000001|2025-03-01|5000|cancelled",
        "00000001|2025-03-01|5500|approved",
        "00000002|2025-03-01|3000|approved",
        "00000002|2025-03-02|3000|approved",
        "00000003|2025-03-02|3000|approved",
    ]
    # the first row of a key is the one recorded
    assert payments["00000001|2025-03-01|5000|approved"].get("raw")["row"] == 2
    assert payments["00000003|2025-03-02|3000|approved"].get("raw")["row"] == 8


async def test_importing_again_records_only_the_new_rows(engine: ActionEngine, act) -> None:
    march_1 = [_row(n + 2, f"1000{n:04d}", 1000 * (n + 1)) for n in range(4)]
    first = await act(
        engine, "import_card_sales", via="card_import", file_name="a.csv", rows=march_1
    )
    assert (first.result["imported"], first.result["duplicates"]) == (4, 0)
    before = await _payments(engine)

    # the next download covers the same day again and one more
    march_2 = [
        _row(n + 2, f"2000{n:04d}", 700, approved_at="2025-03-02T09:00:00+09:00") for n in range(2)
    ]
    again = await act(
        engine,
        "import_card_sales",
        via="card_import",
        file_name="b.csv",
        rows=[*march_1, *march_2],
    )
    assert again.result == {
        "file_name": "b.csv",
        "imported": 2,
        "duplicates": 4,
        "skipped": 0,
        "approved_amount": 1400,
        "cancelled_amount": 0,
    }
    after = await _payments(engine)
    assert len(after) == 6
    # the rows already there are untouched (same object, same version, still from a.csv)
    for key, payment in before.items():
        assert after[key] == payment
        assert payment.get("raw")["file_name"] == "a.csv"
    assert {after[k].get("raw")["file_name"] for k in set(after) - set(before)} == {"b.csv"}

    # the same file a third time changes nothing
    third = await act(
        engine, "import_card_sales", via="card_import", file_name="b.csv", rows=march_2
    )
    assert (third.result["imported"], third.result["duplicates"]) == (0, 2)
    assert third.created == frozenset()
    assert await _payments(engine) == after


async def test_a_bad_row_rejects_the_whole_file(engine: ActionEngine, act, dump) -> None:
    await act(
        engine, "import_card_sales", via="card_import", file_name="a.csv", rows=[_row(2, "1", 1)]
    )
    before = await dump(engine)
    good = [_row(n + 2, f"3000{n:04d}", 1000) for n in range(3)]
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"status": "maybe"}, "invalid_choice", "rows[3].status"),
        ({"amount": -5}, "out_of_range", "rows[3].amount"),
        ({"amount": "12a"}, "invalid_type", "rows[3].amount"),
        ({"approved_at": "어제"}, "invalid_type", "rows[3].approved_at"),
        ({"approval_no": " "}, "invalid_type", "rows[3].approval_no"),
        ({"approval_no": "9" * 101}, "invalid_type", "rows[3].approval_no"),
        ({"colour": "red"}, "unknown_field", "rows[3].colour"),
    ]
    for change, key, field in cases:
        rows = [*good, {**_row(9, "40000000", 1000), **change}]
        with pytest.raises(ValidationError) as info:
            await act(engine, "import_card_sales", via="card_import", file_name="b.csv", rows=rows)
        assert (info.value.translation_key, info.value.field) == (key, field)
        assert set(ERROR_KEYS[key]) <= set(info.value.placeholders)
        assert await dump(engine) == before
    with pytest.raises(ValidationError) as info:
        await act(engine, "import_card_sales", via="card_import", file_name="c.csv", rows=[])
    assert (info.value.translation_key, info.value.field) == ("empty_list", "rows")
    assert await dump(engine) == before


async def test_a_fault_after_the_writes_leaves_nothing_behind(
    engine: ActionEngine, act, dump
) -> None:
    before = await dump(engine)

    async def fault(ctx: ActionContext) -> None:
        # the payments and their keys are written by now, in the action's transaction
        assert len(ctx.ontology.changes.created) == 1200
        raise RuntimeError("power cut")

    engine.before_commit.append(fault)
    rows = [_row(n + 2, f"{n:08d}", 1000 + n) for n in range(1200)]
    with pytest.raises(RuntimeError):
        await act(engine, "import_card_sales", via="card_import", file_name=FILE, rows=rows)
    engine.before_commit.remove(fault)
    assert await dump(engine) == before
    # and the file goes in whole once the fault is gone
    result = await act(engine, "import_card_sales", via="card_import", file_name=FILE, rows=rows)
    assert (result.result["imported"], result.result["duplicates"]) == (1200, 0)


async def test_a_large_import_takes_a_few_statements_not_one_per_row(
    engine: ActionEngine, act
) -> None:
    known = [_row(n + 2, f"{n:08d}", 1000) for n in range(700)]
    await act(engine, "import_card_sales", via="card_import", file_name="a.csv", rows=known)
    statements: list[tuple[str, bool]] = []

    def count(
        conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> None:
        statements.append((statement.split()[0].upper(), many))

    sync_engine = engine.engine.sync_engine
    event.listen(sync_engine, "before_cursor_execute", count)
    try:
        rows = [*known, *(_row(n + 2, f"{n:08d}", 2000) for n in range(2300))]
        result = await act(
            engine, "import_card_sales", via="card_import", file_name="b.csv", rows=rows
        )
    finally:
        event.remove(sync_engine, "before_cursor_execute", count)
    assert (result.result["imported"], result.result["duplicates"]) == (2300, 700)
    # 3000 distinct keys looked up 500 at a time; payments and keys inserted in one batch each;
    # the audit row (and PostgreSQL's writer lock)
    selects = [s for s in statements if s[0] == "SELECT"]
    inserts = [s for s in statements if s[0] == "INSERT"]
    assert len(selects) <= 6 + 1
    assert len(inserts) == 3
    assert sum(many for _, many in inserts) == 2
    assert len(statements) <= 12
    assert len(await _payments(engine)) == 3000


def test_the_key_uses_the_stores_local_date() -> None:
    from zoneinfo import ZoneInfo

    row = {"approval_no": "0042", "amount": 100, "status": "cancelled"}
    seoul = ZoneInfo("Asia/Seoul")
    assert (
        card_sale_key({**row, "approved_at": "2025-03-01T15:30:00.000000+00:00"}, seoul)
        == "0042|2025-03-02|100|cancelled"
    )
    assert (
        card_sale_key({**row, "approved_at": "2025-03-01T14:30:00.000000+00:00"}, seoul)
        == "0042|2025-03-01|100|cancelled"
    )
