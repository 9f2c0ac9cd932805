"""Re-encryption of every encrypted column under the primary key (ORG-10, SEC-5).

Rotation without downtime: add the new key first in ``FIELD_ENCRYPTION_KEYS`` (it
encrypts new writes at once while old keys still decrypt), run this, then drop the old
key. Work goes table by table in primary-key chunks, one short transaction per chunk;
each row is rewritten only if its ciphertext is unchanged since it was read
(compare-and-set), so a concurrent edit is never overwritten with stale data. Running it
again is a no-op; a crash midway loses nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from django.apps import apps
from django.db import connection, transaction

from dataprotection import crypto
from dataprotection.fields import EncryptedTextField


@dataclass
class ColumnReport:
    table: str
    column: str
    scanned: int = 0
    rotated: int = 0
    skipped_concurrent: int = 0


def encrypted_columns() -> Iterator[tuple[type, list[EncryptedTextField]]]:
    for model in apps.get_models():
        fields = [f for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]
        if fields and model._meta.managed and not model._meta.proxy:
            yield model, fields


def rotate_model(model, fields: list[EncryptedTextField], *, chunk_size: int = 1000, dry_run: bool = False):
    primary = crypto.key_ring().primary_id
    table = connection.ops.quote_name(model._meta.db_table)
    pk_column = connection.ops.quote_name(model._meta.pk.column)
    columns = [connection.ops.quote_name(f.column) for f in fields]
    reports = [ColumnReport(model._meta.db_table, f.column) for f in fields]
    select = (
        f"SELECT {pk_column}, {', '.join(columns)} FROM {table} "
        f"WHERE {pk_column} > %s ORDER BY {pk_column} LIMIT {int(chunk_size)}"
    )
    last_pk = 0  # every model here has an auto-increment integer key
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(select, [last_pk])
            rows = cursor.fetchall()
            if not rows:
                break
            last_pk = rows[-1][0]
            for index, (field, column, report) in enumerate(zip(fields, columns, reports, strict=True), start=1):
                updates = []
                for row in rows:
                    stored = row[index]
                    report.scanned += 1
                    if not stored or crypto.key_id_of(stored) == primary:
                        continue
                    fresh = crypto.encrypt(crypto.decrypt(stored, field.purpose), field.purpose)
                    updates.append((fresh, row[0], stored))
                if updates and not dry_run:
                    sql = f"UPDATE {table} SET {column} = %s WHERE {pk_column} = %s AND {column} = %s"
                    before = report.rotated
                    for params in updates:  # executemany loses per-row counts on some drivers
                        cursor.execute(sql, params)
                        report.rotated += cursor.rowcount
                    report.skipped_concurrent += len(updates) - (report.rotated - before)
                elif updates:
                    report.rotated += len(updates)
    return reports
