"""Print the Python requirements of the Home Assistant integrations CareOn's tests load.

scripts/setup runs this with the Python of a venv in which ``homeassistant`` is installed, and
installs what it prints with Home Assistant's own ``package_constraints.txt`` as constraints
(and the lock file), as Home Assistant itself would at run time: the tests run with requirement
installation off (pytest-homeassistant-custom-component's hass, and ``hass --skip-pip`` in
tests/e2e), so every integration they set up must find its packages already there.

The integrations: Home Assistant's always-loaded and default ones (its bootstrap), what
tests/e2e configures, what the integration tests set up, CareOn's own manifest and the e2e fake
vendors' manifest; with everything those depend on (``dependencies`` and
``after_dependencies``), as Home Assistant's requirement processing walks them.
"""

from __future__ import annotations

import json
from pathlib import Path
import sys

from homeassistant import bootstrap
import homeassistant.components

ROOT = Path(__file__).resolve().parents[1]
COMPONENTS = Path(homeassistant.components.__file__).parent

# What the tests set up besides Home Assistant's defaults: tests/e2e's configuration.yaml and
# config entries (MQTT, the MCP Server), and the integration tests' fixtures (the LLM API through
# conversation, MQTT discovery of CareOn Vision, the blueprints' mobile_app notifications, ...).
TESTED = {
    "automation",
    "binary_sensor",
    "blueprint",
    "camera",
    "config",
    "conversation",
    "diagnostics",
    "frontend",
    "http",
    "image",
    "logbook",
    "logger",
    "lovelace",
    "mcp_server",
    "mobile_app",
    "mqtt",
    "recorder",
    "repairs",
    "script",
    "sensor",
    "switch",
    "todo",
    "webhook",
}
CUSTOM_MANIFESTS = (
    ROOT / "custom_components" / "careon" / "manifest.json",
    ROOT / "tests" / "e2e" / "custom_components" / "careon_e2e_vendors" / "manifest.json",
)


def _manifest(domain: str) -> dict[str, object] | None:
    path = COMPONENTS / domain / "manifest.json"
    if not path.exists():
        return None
    data: dict[str, object] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _related(manifest: dict[str, object]) -> list[str]:
    related: list[str] = []
    for key in ("dependencies", "after_dependencies"):
        value = manifest.get(key, [])
        assert isinstance(value, list)
        related.extend(str(domain) for domain in value)
    return related


def main() -> int:
    todo = set(TESTED) | bootstrap.CORE_INTEGRATIONS | bootstrap.DEFAULT_INTEGRATIONS
    for path in CUSTOM_MANIFESTS:
        todo.update(_related(json.loads(path.read_text(encoding="utf-8"))))
    seen: set[str] = set()
    requirements: set[str] = set()
    while todo:
        domain = todo.pop()
        if domain in seen:
            continue
        seen.add(domain)
        manifest = _manifest(domain)
        if manifest is None:
            sys.stderr.write(f"ha_requirements: no integration named {domain!r}\n")
            return 1
        value = manifest.get("requirements", [])
        assert isinstance(value, list)
        requirements.update(str(requirement) for requirement in value)
        todo.update(_related(manifest))
    sys.stdout.write(f"# the requirements of {len(seen)} integrations: {', '.join(sorted(seen))}\n")
    for requirement in sorted(requirements, key=str.lower):
        sys.stdout.write(f"{requirement}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
