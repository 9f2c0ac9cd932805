"""``manage.py verify_audit_chain``: seal the audit events waiting for the hash chain,
then verify every link and digest (SEC-2). Prints OK with counts, or every problem and
exits with status 1. See dataprotection/audit_chain.py for the scheme."""

from django.core.management.base import BaseCommand, CommandError

from dataprotection.audit_chain import run_verification


class Command(BaseCommand):
    help = "Verify the tamper-evident audit trail: every event linked, none deleted, moved or altered."

    def handle(self, *args, **options):
        result = run_verification()
        if not result.ok:
            for problem in result.problems:
                self.stderr.write(f"BROKEN: {problem}")
            raise CommandError(
                f"Audit chain verification FAILED: {len(result.problems)} problems in {result.checked} events.",
                returncode=1,
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"OK: {result.checked} events verified ({result.scrubbed} scrubbed by anonymization), "
                f"chain head at position {result.head_seq}, {result.pending} events waiting to be sealed."
            )
        )
