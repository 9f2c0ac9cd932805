"""Settings of the stack under bench/load.py: the project's settings with one more URL,
the floor endpoint (``bench/load_urls.py``). Everything else is what production runs."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.load_urls"
