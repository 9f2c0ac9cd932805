"""The person's request pages (REQ-1 to REQ-4, REQ-6, REQ-9 to REQ-11):
``requests.views.person``."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from accounts.models import DataRegion
from dataprotection.models import AuditEvent
from requests.models import (
    AutomatedDecision,
    DataSubjectRequest,
    DeletionGround,
    EventKind,
    Jurisdiction,
    RequestEvent,
    RequestKind,
    RequestStatus,
)
from requests.services import workflow
from tests.conftest import last_code
from tests.factories import MemberFactory, UserFactory
from tests.requests.test_filing import (
    PDF,
    _codes_on_demand,  # noqa: F401 (autouse: codes on demand)
    stored_files,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def person():
    return UserFactory(name="Person")


@pytest.fixture
def signed_in(client, person):
    client.force_login(person)
    return client


def file_url(kind, jurisdiction=Jurisdiction.MAINLAND, agent=False) -> str:
    url = reverse("data_requests:file", kwargs={"jurisdiction": jurisdiction, "kind": kind})
    return url + ("?agent=1" if agent else "")


@pytest.fixture
def page_code(sms_outbox, django_capture_on_commit_callbacks):
    """Press "Send code" on a filing page as the signed-in client; return the code."""

    def send(client, user, url, data=None) -> str:
        with django_capture_on_commit_callbacks(execute=True):  # the SMS goes out on commit
            response = client.post(url, {"send_code": "1", **(data or {})})
        assert response.status_code == 200
        assert "We sent a six-digit code" in response.content.decode()
        return last_code(sms_outbox, user.phone)

    return send


def make_request(subject, *, kind=RequestKind.ACCESS, status=RequestStatus.RECEIVED, agent=None, **extra):
    today = timezone.localdate()
    return DataSubjectRequest.objects.create(
        kind=kind,
        jurisdiction=Jurisdiction.MAINLAND,
        subject=subject,
        agent=agent,
        status=status,
        original_due_on=extra.pop("due_on", today + timedelta(days=15)),
        due_on=extra.pop("due", today + timedelta(days=15)),
        **extra,
    )


# --------------------------------------------------------------------------- list


def test_the_list_needs_a_signed_in_person(client):
    response = client.get(reverse("data_requests:list"))
    assert response.status_code == 302 and "/accounts/" in response["Location"]


def test_the_list_shows_own_and_agent_requests_with_due_dates_and_overdue(signed_in, person):
    """REQ-4, REQ-9: reference, kind, status, due date, overdue flag; requests filed as
    an agent too; nobody else's."""
    mine = make_request(person)
    late = make_request(person, due=timezone.localdate() - timedelta(days=1))
    for_other = make_request(UserFactory(), agent=person, kind=RequestKind.DELETION)
    stranger = make_request(UserFactory())
    page = signed_in.get(reverse("data_requests:list")).content.decode()
    assert mine.reference in page and late.reference in page and for_other.reference in page
    assert stranger.reference not in page
    assert f'data-testid="overdue-{late.reference}"' in page
    assert f'data-testid="overdue-{mine.reference}"' not in page
    assert mine.due_on.isoformat() in page
    assert "as agent" in page
    assert 'href="/requests/new/"' in page  # the "New request" button


def test_the_list_costs_the_same_queries_whatever_the_number_of_requests(signed_in, person, django_assert_num_queries):
    """A fixed number of queries: session, user, the page of requests, the requests
    waiting for the person's confirmation (the site's service notices are cached)."""
    agent = UserFactory()
    make_request(person, agent=agent, status=RequestStatus.VERIFYING)
    for _ in range(3):
        make_request(person)
    signed_in.get(reverse("data_requests:list"))  # warms the service-notice cache of base.html
    with django_assert_num_queries(4):
        signed_in.get(reverse("data_requests:list"))
    for _ in range(30):
        make_request(person)
        make_request(person, agent=UserFactory(), status=RequestStatus.VERIFYING)
    with django_assert_num_queries(4):
        response = signed_in.get(reverse("data_requests:list"))
    assert response.context["has_next"]
    last = signed_in.get(reverse("data_requests:list") + "?page=3")  # 64 requests, 25 a page
    assert len(last.context["rows"]) == 14 and not last.context["has_next"]


def test_the_nav_links_to_my_requests(signed_in):
    assert 'href="/requests/"' in signed_in.get(reverse("accounts:profile")).content.decode()


# --------------------------------------------------------------------------- choosing


