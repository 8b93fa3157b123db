"""The values that flow between the pipeline's stages: frames, detections and tracks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]
"""A BGR frame, shape (height, width, 3), as OpenCV decodes it."""


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded frame and when it was captured."""

    image: Image
    timestamp: float
    """Wall-clock capture time (time.time() seconds); analytics and daily counters use it."""
    index: int
    """Position in the stream since the source (re)connected, from 0."""

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        return int(self.image.shape[0])


@dataclass(slots=True)
class Detections:
    """A detector's boxes for one frame, in pixels of that frame."""

    xyxy: npt.NDArray[np.float32]
    """(N, 4): x1, y1, x2, y2."""
    confidence: npt.NDArray[np.float32]
    """(N,)"""
    cls: npt.NDArray[np.int64]
    """(N,) class ids (0 = person for every backend)."""

    @classmethod
    def empty(cls) -> Detections:
        return cls(
            np.zeros((0, 4), np.float32), np.zeros((0,), np.float32), np.zeros((0,), np.int64)
        )

    def __len__(self) -> int:
        return int(self.xyxy.shape[0])


@dataclass(frozen=True, slots=True)
class Track:
    """A tracked person in one frame, in coordinates relative to the frame (0-1)."""

    track_id: int
    box: tuple[float, float, float, float]
    """x1, y1, x2, y2, relative to the frame's width and height."""
    confidence: float

    @property
    def bottom_center(self) -> tuple[float, float]:
        """Where the person stands: the zone and line anchor that Frigate's users know."""
        x1, _, x2, y2 = self.box
        return ((x1 + x2) / 2, y2)

    @property
    def center(self) -> tuple[float, float]:
        x1, y1, x2, y2 = self.box
        return ((x1 + x2) / 2, (y1 + y2) / 2)


class Detector(Protocol):
    """Finds people in a frame."""

    def detect(self, frame: Frame) -> Detections: ...


class Tracker(Protocol):
    """Detects and tracks people: one call per frame, tracks keep their id across frames."""

    def update(self, frame: Frame) -> list[Track]: ...

    def reset(self) -> None:
        """Forget every track (the stream reconnected: ids from before mean nothing now)."""
