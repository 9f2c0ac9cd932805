"""``manage.py rotate_field_keys``: re-encrypt every encrypted column under the primary
key of FIELD_ENCRYPTION_KEYS (ORG-10, SEC-5). See dataprotection/rotation.py."""

from functools import partial

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError

from dataprotection import crypto
from dataprotection.rotation import encrypted_columns, file_columns, rotate_files, rotate_model


class Command(BaseCommand):
    help = "Re-encrypt every encrypted field and stored file under the first (primary) key of FIELD_ENCRYPTION_KEYS."

    def add_arguments(self, parser):
        parser.add_argument("--chunk-size", type=int, default=1000)
        parser.add_argument("--dry-run", action="store_true", help="count what would be re-encrypted, change nothing")

    def handle(self, *args, chunk_size: int, dry_run: bool, **options):
        if chunk_size < 1:
            raise CommandError("--chunk-size must be at least 1")
        primary = crypto.key_ring().primary_id
        self.stdout.write(f"Primary key id: {primary}{' (dry run)' if dry_run else ''}")
        total = 0
        for model, fields in encrypted_columns():
            rotate = partial(rotate_model, model, fields, chunk_size=chunk_size, dry_run=dry_run)
            total += self._rotate(model._meta.label, rotate, dry_run=dry_run)
        stored_files = 0
        for label, columns in file_columns().items():
            rotate = partial(rotate_files, apps.get_model(label), columns, dry_run=dry_run)
            stored_files += self._rotate(label, rotate, dry_run=dry_run, files=True)
        self.stdout.write(
            self.style.SUCCESS(
                f"{'Would re-encrypt' if dry_run else 'Re-encrypted'} {total} values and {stored_files} files."
            )
        )

    def _rotate(self, label: str, rotate, *, dry_run: bool, files: bool = False) -> int:
        """Run one model's rotation, print a line per column; how many it re-encrypted."""
        try:
            reports = rotate()
        except crypto.DecryptionError as exc:
            what, done = ("a file", "files") if files else ("a value", "rows")
            raise CommandError(
                f"{label}: {what} cannot be decrypted ({exc}). Is an old key missing from "
                f"FIELD_ENCRYPTION_KEYS? Nothing was lost: {done} already rotated keep the new key."
            ) from exc
        for report in reports:
            self.stdout.write(
                f"  {report.table}.{report.column}{' (files)' if files else ''}: scanned {report.scanned}, "
                f"{'would re-encrypt' if dry_run else 're-encrypted'} {report.rotated}"
                + (f", skipped {report.skipped_concurrent} changed meanwhile" if report.skipped_concurrent else "")
            )
        return sum(report.rotated for report in reports)
