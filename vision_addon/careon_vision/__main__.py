"""Command line: ``python -m careon_vision --config FILE`` or, in the add-on, ``--addon``.

Exit codes: 0 after a clean stop (SIGTERM/SIGINT), 2 for a configuration error (its message names
what is wrong), 1 for anything else.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
import logging
import os
from pathlib import Path
import signal
import sys
from types import FrameType

from . import __version__
from .config import AppConfig, ConfigError, apply_env_overrides, load_config

# Nothing may reach for the network: Ultralytics checks for updates and installs missing packages
# unless told not to.
os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_AUTOINSTALL", "False")

ADDON_OPTIONS = Path("/data/options.json")
ADDON_DATA_DIR = Path("/data")

_LOGGER = logging.getLogger("careon_vision")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m careon_vision",
        description=(
            "CareOn Vision: counts visitors, zone occupancy and dwell time from RTSP cameras and "
            "publishes them to Home Assistant over MQTT discovery."
        ),
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--config", type=Path, help="YAML or JSON configuration file")
    source.add_argument(
        "--addon",
        action="store_true",
        help=f"run as the Home Assistant add-on: options from {ADDON_OPTIONS}, state in "
        f"{ADDON_DATA_DIR}, broker from the CAREON_MQTT_* variables",
    )
    parser.add_argument(
        "--options",
        type=Path,
        default=ADDON_OPTIONS,
        help=f"the add-on options file (default {ADDON_OPTIONS})",
    )
    parser.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error"],
        help="overrides the configuration's log_level",
    )
    parser.add_argument(
        "--check", action="store_true", help="validate the configuration, print it, and exit"
    )
    parser.add_argument("--version", action="version", version=f"careon_vision {__version__}")
    return parser


def load(args: argparse.Namespace) -> AppConfig:
    """The configuration the arguments name, with the Supervisor's broker applied."""
    if args.addon:
        config = load_config(args.options)
        if "data_dir" not in config.model_fields_set:
            config = config.model_copy(update={"data_dir": ADDON_DATA_DIR})
    else:
        config = load_config(args.config)
    return apply_env_overrides(config)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = load(args)
    except ConfigError as err:
        print(f"careon_vision: configuration error:\n{err}", file=sys.stderr)  # noqa: T201
        return 2
    level = (args.log_level or config.log_level).upper()
    logging.basicConfig(
        level=getattr(logging, level),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.check:
        print(  # noqa: T201
            f"configuration OK: {len(config.cameras)} camera(s): "
            + ", ".join(f"{camera.id} ({camera.safe_url})" for camera in config.cameras)
        )
        return 0

    from .app import VisionApp  # noqa: PLC0415  (imports OpenCV, and torch with the detectors)

    app = VisionApp(config)

    def _stop(signum: int, _frame: FrameType | None) -> None:
        _LOGGER.info("Signal %s: stopping", signal.Signals(signum).name)
        app.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    _LOGGER.info("CareOn Vision %s starting with %d camera(s)", __version__, len(config.cameras))
    app.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
