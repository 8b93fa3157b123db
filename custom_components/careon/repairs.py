"""Repairs: a POS item no product matched, to map onto a product of the menu or keep as new.

A connector recording a sale of an item it cannot match creates a placeholder product
(``unmapped``). Each placeholder is a fixable issue, kept in step with the store by the
coordinator (so the issues survive restarts and go once resolved, by this flow or a service).
"""

from __future__ import annotations

from typing import Any

from homeassistant import data_entry_flow
from homeassistant.components.repairs import RepairsFlow
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.selector import (
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
)
import voluptuous as vol

from .connectors.const import CONNECTOR_NAMES, ISSUE_UNMAPPED_PRODUCT
from .const import ACTOR_HOMEASSISTANT, DOMAIN, LOGGER
from .coordinator import CareOnConfigEntry
from .core import CareOnError, StoreObject, StoreSnapshot, ValidationError

# The audit's source of a product resolved through this flow
SOURCE_REPAIR = "repair"
ATTR_PRODUCT = "product"
_PREFIX = f"{ISSUE_UNMAPPED_PRODUCT}_"


def unmapped_issue_id(product_id: str) -> str:
    """The repair issue of one placeholder product."""
    return f"{_PREFIX}{product_id}"


def _placeholders(entry: CareOnConfigEntry, product: StoreObject) -> dict[str, str]:
    refs = product.get("pos_refs") or {}
    source, codes = next(
        ((name, codes) for name, codes in refs.items() if isinstance(codes, list) and codes),
        (next(iter(refs), ""), []),
    )
    return {
        "store": entry.title,
        "product": product.name,
        "code": str(codes[0]) if codes else "-",
        "source": CONNECTOR_NAMES.get(source, source or "POS"),
    }


@callback
def async_sync_unmapped_issues(
    hass: HomeAssistant, entry: CareOnConfigEntry, snapshot: StoreSnapshot
) -> None:
    """One fixable issue per placeholder product of the store, none for any other."""
    registry = ir.async_get(hass)
    wanted = {
        unmapped_issue_id(product.id): product
        for product in snapshot.products.values()
        if product.get("unmapped")
    }
    for (domain, issue_id), issue in list(registry.issues.items()):
        if (
            domain == DOMAIN
            and issue_id.startswith(_PREFIX)
            and (issue.data or {}).get("entry_id") == entry.entry_id
            and issue_id not in wanted
        ):
            ir.async_delete_issue(hass, DOMAIN, issue_id)
    for issue_id, product in wanted.items():
        placeholders = _placeholders(entry, product)
        existing = registry.async_get_issue(DOMAIN, issue_id)
        if existing is not None and existing.translation_placeholders == placeholders:
            continue
        ir.async_create_issue(
            hass,
            DOMAIN,
            issue_id,
            data={"entry_id": entry.entry_id, "product_id": product.id},
            is_fixable=True,
            is_persistent=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key=ISSUE_UNMAPPED_PRODUCT,
            translation_placeholders=placeholders,
        )


@callback
def async_delete_unmapped_issues(hass: HomeAssistant, entry_id: str) -> None:
    """The store is removed: so are its issues."""
    for (domain, issue_id), issue in list(ir.async_get(hass).issues.items()):
        if (
            domain == DOMAIN
            and issue_id.startswith(_PREFIX)
            and (issue.data or {}).get("entry_id") == entry_id
        ):
            ir.async_delete_issue(hass, DOMAIN, issue_id)


