"""Benchmark: importing a 100,000-row card-sales CSV (read_card_sales + import_card_sales on an
SQLite file) against bare ``csv`` + ``sqlite3`` doing the same job by hand.

    .venv/bin/python benchmarks/card_sales_import.py [--rows 100000] [--rounds 3]

The file is a card-sales portal export made here (UTF-8 with BOM, Korean headers, amounts
written "4,500", 2% cancellations as negative amounts, a 합계 row at the end). Both sides start
from an empty store made by CareOn's migrations (WAL, synchronous=FULL) and do the same work in
one transaction: read every row, turn times into UTC, mask card numbers, key each sale
(approval number, local date, amount, status), look the keys up, insert one Payment object and
one vendor-id row per sale and an audit row with the parameters. The hand-written side knows
the file's layout in advance; CareOn finds the header, accepts every alias and validates every
value. Rounds alternate so both sides share the machine's background load.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
from datetime import UTC, datetime, timedelta
import io
import json
from pathlib import Path
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from custom_components.careon.core import ActionEngine
from custom_components.careon.core.connectors.card_sales import read_card_sales
from custom_components.careon.core.database import sqlite_url

KOREA = ZoneInfo("Asia/Seoul")
HEADER = (
    "승인일시,승인번호,승인금액,승인구분,카드사,매입사,카드번호,할부,단말기번호,가맹점번호,부가세"
)
ISSUERS = [
    "신한카드",
    "KB국민카드",
    "삼성카드",
    "현대카드",
    "BC카드",
    "롯데카드",
    "하나카드",
    "NH농협",
]
PRICES = [3000, 4500, 5000, 5500, 6500, 12000, 15800, 23000]


def make_file(rows: int, seed: int = 7) -> bytes:
    """A month of card sales, ``rows`` of them, as a portal exports it."""
    rnd = random.Random(seed)
    start = datetime(2025, 3, 1, 8, 0)
    step = timedelta(days=31) / rows
    lines = [HEADER]
    total = 0
    for n in range(rows):
        at = start + step * n
        amount = rnd.choice(PRICES) * rnd.randint(1, 3)
        cancelled = rnd.random() < 0.02
        issuer = rnd.choice(ISSUERS)
        signed = -amount if cancelled else amount
        total += signed
        card = f"5365{rnd.randint(10, 99)}******{rnd.randint(1000, 9999)}"
        months = "일시불" if amount < 50000 else "03"
        lines.append(
            f'{at:%Y-%m-%d %H:%M:%S},{n + 1:08d},"{signed:,}",{"취소" if cancelled else "승인"},'
            f'{issuer},{issuer},{card},{months},T0{n % 3 + 1},123456789,"{amount // 11:,}"'
        )
    lines.append(f'합계,,"{total:,}",,,,,,,,')
    return ("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8")


async def careon_import(path: Path, data: bytes) -> tuple[float, float, dict[str, object]]:
    """Seconds to read the file and to import it with the action engine; its result."""
    engine = await ActionEngine.open(sqlite_url(path), timezone="Asia/Seoul")
    try:
        start = time.perf_counter()
        sales = read_card_sales(data, "card_sales.csv", tz=KOREA)
        read_s = time.perf_counter() - start
        start = time.perf_counter()
        result = await engine.execute(
            "import_card_sales",
            {"file_name": "card_sales.csv", "skipped": sales.skipped, "rows": sales.rows},
            actor="bench",
            source="card_import",
        )
        import_s = time.perf_counter() - start
    finally:
        await engine.close()
    return read_s, import_s, result.result


def baseline_import(path: Path, data: bytes) -> tuple[float, int]:
    """Seconds for the same import by hand (csv + sqlite3, one transaction); rows imported."""
    db = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON"):
        db.execute(f"PRAGMA {pragma}")
    start = time.perf_counter()  # like CareOn's side: the database is already open
    reader = csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""))
    next(reader)  # the header: this side knows the layout
    rows = []
    for cells in reader:
        if not cells[0] or cells[0].startswith("합계"):
            continue
        local = datetime.fromisoformat(cells[0]).replace(tzinfo=KOREA)
        amount = int(cells[2].replace(",", ""))
        status = "cancelled" if cells[3] == "취소" or amount < 0 else "approved"
        rows.append(
            {
                "approved_at": local.astimezone(UTC).isoformat(timespec="microseconds"),
                "local_date": local.date().isoformat(),
                "approval_no": cells[1],
                "amount": abs(amount),
                "status": status,
                "issuer": cells[4],
                "acquirer": cells[5],
                "card_no_masked": cells[6][:6] + "*" * (len(cells[6]) - 10) + cells[6][-4:],
                "installment_months": 0 if cells[7] == "일시불" else int(cells[7]),
                "terminal_id": cells[8],
                "merchant_no": cells[9],
                "vat": abs(int(cells[10].replace(",", ""))),
            }
        )
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
    db.execute("BEGIN IMMEDIATE")
    keys = {f"{r['approval_no']}|{r['local_date']}|{r['amount']}|{r['status']}": r for r in rows}
    known: set[str] = set()
    key_list = list(keys)
    for i in range(0, len(key_list), 500):
        chunk = key_list[i : i + 500]
        known.update(
            key
            for (key,) in db.execute(
                "SELECT external_id FROM careon_external_refs WHERE source = 'card_sales' "
                f"AND kind = 'card_sale' AND external_id IN ({','.join('?' * len(chunk))})",
                chunk,
            )
        )
    objects, refs = [], []
    for key, r in keys.items():
        if key in known:
            continue
        object_id = f"payment.{uuid.uuid4().hex}"
        properties = {
            "method": "card",
            "amount": r["amount"],
            "status": r["status"],
            "approval_no": r["approval_no"],
            "source": "card_import",
            "external_id": key,
            "approved_at": r["approved_at"],
            "card": {
                "issuer": r["issuer"],
                "acquirer": r["acquirer"],
                "number": r["card_no_masked"],
                "installment_months": r["installment_months"],
            },
            "raw": {"terminal_id": r["terminal_id"], "merchant_no": r["merchant_no"]},
        }
        name = f"{r['issuer']} {r['approval_no']}"
        objects.append((object_id, name, json.dumps(properties, ensure_ascii=False), now, now))
        refs.append((key, object_id))
    db.executemany(
        "INSERT INTO careon_objects (id, type, name, properties, version, created_at, updated_at) "
        "VALUES (?, 'Payment', ?, ?, 1, ?, ?)",
        objects,
    )
    db.executemany(
        "INSERT INTO careon_external_refs (source, kind, external_id, object_id) "
        "VALUES ('card_sales', 'card_sale', ?, ?)",
        refs,
    )
    db.execute(
        "INSERT INTO careon_audit (action, parameters, actor, source, idempotency_key, result, "
        "reason, created_at) VALUES ('import_card_sales', ?, 'bench', 'card_import', NULL, ?, "
        "NULL, ?)",
        (
            json.dumps({"file_name": "card_sales.csv", "rows": rows}, ensure_ascii=False),
            json.dumps({"imported": len(objects)}),
            now,
        ),
    )
    db.execute("COMMIT")
    db.close()
    return time.perf_counter() - start, len(objects)


async def empty_store(path: Path) -> None:
    """An empty store made by CareOn's migrations (the baseline writes into the same tables)."""
    engine = await ActionEngine.open(sqlite_url(path), timezone="Asia/Seoul")
    await engine.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    data = make_file(args.rows)
    careon_total, careon_read, careon_write, baseline = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for n in range(args.rounds):
            read_s, import_s, result = await careon_import(folder / f"careon{n}.db", data)
            careon_read.append(read_s)
            careon_write.append(import_s)
            careon_total.append(read_s + import_s)
            await empty_store(folder / f"baseline{n}.db")
            seconds, inserted = baseline_import(folder / f"baseline{n}.db", data)
            baseline.append(seconds)
            if result["imported"] != inserted:
                raise SystemExit(f"the two sides disagree: {result} vs {inserted} rows")
    careon_rate = args.rows / statistics.median(careon_total)
    baseline_rate = args.rows / statistics.median(baseline)
    print(
        f"card-sales import, {args.rows} rows ({len(data) / 1e6:.1f} MB CSV, UTF-8 BOM), SQLite "
        f"WAL synchronous=FULL, one transaction, {args.rounds} alternating rounds"
    )
    print(
        f"  CareOn read_card_sales + import_card_sales: {careon_rate:8.0f} rows/s (median of "
        f"{', '.join(f'{t:.2f}' for t in careon_total)} s; read "
        f"{statistics.median(careon_read):.2f} s + import {statistics.median(careon_write):.2f} s)"
    )
    print(
        f"  hand-written csv + sqlite3              : {baseline_rate:8.0f} rows/s (median of "
        f"{', '.join(f'{t:.2f}' for t in baseline)} s)"
    )
    print(f"  ratio hand-written / CareOn: {baseline_rate / careon_rate:.2f}x")
    print(f"  imported {result['imported']} payments, skipped {result['skipped']} (the 합계 row)")


if __name__ == "__main__":
    asyncio.run(main())
