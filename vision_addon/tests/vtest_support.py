"""The hand-checked vtest.avi annotation, and how the tests score counted crossings against it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ANNOTATION = Path(__file__).with_name("data") / "vtest_crossings.yaml"
FPS = 10.0
# A counted crossing matches a true one of the same direction within this many frames (1.5 s):
# the annotation marks when the feet pass the line, the counter fires once the track is clear of
# the hysteresis band and has moved min_displacement, a few frames later.
MATCH_FRAMES = 15

# The line's positive side (signed_distance) is the right-hand side of the arrow start -> end as
# drawn; the annotation's line points down the image, so its right-hand side is the image's left:
# walking right to left is "in".
DIRECTIONS = {"right_to_left": "in", "left_to_right": "out"}


@dataclass(frozen=True)
class Score:
    matched: int
    missed: list[tuple[int, str]]
    extra: list[tuple[int, str]]

    @property
    def truth(self) -> int:
        return self.matched + len(self.missed)


def annotation() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(ANNOTATION.read_text(encoding="utf-8"))
    return data


def truth_events() -> list[tuple[int, str]]:
    """(frame, "in" | "out") of every true crossing."""
    return [(c["frame"], DIRECTIONS[c["direction"]]) for c in annotation()["crossings"]]


def truth_totals() -> dict[str, int]:
    totals = annotation()["totals"]
    return {DIRECTIONS[key]: value for key, value in totals.items()}


def line_options(**overrides: Any) -> dict[str, Any]:
    line = annotation()["line"]
    return {"name": "Path", "id": "path", "start": line["start"], "end": line["end"], **overrides}


def score(counted: list[tuple[int, str]]) -> Score:
    """Greedy one-to-one matching of counted (frame, direction) to the truth, nearest first."""
    used: set[int] = set()
    missed: list[tuple[int, str]] = []
    for frame, direction in truth_events():
        candidates = [
            (abs(got - frame), index)
            for index, (got, got_direction) in enumerate(counted)
            if index not in used and got_direction == direction and abs(got - frame) <= MATCH_FRAMES
        ]
        if candidates:
            used.add(min(candidates)[1])
        else:
            missed.append((frame, direction))
    extra = [event for index, event in enumerate(counted) if index not in used]
    return Score(matched=len(counted) - len(extra), missed=missed, extra=extra)
