"""A pytest plugin that lets pytest-homeassistant-custom-component run on a newer Home Assistant.

pytest-homeassistant-custom-component (phcc) is Home Assistant's own test helpers, republished for
each Home Assistant release. Its newest, 0.13.375, is built for 2026.10.4; there is none for
2026.11 yet, and scripts/setup installs it over 2026.11.0 (requirements_test_current.txt). Two
things stop it from loading there, both outside CareOn's tests:

- Home Assistant 2026.11 aliases ``httpx`` to ``httpx2`` and ``voluptuous`` to ``probatio`` when
  ``homeassistant`` is first imported, and refuses to if ``httpx`` was imported before it; phcc's
  plugin imports ``respx`` (hence ``httpx``) first. Importing ``homeassistant`` here, before any
  other plugin, is the order Home Assistant's own test suite has.
- phcc imports ``_clear_logger_overwrites`` from ``homeassistant.components.logger``; 2026.11 moved
  it to ``homeassistant.components.logger.helpers``.

scripts/test loads it first on the current Home Assistant only (``-p pytest_ha_compat`` with this
folder on ``PYTHONPATH``). On a Home Assistant that phcc matches, it changes nothing. Delete it when
a phcc release for the tested Home Assistant exists.
"""

from __future__ import annotations

import homeassistant  # noqa: F401  # first: its httpx/voluptuous aliases
from homeassistant.components import logger

if not hasattr(logger, "_clear_logger_overwrites"):
    from homeassistant.components.logger import helpers

    logger._clear_logger_overwrites = helpers._clear_logger_overwrites  # type: ignore[attr-defined]