@pytest.mark.parametrize(
    ("region", "jurisdiction"), [(DataRegion.MAINLAND_CHINA, "mainland"), (DataRegion.SINGAPORE, "international")]
)
def test_the_jurisdiction_defaults_to_the_deployments_region(signed_in, settings, region, jurisdiction):
    """REQ-1: mainland China deployments start from mainland, Singapore from international."""
    settings.DATA_REGION = region
    response = signed_in.get(reverse("data_requests:new"))
    assert response.context["jurisdiction"] == jurisdiction
    page = response.content.decode()
    assert file_url(RequestKind.ACCESS, jurisdiction) in page
    assert "Objection to processing" not in page


def test_each_jurisdiction_lists_its_own_kinds_with_an_explanation(signed_in):
    """REQ-1: EEA adds objection, restriction, portability; each kind explained."""
    page = signed_in.get(reverse("data_requests:new") + "?jurisdiction=eea").content.decode()
    assert file_url(RequestKind.OBJECTION, "eea") in page
    assert "Object to the processing of your personal data." in page
    assert file_url(RequestKind.CA_ACCESS, "eea") not in page


def test_a_kind_outside_the_jurisdiction_is_404(signed_in):
    assert signed_in.get(file_url(RequestKind.OBJECTION, Jurisdiction.MAINLAND)).status_code == 404
    assert signed_in.get(file_url(RequestKind.ACCESS, "mars")).status_code == 404
    assert signed_in.get(file_url(RequestKind.AUTOMATED_DECISION, agent=True)).status_code == 404


# --------------------------------------------------------------------------- filing


def test_filing_a_deletion_request_with_the_code(signed_in, person, page_code):
    """REQ-1 to REQ-4: send the code (what was typed survives), type it, the request is
    created with its grounds and the page shows the due date."""
    url = file_url(RequestKind.DELETION)
    code = page_code(signed_in, person, url, {"details": "typed so far"})
    response = signed_in.post(
        url, {"deletion_grounds": [DeletionGround.NO_CONSENT], "details": "Please.", "code": code}, follow=True
    )
    request = DataSubjectRequest.objects.get()
    assert response.redirect_chain[-1][0] == reverse("data_requests:detail", args=[request.reference])
    assert request.deletion_grounds == [DeletionGround.NO_CONSENT] and request.details == "Please."
    page = response.content.decode()
    assert request.due_on.isoformat() in page
    assert "The data was collected or used without my explicit consent" in page


def test_typed_values_survive_sending_the_code(signed_in, person, page_code, django_capture_on_commit_callbacks):
    url = file_url(RequestKind.COMPLAINT)
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in.post(url, {"send_code": "1", "details": "typed so far"})
    assert "typed so far" in response.content.decode()
    assert not DataSubjectRequest.objects.exists()


def test_a_wrong_code_is_a_field_error_and_writes_nothing(signed_in, person, page_code):
    """REQ-3."""
    url = file_url(RequestKind.ACCESS)
    code = page_code(signed_in, person, url)
    wrong = "000000" if code != "000000" else "111111"
    response = signed_in.post(url, {"code": wrong})
    assert response.status_code == 200
    assert "The code is wrong" in response.context["form"].errors["code"][0]
    assert not DataSubjectRequest.objects.exists()


def test_no_code_no_request(signed_in):
    """REQ-3: without a code sent there is nothing to type."""
    response = signed_in.post(file_url(RequestKind.ACCESS), {"code": "123456"})
    assert "No code was sent" in response.context["form"].errors["code"][0]
    assert not DataSubjectRequest.objects.exists()


def test_deletion_grounds_are_required_on_the_page(signed_in, person, page_code):
    """REQ-2."""
    url = file_url(RequestKind.DELETION)
    code = page_code(signed_in, person, url)
    response = signed_in.post(url, {"code": code})
    assert "Choose at least one ground" in response.context["form"].errors["deletion_grounds"][0]
    assert not DataSubjectRequest.objects.exists()


def test_a_correction_needs_the_field_and_the_value(signed_in, person, page_code):
    """REQ-1: correction is structured."""
    url = file_url(RequestKind.CORRECTION)
    code = page_code(signed_in, person, url)
    response = signed_in.post(url, {"code": code})
    errors = response.context["form"].errors
    assert "target" in errors and "proposed_value" in errors
    response = signed_in.post(url, {"code": code, "target": "profile:password", "proposed_value": "x"})
    assert "target" in response.context["form"].errors
    assert not DataSubjectRequest.objects.exists()


