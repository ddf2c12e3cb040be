"""Constructive operations: buffers, intersections, unions, simplification and cell coverings."""

from __future__ import annotations

from collections.abc import Callable

Args = list[object]

FUNCTIONS: dict[str, Callable[[Args], object]] = {}
