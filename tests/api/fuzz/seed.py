"""Seed a throwaway portal for the API fuzzing run (.ci/fuzz-api).

    DATABASE_URL=sqlite:////tmp/x/db.sqlite3 python tests/api/fuzz/seed.py TOKEN_FILE

After ``migrate`` (which brings the services catalog and the published policy
versions): the demo organization (departments, members, administrators, an owner),
consents and a data-subject request for a member, and a write token for the owner,
whose secret is written to TOKEN_FILE (mode 0600) and nowhere else."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def seed(token_file: Path) -> dict:
    from django.core.management import call_command
    from django.utils import timezone

    from accounts.api.tokens import create_api_token
    from accounts.models import TokenScope, User
    from consent.models import Channel, Decision, Purpose
    from consent.services.ledger import record_consent
    from organizations.models import Administrator, AdministratorRole
    from organizations.services.demo_data.logins import MEMBER, OWNER
    from requests.models import DataSubjectRequest, Jurisdiction, RequestKind, RequestStatus
    from requests.services.deadlines import WEEKDAYS, initial_due_on
    from tests.factories import verified_session

    call_command("seed_demo", members=40, days=1, seed=7, verbosity=0, stdout=open(os.devnull, "w"))  # noqa: SIM115
    owner = User.objects.get(phone=OWNER.phone)
    member = User.objects.get(phone=MEMBER.phone)
    organization = Administrator.objects.get(user=owner, role=AdministratorRole.OWNER).organization

    for purpose in (Purpose.MARKETING, Purpose.PERSONALIZATION):
        record_consent(user=member, purpose=purpose, decision=Decision.GRANTED, channel=Channel.API)
        record_consent(user=owner, purpose=purpose, decision=Decision.GRANTED, channel=Channel.API)
    if not DataSubjectRequest.objects.filter(subject=owner).exists():
        # As filing leaves a request (the filing service wants a one-time SMS code).
        received = timezone.now()
        due = initial_due_on(Jurisdiction.EEA, received, calendar=WEEKDAYS)
        for subject in (owner, member):
            DataSubjectRequest.objects.create(
                subject=subject,
                kind=RequestKind.ACCESS,
                jurisdiction=Jurisdiction.EEA,
                status=RequestStatus.RECEIVED,
                received_at=received,
                original_due_on=due,
                due_on=due,
            )

    secret, _token = create_api_token(
        owner, minted_by=verified_session(), name="fuzzing", scope=TokenScope.WRITE, days=1
    )
    token_file.write_text(secret)
    token_file.chmod(0o600)
    return {"organization": organization.pk, "owner": owner.pk, "member": member.pk}


def main() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    print(seed(Path(sys.argv[1])))


if __name__ == "__main__":
    main()
