"""The consent app's REST API (issue 7)."""