def test_a_correction_can_be_about_a_roster_entry(signed_in, person, page_code):
    """REQ-1, REQ-5: the choices include the control-data fields of the person's roster
    entries; choosing one sets the member and routes to its organization."""
    member = MemberFactory(user=person, status="active")
    url = file_url(RequestKind.CORRECTION)
    page = signed_in.get(url).content.decode()
    label = f"Organization data in {member.organization.name}: position"
    assert label in page and "My profile: name" in page
    code = page_code(signed_in, person, url)
    evidence = SimpleUploadedFile("letter.pdf", PDF, content_type="application/pdf")
    signed_in.post(
        url, {"code": code, "target": f"member:{member.pk}:position", "proposed_value": "CTO", "evidence": evidence}
    )
    request = DataSubjectRequest.objects.get()
    assert (request.member, request.field, request.organization) == (member, "position", member.organization)
    assert request.evidence


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"MZ\x90\x00 an executable", "Upload a PDF, PNG or JPEG file."),
        (b"%PDF-" + b"x" * 4096, "the largest allowed is"),
    ],
    ids=["wrong-type", "too-big"],
)
def test_bad_evidence_is_refused_and_leaves_no_file(signed_in, person, page_code, settings, content, message):
    """REQ-1: type sniffed from the content, size-limited; nothing written, no file."""
    settings.REQUEST_FILE_MAX_BYTES = 1024
    url = file_url(RequestKind.CORRECTION)
    code = page_code(signed_in, person, url)
    upload = SimpleUploadedFile("evidence.pdf", content, content_type="application/pdf")
    response = signed_in.post(url, {"code": code, "target": "profile:name", "proposed_value": "Li", "evidence": upload})
    assert message in " ".join(response.context["form"].errors["evidence"])
    assert not DataSubjectRequest.objects.exists()
    assert stored_files(settings) == []


def test_consent_withdrawal_and_automated_decision_forms(signed_in, person, page_code):
    """REQ-1, REQ-11: the purpose is one of the consent purposes; the decision one of
    the person's own, preselected from the decisions page."""
    mine = AutomatedDecision.objects.create(subject=person, system="Payroll", decision="Bonus denied", explanation="E")
    theirs = AutomatedDecision.objects.create(subject=UserFactory(), system="X", decision="Y", explanation="Z")
    url = file_url(RequestKind.AUTOMATED_DECISION)
    page = signed_in.get(f"{url}?decision={mine.pk}").content.decode()
    assert f'<option value="{mine.pk}" selected>' in page and "Bonus denied" in page and ">X" not in page
    code = page_code(signed_in, person, url)
    response = signed_in.post(url, {"code": code, "automated_decision": theirs.pk})
    assert "automated_decision" in response.context["form"].errors
    signed_in.post(url, {"code": code, "automated_decision": mine.pk, "details": "Why?"})
    assert DataSubjectRequest.objects.get().automated_decision == mine

    url = file_url(RequestKind.CONSENT_WITHDRAWAL)
    code = page_code(signed_in, person, url)
    signed_in.post(url, {"code": code, "purpose": "face_recognition"})
    assert DataSubjectRequest.objects.get(kind=RequestKind.CONSENT_WITHDRAWAL).field == "face_recognition"


# --------------------------------------------------------------------------- agents


def test_an_agent_files_and_the_person_confirms_from_their_list(client, person, page_code, settings):
    """REQ-9: the agent's request waits; the person sees it on /requests/ and confirms."""
    agent = UserFactory(name="Agent")
    client.force_login(agent)
    url = file_url(RequestKind.ACCESS, agent=True)
    code = page_code(client, agent, url)
    upload = SimpleUploadedFile("poa.pdf", PDF, content_type="application/pdf")
    response = client.post(url, {"code": code, "subject_phone": person.phone, "agent_proof": upload}, follow=True)
    request = DataSubjectRequest.objects.get()
    assert (request.agent, request.subject, request.status) == (agent, person, RequestStatus.VERIFYING)
    assert "waits for the person to confirm" in response.content.decode()
    assert len(stored_files(settings)) == 1

    client.force_login(person)
    page = client.get(reverse("data_requests:list")).content.decode()
    assert 'id="awaiting-confirmation"' in page and request.reference in page
    client.post(reverse("data_requests:confirm", args=[request.reference]))
    request.refresh_from_db()
    assert request.status == RequestStatus.RECEIVED and request.subject_confirmed_at is not None


