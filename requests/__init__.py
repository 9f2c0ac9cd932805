"""Data-subject requests (REQ-1 to REQ-11).

This package deliberately shadows the PyPI ``requests`` library: nothing the project
runs in-process may import that library (tests/test_layout.py guards it)."""
