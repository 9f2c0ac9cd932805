"""The requests app's part of the demo (``manage.py seed_demo``): a request waiting for
the operations request handler (REQ-5, REQ-6).

The demo member has filed a complaint, which no organization answers: it is routed to
operations staff, so the request handler's journey (open the queue, take the request,
answer it) starts from the seeded data. Filed once; seeding again, or after the member
filed requests of their own, adds nothing. ``seed_demo --reset`` removes the demo
people's requests with the people, so the queue keeps no requests of nobody."""

from __future__ import annotations

from django.db import transaction

from dataprotection.files import delete_stored
from organizations.services.demo_data.journeys import DemoContext
from organizations.services.demo_data.logins import MEMBER
from requests.models import DataSubjectRequest, ExportArchive, Jurisdiction, RequestKind
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


def forget_demo_requests(user_ids: list[int]) -> int:
    """The demo people's requests (with their events and archives), before the people
    are deleted. Returns how many requests went."""
    requests = DataSubjectRequest.objects.filter(subject_id__in=user_ids)
    archives = ExportArchive.objects.filter(request__in=requests).exclude(stored_file="")
    stored = [
        *archives.values_list("stored_file", flat=True),
        *requests.exclude(evidence="").values_list("evidence", flat=True),
        *requests.exclude(agent_proof="").values_list("agent_proof", flat=True),
    ]
    _count, per_model = requests.delete()
    # The files go once the rows are gone for good (a failed reset keeps both).
    transaction.on_commit(lambda: [delete_stored(name) for name in stored])
    return per_model.get(DataSubjectRequest._meta.label, 0)