def test_an_agent_needs_an_existing_account_and_proof(client, person, page_code):
    """REQ-9: an unknown number gets one plain answer; no proof, no request."""
    agent = UserFactory()
    client.force_login(agent)
    url = file_url(RequestKind.ACCESS, agent=True)
    code = page_code(client, agent, url)
    response = client.post(url, {"code": code, "subject_phone": person.phone})
    assert "agent_proof" in response.context["form"].errors
    upload = SimpleUploadedFile("poa.pdf", PDF, content_type="application/pdf")
    response = client.post(url, {"code": code, "subject_phone": "+8613912345678", "agent_proof": upload})
    assert "No request can be filed for this number" in response.context["form"].errors["subject_phone"][0]
    assert not DataSubjectRequest.objects.exists()


def test_the_person_rejects_and_the_agent_cannot_confirm(client, person):
    """REQ-9: rejection withdraws it; the agent cannot confirm for the person."""
    agent = UserFactory()
    request = make_request(person, agent=agent, status=RequestStatus.VERIFYING)
    client.force_login(agent)
    assert client.post(reverse("data_requests:reject", args=[request.reference])).status_code == 404
    client.post(reverse("data_requests:confirm", args=[request.reference]))
    request.refresh_from_db()
    assert request.status == RequestStatus.VERIFYING
    client.force_login(person)
    client.post(reverse("data_requests:reject", args=[request.reference]))
    request.refresh_from_db()
    assert request.status == RequestStatus.WITHDRAWN


# --------------------------------------------------------------------------- detail


@pytest.mark.parametrize("who", ["stranger", "other_agent", "staff", "organization_owner", "anonymous"])
def test_nobody_but_the_subject_and_the_agent_sees_a_request(client, person, who):
    """REQ-9: to anyone else a request does not exist (404)."""
    member = MemberFactory(user=person, status="active")
    agent = UserFactory()
    request = make_request(person, agent=agent, organization=member.organization, member=member)
    urls = [
        reverse(f"data_requests:{name}", args=[request.reference])
        for name in ("detail", "withdraw", "confirm", "reject", "escalate")
    ]
    if who == "anonymous":
        assert all(client.get(url).status_code == 302 for url in urls[:1])
        return
    from organizations.models import AdministratorRole
    from tests.factories import AdministratorFactory

    viewer = UserFactory(is_staff=who == "staff", is_superuser=who == "staff")
    if who == "other_agent":
        make_request(UserFactory(), agent=viewer)
    if who == "organization_owner":
        AdministratorFactory(organization=member.organization, user=viewer, role=AdministratorRole.OWNER)
    client.force_login(viewer)
    assert client.get(urls[0]).status_code == 404
    for url in urls[1:]:
        assert client.post(url, {"details": "x"}).status_code == 404
    request.refresh_from_db()
    assert request.status == RequestStatus.RECEIVED
    for allowed in (person, agent):
        client.force_login(allowed)
        assert client.get(urls[0]).status_code == 200


def test_the_detail_shows_public_events_only(signed_in, person):
    """REQ-6: the requester reads the timeline, never the handlers' notes."""
    request = make_request(person)
    RequestEvent.objects.create(request=request, kind=EventKind.MESSAGE, text="We need a document.", internal=False)
    RequestEvent.objects.create(request=request, kind=EventKind.NOTE, text="Looks like abuse.", internal=True)
    page = signed_in.get(reverse("data_requests:detail", args=[request.reference])).content.decode()
    assert "We need a document." in page and "Looks like abuse." not in page
    assert request.due_on.isoformat() in page


def test_the_detail_shows_the_refusal_ground_and_explanation(signed_in, person):
    """REQ-6: the requester gets the reason."""
    request = make_request(person)
    workflow.refuse_request(request, actor=None, ground="trade_secrets", explanation="The model is confidential.")
    page = signed_in.get(reverse("data_requests:detail", args=[request.reference])).content.decode()
    assert "It involves trade secrets" in page and "The model is confidential." in page
    assert 'id="escalation"' in page


def test_withdrawing_from_the_detail_page(signed_in, person):
    request = make_request(person)
    url = reverse("data_requests:detail", args=[request.reference])
    assert "Withdraw the request" in signed_in.get(url).content.decode()
    response = signed_in.post(reverse("data_requests:withdraw", args=[request.reference]), follow=True)
    request.refresh_from_db()
    assert request.status == RequestStatus.WITHDRAWN
    assert "Withdraw the request" not in response.content.decode()
    response = signed_in.post(reverse("data_requests:withdraw", args=[request.reference]), follow=True)
    assert "already closed" in response.content.decode()


