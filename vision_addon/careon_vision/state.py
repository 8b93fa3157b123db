"""Per-camera state on disk: the day's counters survive a restart of the add-on."""

from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path
import tempfile
from typing import Any

_LOGGER = logging.getLogger(__name__)


class StateStore:
    """One JSON document per camera at ``<data_dir>/<camera_id>.json``.

    Writes are atomic (temporary file in the same directory, fsync, ``os.replace``) so a power
    cut leaves either the previous or the new document, never half of one. A document that does
    not parse is moved aside to ``<camera_id>.json.corrupt`` and logged, and the camera starts
    from zero rather than refusing to run.
    """

    def __init__(self, data_dir: Path, camera_id: str) -> None:
        self.data_dir = Path(data_dir)
        self.camera_id = camera_id
        self.path = self.data_dir / f"{camera_id}.json"

    @property
    def corrupt_path(self) -> Path:
        return self.path.with_name(self.path.name + ".corrupt")

    def load(self) -> dict[str, Any] | None:
        """The stored document, or None when there is none (or it was unreadable)."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as err:
            _LOGGER.error(
                "Cannot read the state of camera %s (%s): %s", self.camera_id, self.path, err
            )
            return None
        try:
            data = json.loads(text)
        except ValueError as err:
            self._set_aside(f"not valid JSON ({err})")
            return None
        if not isinstance(data, dict):
            self._set_aside(f"a JSON {type(data).__name__}, not an object")
            return None
        return data

    def save(self, data: dict[str, Any]) -> None:
        """Replace the stored document atomically (raises OSError when the disk refuses)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        payload = json.dumps(data, ensure_ascii=False, sort_keys=True, allow_nan=False)
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{self.camera_id}.", suffix=".tmp", dir=self.data_dir
        )
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(payload)
                handle.flush()
                # The rename must not reach the disk before the data it points to.
                os.fsync(handle.fileno())
            os.replace(tmp_name, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
            raise
        self._sync_directory()

    def _sync_directory(self) -> None:
        # Persist the rename itself; not every platform can open a directory, which is harmless.
        try:
            dir_fd = os.open(self.data_dir, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(dir_fd)
        except OSError:
            pass
        finally:
            os.close(dir_fd)

    def _set_aside(self, why: str) -> None:
        try:
            os.replace(self.path, self.corrupt_path)
        except OSError as err:
            _LOGGER.error(
                "The state of camera %s (%s) is %s and could not be moved aside: %s; starting from zero",
                self.camera_id,
                self.path,
                why,
                err,
            )
            return
        _LOGGER.error(
            "The state of camera %s (%s) is %s; kept as %s, starting from zero",
            self.camera_id,
            self.path,
            why,
            self.corrupt_path,
        )
