"""Pipe operators, one module per family: each entry parses the operator and lowers it (kql/registry.py
assembles the OPERATORS lists)."""
