"""How the demo's rows go in fast (batches, SQLite's page cache, Django's query log)
and how a run reports its progress."""

from __future__ import annotations

from contextlib import contextmanager
from typing import TextIO

from django.conf import settings
from django.db import connection

BATCH_SIZE = 2_000  # members per round: bounds memory (a round holds ~20k punch objects)


SQLITE_CACHE_KIB = -131_072  # negative: KiB, so 128 MiB of page cache while seeding


def say(stdout: TextIO | None, message: str) -> None:
    if stdout is not None:
        stdout.write(message + "\n")


@contextmanager
def bulk_load_tuning():
    """On SQLite, give the connection a 128 MiB page cache while seeding.

    The default 2 MiB cache cannot hold the pages of the punch table's five indexes, so
    every insert past the first few thousand rows re-reads pages and spills dirty ones;
    at 100k members this alone costs about a fifth of the run. The previous size is
    restored afterwards. PostgreSQL sizes its buffers server-side: nothing to do."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        (previous,) = cursor.fetchone()
        cursor.execute(f"PRAGMA cache_size = {SQLITE_CACHE_KIB}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {int(previous)}")


def forget_logged_queries() -> None:
    """With DEBUG on, Django keeps the SQL of the last 9,000 queries; multi-row INSERTs
    make that hundreds of megabytes. Drop it between batches unless someone is
    deliberately capturing queries (``force_debug_cursor``, as test helpers do)."""
    if settings.DEBUG and not connection.force_debug_cursor:
        connection.queries_log.clear()
