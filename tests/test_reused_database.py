"""``--reuse-db`` on SQLite (tests/conftest.py): each run starts from the database as
the migrations left it, whatever the previous run's tests emptied."""

from __future__ import annotations

import sqlite3
from contextlib import closing

from tests.conftest import ReusedSqliteDatabase


def execute(path, *statements: str) -> list[tuple]:
    with closing(sqlite3.connect(path)) as connection:
        rows = []
        for statement in statements:
            rows = connection.execute(statement).fetchall()
        connection.commit()
        return rows


def test_each_run_starts_from_the_migrated_database(tmp_path):
    reused = ReusedSqliteDatabase(tmp_path / "test-databases", "gw0")
    reused.prepare(create=False)
    assert not reused.database.exists()  # the first run: Django creates it

    # Django migrates it, a data migration writes rows, then the set-up saves it.
    execute(reused.database, "CREATE TABLE policy (edition TEXT)", "INSERT INTO policy VALUES ('international')")
    reused.save()
    # A transactional test empties every table when it ends; another writes and crashes.
    execute(reused.database, "DELETE FROM policy", "CREATE TABLE leftover (x INTEGER)")

    reused.prepare(create=False)
    assert execute(reused.database, "SELECT edition FROM policy") == [("international",)]
    assert execute(reused.database, "SELECT name FROM sqlite_master WHERE name = 'leftover'") == []


def test_create_db_starts_from_nothing(tmp_path):
    reused = ReusedSqliteDatabase(tmp_path, "main")
    reused.prepare(create=False)
    execute(reused.database, "CREATE TABLE policy (edition TEXT)")
    reused.save()

    reused.prepare(create=True)
    assert not reused.database.exists()
    assert not reused.migrated.exists()


def test_workers_keep_separate_databases(tmp_path):
    first, second = ReusedSqliteDatabase(tmp_path, "gw0"), ReusedSqliteDatabase(tmp_path, "gw1")
    assert len({first.database, first.migrated, second.database, second.migrated}) == 4
