"""The requests app's part of the demo (``manage.py seed_demo``): a request waiting for
the operations request handler (REQ-5, REQ-6).

The demo member has filed a complaint, which no organization answers: it is routed to
operations staff, so the request handler's journey (open the queue, take the request,
answer it) starts from the seeded data. Filed once; seeding again, or after the member
filed requests of their own, adds nothing."""

from __future__ import annotations

from django.db import transaction

from organizations.services.demo_data import MEMBER, DemoContext
from requests.models import DataSubjectRequest, Jurisdiction, RequestKind
from requests.services import filing

DEMO_COMPLAINT = "我没有订阅，却收到了营销短信。I received marketing text messages although I never signed up for them."


def ensure_demo_request(context: DemoContext) -> int:
    member = context.users.get(MEMBER.role)
    if member is None or DataSubjectRequest.objects.filter(subject=member).exists():
        return 0
    with transaction.atomic():
        # The step after ``file_request`` checked the person's SMS code: the demo
        # member's request is on record as if they had filed it themselves.
        filing._create_request(
            filer=member,
            subject=member,
            as_agent=False,
            kind=RequestKind.COMPLAINT,
            jurisdiction=Jurisdiction.MAINLAND,
            member=None,
            details=DEMO_COMPLAINT,
            deletion_grounds=[],
            field="",
            proposed_value="",
            automated_decision=None,
            evidence_content=None,
            proof_content=None,
            written=[],
            ip=None,
        )
    return 1
