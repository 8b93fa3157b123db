"""What CareOn logs while vendors deliver webhooks and a card-sales file is imported: never a
key, a webhook secret, a full card number or a phone number, even at debug level."""

from __future__ import annotations

import logging
from pathlib import Path

from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.careon.const import DOMAIN
from custom_components.careon.core.connectors import nice, toss_place
from tests.fakes.nice import FakeNice
from tests.fakes.toss_place import FakeTossPlace

from .conftest import store_entry
from .connector_helpers import (
    NICE_WEBHOOK_ID,
    TOSS_WEBHOOK_ID,
    async_post,
    async_sales,
    async_setup_store,
    nice_subentry,
    toss_subentry,
)

TOSS_KEYS = {
    "access_key": "ak-7Qm2Vx9LrT4p",
    "secret_key": "sk-Hf83KdPq01Zw",
    "webhook_secret": "whsec-Ub5Ny2Lc8Re",
}
NICE_KEYS = {"client_key": "S2_ck-Jt6Wq3Ms9Ya", "secret_key": "nsk-Pz4Xe7Gb1Cv"}
TOSS_CARD = "9490131234562468"
NICE_CARD = "5361129876541357"
PHONE = "010-7341-2958"


@pytest.mark.usefixtures("socket_enabled")
async def test_nothing_secret_is_logged(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    demo_store: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Signed and refused webhooks of both vendors, and an import, log nothing secret."""
    caplog.set_level(logging.DEBUG)
    async with FakeTossPlace(**TOSS_KEYS) as toss, FakeNice(**NICE_KEYS) as nice_fake:
        monkeypatch.setattr(toss_place, "TOSS_PLACE_API_URL", toss.url)
        monkeypatch.setitem(nice.NICE_HOSTS, "sandbox", nice_fake.url)
        entry = await async_setup_store(
            hass, store_entry(demo_store, [toss_subentry(toss), nice_subentry(nice_fake)])
        )
        client = await hass_client_no_auth()

        # Toss Place: an order paid by card (the full number, as a careless POS might send
        # it), completed; one delivery with a wrong signature
        order = toss.add_order(["latte_hot"])
        toss.pay(
            order["id"],
            card={
                "cardType": "CREDIT",
                "cardBrand": "신한",
                "cardNo": TOSS_CARD,
                "acquirer": "신한",
                "installmentMonth": "00",
            },
        )
        toss.complete(order["id"])
        statuses = [
            (await async_post(client, TOSS_WEBHOOK_ID, headers, body))[0]
            for headers, body in toss.take_deliveries()
        ]
        assert statuses == [200, 200, 200]
        headers, body = toss.webhook(
            "payment.payment.approved.v1", {"payment": {"id": "1"}}, secret="not-the-secret"
        )
        assert (await async_post(client, TOSS_WEBHOOK_ID, headers, body))[0] == 401

        # NICE: a payment with the buyer's phone number and a full card number; one
        # delivery signed with another secret
        paid = nice_fake.add_payment(card_num=NICE_CARD)
        nice_fake.payments[paid["tid"]]["buyerTel"] = PHONE
        nice_fake.resign(paid["tid"])
        headers, body = nice_fake.webhook(paid["tid"])
        assert await async_post(client, NICE_WEBHOOK_ID, headers, body) == (200, "OK")
        headers, body = nice_fake.webhook(paid["tid"], form=True, secret="not-the-secret")
        assert (await async_post(client, NICE_WEBHOOK_ID, headers, body))[0] == 401

        # a card-sales export with full card numbers
        hass.config.allowlist_external_dirs = {str(tmp_path)}
        export = tmp_path / "card_sales.csv"
        export.write_bytes(
            "승인일시,승인번호,승인금액,승인구분,카드번호\n"
            f"2025-04-20 12:03:00,00012345,5000,승인,{TOSS_CARD}\n"
            f"2025-04-20 12:09:00,00012346,4500,승인,{NICE_CARD}\n".encode("cp949")
        )
        await hass.services.async_call(
            DOMAIN,
            "import_card_sales",
            {"config_entry_id": entry.entry_id, "file": str(export)},
            blocking=True,
        )
        await hass.async_block_till_done()

        sales = await async_sales(entry, "toss_place")
        assert list(sales["orders"].values()) == ["completed"]
        assert await hass.config_entries.async_unload(entry.entry_id)

    # the connectors and the store did log (at debug level)
    assert any(r.name.startswith("custom_components.careon") for r in caplog.records)
    logged = caplog.text
    secrets = [*TOSS_KEYS.values(), *NICE_KEYS.values()]
    assert [secret for secret in secrets if secret in logged] == []
    for card in (TOSS_CARD, NICE_CARD):
        # neither the number nor its hidden digits
        assert card not in logged
        assert card[6:12] not in logged
    assert PHONE not in logged
    assert PHONE.replace("-", "") not in logged
    assert "7341" not in logged
