"""Give scripts/develop's Home Assistant the demo cafe without any clicking.

Seeds ``<config>/careon_demo.db`` with the demo cafe (through CareOn's own actions) and adds a
CareOn config entry for it to Home Assistant's entry storage, unless a CareOn entry exists
already. Home Assistant must not be running (it owns that file while it runs).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
import json
from pathlib import Path
import sys
import uuid

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from custom_components.careon.const import (  # noqa: E402
    CONF_DATABASE,
    CONF_DATABASE_URL,
    CONF_TIMEZONE,
    DATABASE_SQLITE,
    DOMAIN,
)
from custom_components.careon.core import ActionEngine  # noqa: E402
from custom_components.careon.core.database import sqlite_url  # noqa: E402
from custom_components.careon.core.demo import load_demo_data, seed_demo_store  # noqa: E402

ENTRIES_FILE = Path(".storage") / "core.config_entries"
# The entry's title names the store's device and so its entity ids (sensor.careon_cafe_…): the
# ids the wall dashboard in dashboards/ is written for.
ENTRY_TITLE = "CareOn Cafe"


async def _seed(url: str, timezone: str) -> int:
    engine = await ActionEngine.open(url, timezone=timezone)
    try:
        return await seed_demo_store(engine)
    finally:
        await engine.close()


def main(config_dir: Path) -> None:
    """Seed the demo database and register its config entry once."""
    entries_path = config_dir / ENTRIES_FILE
    storage = (
        json.loads(entries_path.read_text(encoding="utf-8"))
        if entries_path.exists()
        else {
            "version": 1,
            "minor_version": 5,
            "key": "core.config_entries",
            "data": {"entries": []},
        }
    )
    entries = storage["data"]["entries"]
    if any(entry["domain"] == DOMAIN for entry in entries):
        print("develop: CareOn is already set up in this configuration")  # noqa: T201
        return
    demo = load_demo_data()
    database = (config_dir / "careon_demo.db").resolve()
    url = sqlite_url(database)
    created = asyncio.run(_seed(url, demo["store"]["timezone"]))
    now = datetime.now(UTC).isoformat()
    entries.append(
        {
            "created_at": now,
            "data": {
                CONF_TIMEZONE: demo["store"]["timezone"],
                CONF_DATABASE: DATABASE_SQLITE,
                CONF_DATABASE_URL: url,
            },
            "discovery_keys": {},
            "disabled_by": None,
            "domain": DOMAIN,
            "entry_id": uuid.uuid4().hex,
            "minor_version": 1,
            "modified_at": now,
            "options": {},
            "pref_disable_new_entities": False,
            "pref_disable_polling": False,
            "source": "user",
            "subentries": [],
            "title": ENTRY_TITLE,
            "unique_id": str(database),
            "version": 1,
        }
    )
    entries_path.parent.mkdir(parents=True, exist_ok=True)
    entries_path.write_text(json.dumps(storage, indent=2, ensure_ascii=False), encoding="utf-8")
    print(f"develop: demo cafe ready in {database} ({created} objects), CareOn entry added")  # noqa: T201


if __name__ == "__main__":
    main(Path(sys.argv[1]))
