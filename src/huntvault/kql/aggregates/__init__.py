"""Aggregate functions, one module per family; each module's AGGREGATES table is assembled by kql/registry.py."""