class UnmappedProductRepairFlow(RepairsFlow):
    """Map a POS item onto a product of the menu, or keep it as a new product."""

    def __init__(self, entry_id: str, product_id: str) -> None:
        """Fix the issue of one placeholder product."""
        self._entry_id = entry_id
        self._product_id = product_id

    def _entry(self) -> CareOnConfigEntry | None:
        entry: CareOnConfigEntry | None = self.hass.config_entries.async_get_entry(self._entry_id)
        if entry is None or entry.state is not ConfigEntryState.LOADED:
            return None
        return entry

    def _placeholders(self, entry: CareOnConfigEntry) -> dict[str, str]:
        issue = ir.async_get(self.hass).async_get_issue(DOMAIN, self.issue_id)
        if issue is not None and issue.translation_placeholders:
            return dict(issue.translation_placeholders)
        product = entry.runtime_data.coordinator.data.products.get(self._product_id)
        return _placeholders(entry, product) if product is not None else {}

    async def async_step_init(
        self, user_input: dict[str, Any] | None = None
    ) -> data_entry_flow.FlowResult:
        """Map the item, or keep it."""
        if (entry := self._entry()) is None:
            return self.async_abort(reason="entry_not_loaded")
        return self.async_show_menu(
            step_id="init",
            menu_options=["map", "keep"],
            description_placeholders=self._placeholders(entry),
        )

    async def async_step_map(
        self, user_input: dict[str, Any] | None = None
    ) -> data_entry_flow.FlowResult:
        """Choose the product of the menu the item is."""
        if (entry := self._entry()) is None:
            return self.async_abort(reason="entry_not_loaded")
        errors: dict[str, str] = {}
        if user_input is not None:
            result = await self._async_resolve(entry, user_input[ATTR_PRODUCT], errors)
            if result is not None:
                return result
        products = sorted(
            (
                product
                for product in entry.runtime_data.coordinator.data.products.values()
                if not product.get("unmapped") and product.id != self._product_id
            ),
            key=lambda product: product.name.casefold(),
        )
        schema = vol.Schema(
            {
                vol.Required(ATTR_PRODUCT): SelectSelector(
                    SelectSelectorConfig(
                        options=[
                            SelectOptionDict(value=product.id, label=product.name)
                            for product in products
                        ],
                        mode=SelectSelectorMode.DROPDOWN,
                    )
                )
            }
        )
        return self.async_show_form(
            step_id="map",
            data_schema=schema,
            description_placeholders=self._placeholders(entry),
            errors=errors,
        )

    async def async_step_keep(
        self, user_input: dict[str, Any] | None = None
    ) -> data_entry_flow.FlowResult:
        """Keep the item as a product of its own."""
        if (entry := self._entry()) is None:
            return self.async_abort(reason="entry_not_loaded")
        errors: dict[str, str] = {}
        if user_input is not None:
            result = await self._async_resolve(entry, None, errors)
            if result is not None:
                return result
        return self.async_show_form(
            step_id="keep",
            data_schema=vol.Schema({}),
            description_placeholders=self._placeholders(entry),
            errors=errors,
        )

    async def _async_resolve(
        self, entry: CareOnConfigEntry, map_to: str | None, errors: dict[str, str]
    ) -> data_entry_flow.FlowResult | None:
        """Run ``resolve_unmapped_product``; the flow's end, or None with the form's error
        in ``errors``."""
        params: dict[str, Any] = {ATTR_PRODUCT: self._product_id}
        if map_to is not None:
            params["map_to"] = map_to
        try:
            await entry.runtime_data.engine.execute(
                "resolve_unmapped_product",
                params,
                actor=ACTOR_HOMEASSISTANT,
                source=SOURCE_REPAIR,
            )
        except ValidationError as err:
            if err.translation_key == "product_not_unmapped" or err.field == ATTR_PRODUCT:
                # resolved (or deleted) meanwhile
                ir.async_delete_issue(self.hass, DOMAIN, self.issue_id)
                return self.async_abort(reason="product_not_unmapped")
            LOGGER.debug("Mapping a POS item was refused: %s", err)
            errors["base"] = "product_not_found"
            return None
        except CareOnError as err:
            LOGGER.debug("Mapping a POS item failed: %s", err)
            errors["base"] = "cannot_connect"
            return None
        ir.async_delete_issue(self.hass, DOMAIN, self.issue_id)
        return self.async_create_entry(data={})


async def async_create_fix_flow(
    hass: HomeAssistant,
    issue_id: str,
    data: dict[str, str | int | float | None] | None,
) -> RepairsFlow:
    """The flow fixing a CareOn issue (the unmapped POS items are the fixable ones)."""
    data = data or {}
    return UnmappedProductRepairFlow(str(data.get("entry_id")), str(data.get("product_id")))
