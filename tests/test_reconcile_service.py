"""Tests of the reconcile service: a business day of orders and imported card sales matched,
what is left listed, the card settlement summed, and the unreconciled-payments sensor."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import ServiceValidationError
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events

from custom_components.careon.const import DOMAIN

from .conftest import async_call_careon, get_state, store_entry

UNRECONCILED = "sensor.careon_cafe_unreconciled_payments"
HEADER = "승인일시,승인번호,승인금액,승인구분,카드사,매입사,카드번호,할부"
# The card terminal's export of 20 April (a bar-like day: open until after midnight)
CARD_SALES = [
    "2025-04-20 12:03:00,00012345,5000,승인,신한카드,신한카드,4040-12**-****-1111,0",
    "2025-04-20 15:30:00,00012346,3800,승인,KB국민카드,KB국민카드,4518-42**-****-1234,0",
    "2025-04-20 16:00:00,00012347,9900,승인,삼성카드,삼성카드,5365-10**-****-9999,0",
    "2025-04-20 18:00:00,00012346,3800,취소,KB국민카드,KB국민카드,4518-42**-****-1234,0",
    # after midnight, before the day starts again at 5
    "2025-04-21 01:02:00,00012350,5000,승인,신한카드,비씨카드,4040-12**-****-2222,0",
    # the next business day
    "2025-04-21 06:00:00,00012360,4500,승인,현대카드,현대카드,,0",
]


@pytest.fixture
def mock_config_entry(store_path: Path) -> MockConfigEntry:
    """The store's business day starts at 5 in the morning."""
    return store_entry(store_path, day_start_hour=5)


async def _order(
    hass: HomeAssistant, entry: MockConfigEntry, product: str, placed_at: str, number: str
) -> str:
    placed = await async_call_careon(
        hass,
        entry,
        "place_order",
        lines=[{"product": product}],
        placed_at=placed_at,
        number=number,
    )
    return str(placed["order_id"])


async def _import_day(hass: HomeAssistant, entry: MockConfigEntry, folder: Path) -> None:
    folder.mkdir(exist_ok=True)
    hass.config.allowlist_external_dirs = {str(folder)}
    path = folder / "2025-04-20.csv"
    path.write_bytes("\n".join([HEADER, *CARD_SALES]).encode("cp949"))
    response = await async_call_careon(hass, entry, "import_card_sales", file=str(path))
    assert response["imported"] == len(CARD_SALES)


async def _reconcile(hass: HomeAssistant, entry: MockConfigEntry, **data: Any) -> dict[str, Any]:
    return await async_call_careon(hass, entry, "reconcile", **data)


async def test_reconcile_business_day(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    tmp_path: Path,
    hass_read_only_user,
) -> None:
    """The day's card sales are matched to its orders by amount and time; the rest is listed
    and the settlement counts each card sale once."""
    entry = init_integration
    latte = await _order(hass, entry, "product.latte_hot", "2025-04-20T12:00:00+09:00", "A-1")
    croissant = await _order(hass, entry, "product.croissant", "2025-04-20T15:28:00+09:00", "A-2")
    cheesecake = await _order(hass, entry, "product.cheesecake", "2025-04-20T17:00:00+09:00", "A-3")
    late_latte = await _order(hass, entry, "product.latte_hot", "2025-04-21T01:00:00+09:00", "A-4")
    await _import_day(hass, entry, tmp_path / "sales")
    assert get_state(hass, UNRECONCILED).state == "5"
    reconciled_events = async_capture_events(hass, "careon_reconciled")

    # anyone on the staff may reconcile
    response = await _reconcile(
        hass, entry, date="2025-04-20", context=Context(user_id=hass_read_only_user.id)
    )
    assert response["start"] == "2025-04-19T20:00:00.000000+00:00"
    assert response["end"] == "2025-04-20T20:00:00.000000+00:00"
    assert response["matched"] == {"reference": 0, "approval_no": 0, "amount": 3}
    assert [p["approval_no"] for p in response["unmatched_payments"]] == ["00012347"]
    assert response["unmatched_payments"][0]["amount"] == 9900
    assert response["unmatched_payments"][0]["source"] == "card_import"
    assert [o["order_id"] for o in response["orders_without_payment"]] == [cheesecake]
    assert response["orders_without_payment"][0]["number"] == "A-3"
    assert response["orders_without_payment"][0]["total"] == 6500
    settlement = response["settlement"]
    assert (settlement["card_approved"], settlement["card_cancelled"], settlement["card_net"]) == (
        5000 + 3800 + 9900 + 5000,
        3800,
        5000 + 9900 + 5000,
    )
    issuers = {row["issuer"]: row for row in settlement["by_issuer"]}
    assert issuers["KB국민카드"] == {
        "issuer": "KB국민카드",
        "count": 2,
        "approved": 3800,
        "cancelled": 3800,
        "net": 0,
    }
    assert issuers["신한카드"]["approved"] == 10000
    assert "현대카드" not in issuers  # the next business day
    acquirers = {row["acquirer"]: row["approved"] for row in settlement["by_acquirer"]}
    assert acquirers["비씨카드"] == 5000
    assert response["replayed"] is False

    # the next day's sale and the unmatched one still wait
    assert get_state(hass, UNRECONCILED).state == "2"
    [event] = reconciled_events
    assert event.data["matched"] == {"reference": 0, "approval_no": 0, "amount": 3}
    assert event.data["unmatched_payments"] == 1
    assert event.context.user_id == hass_read_only_user.id

    async with entry.runtime_data.engine.reader() as ontology:
        payments = {p.id: p for p in await ontology.by_type("Payment")}
        paid = {
            link.target_id: payments[link.source_id].get("approval_no")
            for link in await ontology.links_from(payments, "pays")
        }
    matched_by = {p.get("matched_by") for p in payments.values()}
    assert paid == {latte: "00012345", croissant: "00012346", late_latte: "00012350"}
    assert matched_by == {"amount", None}

    # Again: nothing more to match.
    again = await _reconcile(hass, entry, date="2025-04-20", window_minutes=30)
    assert again["matched"] == {"reference": 0, "approval_no": 0, "amount": 0}
    assert [p["approval_no"] for p in again["unmatched_payments"]] == ["00012347"]


