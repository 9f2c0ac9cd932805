"""The requests app's REST API (issue 7)."""
