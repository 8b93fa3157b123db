"""Plane geometry in relative image coordinates (0-1; x to the right, y downwards).

Lines and zones are configured in relative coordinates so they survive a change of stream
resolution; tracks arrive in the same units, so nothing here knows about pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
import math

Point = tuple[float, float]


def _direction(a: Point, b: Point) -> tuple[float, float, float]:
    dx = b[0] - a[0]
    dy = b[1] - a[1]
    length = math.hypot(dx, dy)
    if length == 0.0:
        # The configuration rejects coincident end points; a zero-length line has no side.
        raise ValueError(f"degenerate line: {a} == {b}")
    return dx, dy, length


def signed_distance(a: Point, b: Point, p: Point) -> float:
    """Distance from ``p`` to the infinite line through ``a`` and ``b``, signed by side.

    Positive on the right-hand side of the direction a -> b *as seen on the screen* (y grows
    downwards): for a horizontal line drawn left to right the positive side is below it; for a
    vertical line drawn top to bottom the positive side is to its left. Zero on the line.
    """
    dx, dy, length = _direction(a, b)
    # 2-D cross product (b - a) x (p - a), normalised to a distance.
    return (dx * (p[1] - a[1]) - dy * (p[0] - a[0])) / length


def projection_t(a: Point, b: Point, p: Point) -> float:
    """Where ``p`` projects onto the line a -> b: 0 at ``a``, 1 at ``b`` (outside 0-1: beyond an end)."""
    dx, dy, length = _direction(a, b)
    return (dx * (p[0] - a[0]) + dy * (p[1] - a[1])) / (length * length)


def point_in_polygon(p: Point, polygon: Sequence[Point]) -> bool:
    """Whether ``p`` lies inside ``polygon`` (even-odd rule; vertices in order, either winding).

    Points exactly on an edge may fall either way, as with any ray-casting test; zone presence
    has frames of inertia, so a boundary case cannot flicker a count.
    """
    x, y = p
    inside = False
    count = len(polygon)
    if count < 3:
        return False
    x_prev, y_prev = polygon[-1]
    for x_cur, y_cur in polygon:
        # Does a horizontal ray from p to +x cross the edge (prev -> cur)?
        if (y_cur > y) != (y_prev > y):
            x_cross = x_cur + (y - y_cur) * (x_prev - x_cur) / (y_prev - y_cur)
            if x < x_cross:
                inside = not inside
        x_prev, y_prev = x_cur, y_cur
    return inside
