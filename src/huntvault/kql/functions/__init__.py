"""Scalar functions, one module per family; each module's FUNCTIONS table is assembled by kql/registry.py."""
