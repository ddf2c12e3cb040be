"""The planner layer: statements and tabular expressions (Planner) and scalar expressions (ExprCompiler)."""

from __future__ import annotations

from huntvault.kql.planner.compiler import ExprCompiler
from huntvault.kql.planner.planner import Planner

__all__ = ["ExprCompiler", "Planner"]
