"""What the integration needs at run time is in its manifest, on every platform and Python."""

from __future__ import annotations

import importlib.metadata
import json
from pathlib import Path

from packaging.requirements import Requirement

MANIFEST = Path(__file__).parents[1] / "custom_components" / "careon" / "manifest.json"


def _manifest_requirements() -> dict[str, Requirement]:
    manifest = json.loads(MANIFEST.read_text(encoding="utf-8"))
    return {(req := Requirement(line)).name.lower(): req for line in manifest["requirements"]}


def test_greenlet_is_a_requirement() -> None:
    """SQLAlchemy's asyncio engine (every store) needs greenlet, but SQLAlchemy requires it
    only on some machines and Pythons (not on Python 3.14, which current Home Assistant runs):
    the manifest installs it everywhere."""
    sqlalchemy_needs = [
        Requirement(line) for line in importlib.metadata.requires("sqlalchemy") or []
    ]
    greenlet = [req for req in sqlalchemy_needs if req.name.lower() == "greenlet"]
    assert greenlet
    assert all(req.marker is not None for req in greenlet)  # only where the marker holds
    assert "greenlet" in _manifest_requirements()


def test_the_database_drivers_are_requirements() -> None:
    """aiosqlite (the embedded store) and asyncpg (PostgreSQL) come from the manifest, pinned
    to versions with wheels for the Pythons of the Home Assistants CareOn supports."""
    requirements = _manifest_requirements()
    for name in ("aiosqlite", "asyncpg"):
        assert name in requirements
        assert importlib.metadata.version(name) == next(iter(requirements[name].specifier)).version
