"""The consent app's REST API (the REST API)."""