def test_escalating_a_completed_request_names_the_regulator(signed_in, person):
    """REQ-10: a completed request is escalated to a complaint; the pages name the
    regulator route of the jurisdiction (Australia: the OAIC)."""
    request = DataSubjectRequest.objects.create(
        kind=RequestKind.ACCESS,
        jurisdiction=Jurisdiction.AUSTRALIA,
        subject=person,
        original_due_on=timezone.localdate(),
        due_on=timezone.localdate(),
    )
    url = reverse("data_requests:escalate", args=[request.reference])
    response = signed_in.post(url, {"details": "Too early"}, follow=True)
    assert "Only a completed or refused request" in response.content.decode()
    workflow.complete_request(request, actor=None, outcome="Here is your data.")
    detail = signed_in.get(reverse("data_requests:detail", args=[request.reference])).content.decode()
    assert "Here is your data." in detail and "Office of the Australian Information Commissioner" in detail
    response = signed_in.post(url, {"details": ""})
    assert response.status_code == 400 and "Say what you are not satisfied with." in response.content.decode()
    response = signed_in.post(url, {"details": "The archive is incomplete."}, follow=True)
    complaint = DataSubjectRequest.objects.get(kind=RequestKind.COMPLAINT)
    assert complaint.escalated_from == request
    page = response.content.decode()
    assert response.redirect_chain[-1][0] == reverse("data_requests:detail", args=[complaint.reference])
    assert "Office of the Australian Information Commissioner" in page
    assert AuditEvent.objects.filter(action="request.escalated").count() == 1


def test_the_download_panel_is_included_for_export_kinds_once_it_exists(signed_in, person, monkeypatch):
    """REQ-7: the fulfilment's archive panel appears on access requests (when installed)."""
    from requests.views import person as views

    request = make_request(person)
    monkeypatch.setattr(views, "_has_download_panel", lambda: False)
    response = signed_in.get(reverse("data_requests:detail", args=[request.reference]))
    assert response.status_code == 200 and not response.context["show_download_panel"]
    monkeypatch.setattr(views, "_has_download_panel", lambda: True)
    assert signed_in.get(reverse("data_requests:detail", args=[request.reference])).context["show_download_panel"]
    complaint = make_request(person, kind=RequestKind.COMPLAINT)
    response = signed_in.get(reverse("data_requests:detail", args=[complaint.reference]))
    assert not response.context["show_download_panel"]


# --------------------------------------------------------------------------- decisions


def test_the_decisions_page_explains_and_offers_an_appeal(signed_in, person):
    """REQ-11: each decision with its explanation and a way to ask and appeal."""
    decision = AutomatedDecision.objects.create(
        subject=person, system="Attendance", decision="Marked absent", explanation="No punch before 10:00."
    )
    AutomatedDecision.objects.create(subject=UserFactory(), system="Other", decision="Hidden", explanation="-")
    page = signed_in.get(reverse("data_requests:decisions")).content.decode()
    assert "Marked absent" in page and "No punch before 10:00." in page and "Hidden" not in page
    appeal = file_url(RequestKind.AUTOMATED_DECISION) + f"?decision={decision.pk}"
    assert appeal in page and "Ask for an explanation / appeal" in page
    make_request(person, kind=RequestKind.AUTOMATED_DECISION, automated_decision=decision)
    page = signed_in.get(reverse("data_requests:decisions")).content.decode()
    assert appeal not in page and "Your request about this decision is open." in page


def test_filing_pages_need_sign_in(client):
    for url in (reverse("data_requests:new"), file_url(RequestKind.ACCESS), reverse("data_requests:decisions")):
        assert client.get(url).status_code == 302


def test_a_stale_page_code_is_refused(signed_in, person, page_code):
    """REQ-3: an expired code is refused on the page too."""
    from accounts.models import OneTimeCode

    url = file_url(RequestKind.ACCESS)
    code = page_code(signed_in, person, url)
    OneTimeCode.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = signed_in.post(url, {"code": code})
    assert "expired" in response.context["form"].errors["code"][0]
    assert not DataSubjectRequest.objects.exists()


def test_files_are_not_kept_while_sending_a_code(signed_in, person, django_capture_on_commit_callbacks):
    url = file_url(RequestKind.CORRECTION)
    upload = SimpleUploadedFile("e.pdf", PDF, content_type="application/pdf")
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in.post(url, {"send_code": "1", "proposed_value": "Li", "evidence": upload})
    page = response.content.decode()
    assert "attach them again" in page and 'value="Li"' in page
