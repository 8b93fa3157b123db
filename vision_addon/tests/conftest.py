"""Shared fixtures of the vision tests: the real test model and video, offline Ultralytics."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Nothing may reach for the network: Ultralytics checks for updates and installs missing packages
# unless told not to. Set before any test imports it.
os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_AUTOINSTALL", "False")

REPO_ROOT = Path(__file__).resolve().parents[2]
TEST_MODEL = Path(__file__).resolve().parent / "data" / "models" / "pedestrian_ssdlite.onnx"
VTEST_AVI = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")


def _required_file(path: Path, what: str, how: str) -> Path:
    if not path.is_file():
        pytest.fail(f"{what} not found at {path}: {how}")
    return path


@pytest.fixture(scope="session")
def ssd_model_path() -> Path:
    """The real pedestrian SSD model (tests/data/models, or CAREON_TEST_MODEL)."""
    default = TEST_MODEL
    path = Path(os.environ.get("CAREON_TEST_MODEL", default))
    return _required_file(
        path, "the test model", "set CAREON_TEST_MODEL to pedestrian_ssdlite.onnx"
    )


@pytest.fixture(scope="session")
def vtest_path() -> Path:
    """OpenCV's pedestrian video (Debian opencv-doc; scripts/setup installs it)."""
    return _required_file(VTEST_AVI, "vtest.avi", "install Debian's opencv-doc (scripts/setup)")
