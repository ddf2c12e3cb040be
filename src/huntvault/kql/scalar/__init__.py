"""Scalar operators as tables: comparisons, arithmetic, string predicates, list operators (in, has_any)."""
