"""Data-subject request models arrive with the requests issue (REQ-1 to REQ-11)."""