async def test_reconcile_period(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    tmp_path: Path,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Without a date, today's business day; a start or an end replaces the day's bound."""
    entry = init_integration
    await _import_day(hass, entry, tmp_path / "sales")

    # 2025-04-21 03:00 in Seoul is still the business day of the 20th
    freezer.move_to("2025-04-20T18:00:00+00:00")
    today = await _reconcile(hass, entry)
    assert (today["start"], today["end"]) == (
        "2025-04-19T20:00:00.000000+00:00",
        "2025-04-20T20:00:00.000000+00:00",
    )
    assert len(today["unmatched_payments"]) == 4

    evening = await _reconcile(hass, entry, date="2025-04-20", start="2025-04-20T15:00:00")
    assert evening["start"] == "2025-04-20T06:00:00.000000+00:00"
    assert evening["end"] == "2025-04-20T20:00:00.000000+00:00"
    assert [p["approval_no"] for p in evening["unmatched_payments"]] == [
        "00012346",
        "00012347",
        "00012350",
    ]
    span = await _reconcile(
        hass, entry, start="2025-04-21T00:00:00+09:00", end="2025-04-22T00:00:00+09:00"
    )
    assert [p["approval_no"] for p in span["unmatched_payments"]] == ["00012350", "00012360"]


async def test_reconcile_refused(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    """A period that ends before it starts and a date that is no date are refused, translated."""
    with pytest.raises(ServiceValidationError) as err:
        await _reconcile(
            hass,
            init_integration,
            start="2025-04-21T00:00:00+09:00",
            end="2025-04-20T00:00:00+09:00",
        )
    assert err.value.translation_domain == DOMAIN
    assert err.value.translation_key == "invalid_period"
    assert err.value.translation_placeholders["start"] == "2025-04-20T15:00:00.000000+00:00"

    with pytest.raises(ServiceValidationError) as err:
        await _reconcile(hass, init_integration, date="20 April")
    assert err.value.translation_key == "invalid_type"
    assert err.value.translation_placeholders == {
        "field": "date",
        "expected": "a date (YYYY-MM-DD)",
    }

    # dates that leave the calendar in the store's time zone, and times likewise
    for bounds in (
        {"date": "0001-01-01"},
        {"date": "9999-12-31"},
        {"start": "9999-12-31T23:00:00"},
    ):
        with pytest.raises(ServiceValidationError) as err:
            await _reconcile(hass, init_integration, **bounds)
        assert err.value.translation_key == "out_of_range"
        assert err.value.translation_placeholders["field"] == next(iter(bounds))

    with pytest.raises(ServiceValidationError) as err:
        await _reconcile(hass, init_integration, date="2025-04-20", window_minutes=2000)
    assert err.value.translation_key == "out_of_range"
    assert err.value.translation_placeholders["field"] == "window_minutes"
