"""``manage.py sync_staff_roles``: create the operations staff role groups and give each
exactly the permissions of ``dataprotection.staff_roles.ROLES`` (SEC-1). Prints what it
changed; a second run prints that nothing changed. Runs after every migrate as well."""

from django.core.management.base import BaseCommand
from django.db import DEFAULT_DB_ALIAS, transaction

from dataprotection.audit import record_event
from dataprotection.staff_roles import ROLES, sync_staff_roles


class Command(BaseCommand):
    help = "Bring the operations staff role groups (SEC-1) in line with dataprotection/staff_roles.py."

    def add_arguments(self, parser):
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)

    def handle(self, *args, **options):
        with transaction.atomic(using=options["database"]):
            report = sync_staff_roles(using=options["database"])
            if report.changed:
                # SEC-2: who may decrypt what is itself worth a trace.
                record_event(
                    "staff_roles.synced",
                    actor_kind="system",
                    metadata={"created": report.created_groups, "added": report.added, "removed": report.removed},
                )
        for line in report.lines():
            self.stdout.write(line)
        if report.changed:
            self.stdout.write(self.style.SUCCESS(f"Staff roles updated ({len(ROLES)} roles)."))
        else:
            self.stdout.write(self.style.SUCCESS(f"Staff roles already up to date ({len(ROLES)} roles): no changes."))
