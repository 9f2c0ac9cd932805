"""Re-encryption of every encrypted column under the primary key (ORG-10, SEC-5).

Rotation without downtime: add the new key first in ``FIELD_ENCRYPTION_KEYS`` (it
encrypts new writes at once while old keys still decrypt), run this, then drop the old
key. Work goes table by table in primary-key chunks, one short transaction per chunk;
each row is rewritten only if its ciphertext is unchanged since it was read
(compare-and-set), so a concurrent edit is never overwritten with stale data. Running it
again is a no-op; a crash midway loses nothing.

Encrypted files (``dataprotection.files``) rotate the same way, through the columns that
name them (registered with ``register_file_column``): each file still under an old key is
re-encrypted into a new file, the column is switched to it by compare-and-set, and only
then is the old file deleted. A row anonymized or changed meanwhile keeps what it has and
the new copy is deleted instead, so an erased file is never brought back.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from django.apps import apps
from django.db import connection, transaction

from dataprotection import crypto, files
from dataprotection.fields import EncryptedTextField

# model label -> {column: the purposes its files may be sealed for}
_file_columns: dict[str, dict[str, tuple[str, ...]]] = {}


def register_file_column(model_label: str, field_name: str, *purposes: str) -> None:
    """Declare that ``model_label.field_name`` holds names of encrypted files sealed for
    one of ``purposes`` (apps call this from ``AppConfig.ready``)."""
    _file_columns.setdefault(model_label, {})[field_name] = tuple(purposes)


def file_columns() -> dict[str, dict[str, tuple[str, ...]]]:
    return {label: dict(columns) for label, columns in _file_columns.items()}


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


def _reseal(name: str, purposes: tuple[str, ...]) -> tuple[str, bytes] | None:
    """The file's purpose and plaintext when it is sealed under an old key; None when it
    is under the primary key already or gone."""
    try:
        stored = files.stored_bytes(name)
    except FileNotFoundError:
        return None
    if crypto.bytes_key_id(stored) == crypto.key_ring().primary_id:
        return None
    for purpose in purposes:
        try:
            return purpose, files.decrypt_stored(stored, name, purpose)
        except crypto.DecryptionError:
            continue
    raise crypto.DecryptionError(f"{name}: sealed for none of {', '.join(purposes)} or with a missing key")


def rotate_files(model, columns: dict[str, tuple[str, ...]], *, chunk_size: int = 500, dry_run: bool = False):
    """Re-encrypt the files ``model``'s columns name under the primary key (see the
    module docstring); one ``ColumnReport`` per column."""
    reports = []
    for column, purposes in columns.items():
        report = ColumnReport(model._meta.db_table, model._meta.get_field(column).column)
        rows = model._base_manager.exclude(**{column: ""}).order_by("pk").values_list("pk", column)
        last_pk = 0
        while True:
            chunk = list(rows.filter(pk__gt=last_pk)[:chunk_size])
            if not chunk:
                break
            last_pk = chunk[-1][0]
            for pk, name in chunk:
                report.scanned += 1
                if not files.is_stored_name(name):
                    continue
                found = _reseal(name, purposes)
                if found is None:
                    continue
                if dry_run:
                    report.rotated += 1
                    continue
                purpose, data = found
                fresh = files.store_encrypted(data, purpose)
                switched = model._base_manager.filter(pk=pk, **{column: name}).update(**{column: fresh})
                if switched:
                    files.delete_stored(name)
                    report.rotated += 1
                else:  # anonymized or replaced meanwhile: keep the row as it is now
                    files.delete_stored(fresh)
                    report.skipped_concurrent += 1
        reports.append(report)
    return reports
