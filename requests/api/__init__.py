"""The requests app's REST API (the REST API)."""
