"""`evaluate` plugins, one module per plugin family; kql/registry.py assembles the PLUGINS tables."""
