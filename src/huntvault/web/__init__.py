"""The web layer: FastAPI app with the search REST API, hunt/status/alerts APIs and the UI pages (thin adapters)."""
