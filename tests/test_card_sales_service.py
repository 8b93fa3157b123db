"""Tests of the import_card_sales service: a real file in an allowed folder, read and imported
into the store, with its translated refusals, its owner-only rule and its quiet logs."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import ServiceValidationError, Unauthorized
import openpyxl
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events

from custom_components.careon.const import DOMAIN
from custom_components.careon.core import StoreObject

from .conftest import async_call_careon, get_state

pytestmark = pytest.mark.usefixtures("init_integration")

UNRECONCILED = "sensor.careon_cafe_unreconciled_payments"
FULL_CARD = "9410123456785678"
HEADER = "승인일시,승인번호,승인금액,승인구분,카드사,매입사,카드번호,할부"
ROWS = [
    f'2025-04-20 12:03:00,00012345,"5,000",승인,신한카드,신한카드,{FULL_CARD},일시불',
    "2025-04-20 15:30:00,00012346,3800원,승인,KB국민카드,KB국민카드,4518-42**-****-1234,3",
    "2025-04-20 16:00:00,00012347,9900,승인,삼성카드,삼성카드,5365-10**-****-9999,0",
    "2025-04-20 18:00:00,00012346,3800,취소,KB국민카드,KB국민카드,4518-42**-****-1234,3",
    "합계,,22500,,,,,",
]


@pytest.fixture
def sales_dir(hass: HomeAssistant, tmp_path: Path) -> Path:
    """A folder Home Assistant may read files from."""
    folder = tmp_path / "card_sales"
    folder.mkdir()
    hass.config.allowlist_external_dirs = {str(folder)}
    return folder


def _csv(folder: Path, name: str, rows: list[str], encoding: str = "cp949") -> Path:
    path = folder / name
    path.write_bytes("\r\n".join([HEADER, *rows, ""]).encode(encoding))
    return path


async def _payments(entry: MockConfigEntry) -> list[StoreObject]:
    async with entry.runtime_data.engine.reader() as ontology:
        return await ontology.by_type("Payment")


async def _import(
    hass: HomeAssistant, entry: MockConfigEntry, file: Path | str, **data: Any
) -> dict[str, Any]:
    return await async_call_careon(hass, entry, "import_card_sales", file=str(file), **data)


async def _refused(
    hass: HomeAssistant, entry: MockConfigEntry, **data: Any
) -> ServiceValidationError:
    with pytest.raises(ServiceValidationError) as err:
        await async_call_careon(hass, entry, "import_card_sales", **data)
    assert err.value.translation_domain == DOMAIN
    return err.value


async def test_import_card_sales(
    hass: HomeAssistant, init_integration: MockConfigEntry, sales_dir: Path
) -> None:
    """A CP949 export becomes card payments, counted in the response and the sensor; a file
    imported again adds nothing."""
    entry = init_integration
    imported_events = async_capture_events(hass, "careon_card_sales_imported")
    assert get_state(hass, UNRECONCILED).state == "0"

    path = _csv(sales_dir, "2025-04.csv", ROWS)
    response = await _import(hass, entry, path)
    assert response == {
        "file_name": "2025-04.csv",
        "imported": 4,
        "duplicates": 0,
        "skipped": 1,
        "approved_amount": 5000 + 3800 + 9900,
        "cancelled_amount": 3800,
        "replayed": False,
    }
    payments = {p.get("approval_no") + p.get("status"): p for p in await _payments(entry)}
    assert set(payments) == {
        "00012345approved",
        "00012346approved",
        "00012347approved",
        "00012346cancelled",
    }
    first = payments["00012345approved"]
    assert first.get("method") == "card"
    assert first.get("source") == "card_import"
    assert first.get("amount") == 5000
    assert first.get("approved_at") == "2025-04-20T03:03:00.000000+00:00"
    assert first.get("card")["number"] == "941012******5678"
    assert first.get("card")["issuer"] == "신한카드"
    assert first.get("card")["installment_months"] == 0
    assert payments["00012346approved"].get("card")["installment_months"] == 3
    # three approvals wait for their orders
    assert get_state(hass, UNRECONCILED).state == "3"
    assert [event.data["imported"] for event in imported_events] == [4]
    assert imported_events[0].data["entry_id"] == entry.entry_id

    # The next export overlaps: only the new day's sale is imported.
    more = _csv(
        sales_dir,
        "2025-04-b.csv",
        [*ROWS[:2], "2025-04-21 09:10:00,00012400,4500,승인,현대카드,현대카드,,00"],
        encoding="utf-8-sig",
    )
    response = await _import(hass, entry, more)
    assert (response["imported"], response["duplicates"], response["skipped"]) == (1, 2, 0)
    assert response["approved_amount"] == 4500
    assert len(await _payments(entry)) == 5
    assert get_state(hass, UNRECONCILED).state == "4"


async def test_import_excel(
    hass: HomeAssistant, init_integration: MockConfigEntry, sales_dir: Path
) -> None:
    """An Excel export is read by its content, not its name; a relative path starts at the
    configuration folder."""
    hass.config.config_dir = str(sales_dir.parent / "config")
    config_sales = Path(hass.config.path("card_sales"))
    config_sales.mkdir(parents=True)
    hass.config.allowlist_external_dirs = {str(sales_dir), str(config_sales)}
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    for line in (HEADER, *ROWS[:2]):
        sheet.append(line.replace('"5,000"', "5000").split(","))
    workbook.save(config_sales / "export.xlsx")

    response = await _import(hass, init_integration, "card_sales/export.xlsx")
    assert (response["file_name"], response["imported"]) == ("export.xlsx", 2)
    assert sorted(p.get("amount") for p in await _payments(init_integration)) == [3800, 5000]


async def test_import_refused(
    hass: HomeAssistant, init_integration: MockConfigEntry, sales_dir: Path, tmp_path: Path
) -> None:
    """Files outside the allowed folders, missing files and bad rows are refused, translated;
    a refused file writes nothing."""
    entry = init_integration
    outside = _csv(tmp_path, "outside.csv", ROWS)
    err = await _refused(hass, entry, file=str(outside))
    assert err.translation_key == "file_not_allowed"
    assert err.translation_placeholders["file"] == str(outside)
    # not even whether a file exists out there
    err = await _refused(hass, entry, file=str(tmp_path / "missing.csv"))
    assert err.translation_key == "file_not_allowed"

    for missing in (sales_dir / "missing.csv", sales_dir):
        err = await _refused(hass, entry, file=str(missing))
        assert err.translation_key == "file_not_found"
        assert err.translation_placeholders["file"] == str(missing)

    # a NUL names no file; a name too long to exist is not found, and the message shows its end
    err = await _refused(hass, entry, file=f"{sales_dir}/sales\0.csv")
    assert err.translation_key == "file_not_allowed"
    err = await _refused(hass, entry, file=f"{sales_dir}/{'매출' * 2500}.csv")
    assert err.translation_key == "file_not_found"
    assert len(err.translation_placeholders["file"]) == 201
    assert err.translation_placeholders["file"].endswith("매출.csv")

    err = await _refused(hass, entry)
    assert err.translation_key == "missing_field"
    assert err.translation_placeholders == {"field": "file"}

    bad = _csv(sales_dir, "bad.csv", [*ROWS[:2], "2025-04-20 17:00:00,00012399,많이,승인,,,,"])
    err = await _refused(hass, entry, file=str(bad))
    assert err.translation_key == "card_sales_invalid_value"
    assert err.translation_placeholders["row"] == "4"
    assert err.translation_placeholders["column"] == "승인금액"
    assert err.translation_placeholders["value"] == "많이"

    empty = _csv(sales_dir, "empty.csv", ["합계,,0,,,,,"])
    err = await _refused(hass, entry, file=str(empty))
    assert err.translation_key == "card_sales_no_rows"

    assert await _payments(entry) == []
    assert get_state(hass, UNRECONCILED).state == "0"


async def test_import_is_for_administrators(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    sales_dir: Path,
    hass_read_only_user,
    hass_admin_user,
) -> None:
    """Importing the store's books is the owner's decision."""
    path = _csv(sales_dir, "2025-04.csv", ROWS)
    with pytest.raises(Unauthorized):
        await _import(hass, init_integration, path, context=Context(user_id=hass_read_only_user.id))
    assert await _payments(init_integration) == []

    action_events = async_capture_events(hass, "careon_action")
    response = await _import(
        hass, init_integration, path, context=Context(user_id=hass_admin_user.id)
    )
    assert response["imported"] == 4
    [action] = [e for e in action_events if e.data["action"] == "import_card_sales"]
    assert action.data["actor"] == f"user:{hass_admin_user.id}"
    assert action.data["source"] == "card_import"
    assert action.context.user_id == hass_admin_user.id


async def test_import_logs_no_card_number(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    sales_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Neither a full card number nor its hidden digits reach the logs, even at debug level."""
    caplog.set_level(logging.DEBUG)
    path = _csv(sales_dir, "2025-04.csv", ROWS)
    await _import(hass, init_integration, path)
    bad = _csv(sales_dir, "bad.csv", [f"2025-04-20 17:00:00,1,x,승인,,,{FULL_CARD},"])
    await _refused(hass, init_integration, file=str(bad))
    assert caplog.records  # debug logging was on
    assert FULL_CARD not in caplog.text
    assert FULL_CARD[4:] not in caplog.text
