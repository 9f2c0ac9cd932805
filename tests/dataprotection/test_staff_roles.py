"""Operations staff roles with least privilege (SEC-1) and audited reveals (SEC-2).

The four roles of ``dataprotection/staff_roles.py`` are Django groups kept in sync by
``post_migrate`` and ``manage.py sync_staff_roles``. In the console (/ops/) each role
reaches exactly its own pages and actions; every sensitive value is masked by default
for everyone; a reveal or a download needs the role's permission and writes an audit
event with actor, target, field and address; without the permission the clear value is
in no response at all. A staff member without any group sees nothing."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from dataprotection import staff_roles
from dataprotection.files import store_encrypted
from dataprotection.masking import mask_id_number
from dataprotection.models import AuditEvent
from dataprotection.staff_roles import ROLES, sync_staff_roles
from organizations.models import Certification, CertificationStatus
from organizations.models.incidents import IncidentNotice
from requests.models import DataSubjectRequest, RequestStatus
from requests.services.filing import EVIDENCE_FILE_PURPOSE
from tests.factories import UserFactory
from tests.organizations.test_certification import ID_NUMBER, PDF, submit
from tests.organizations.test_incidents import make_incident
from tests.requests.test_workflow import make_request

pytestmark = pytest.mark.django_db

LEGAL_NAME = "张三 Zhang San"
DETAILS = "My secret story about the payroll"
PROPOSED = "Proposed Value Li Lei"
IP = "203.0.113.9"


@pytest.fixture
def private_root(settings, tmp_path):
    root = tmp_path / "private"
    settings.PRIVATE_MEDIA_ROOT = root
    return root


@pytest.fixture
def world(cast, private_root):
    """One pending certification, one operations request with details, a proposed value
    and evidence, one incident and an audit event."""
    sync_staff_roles()
    certification = submit(cast)
    data_request = make_request(
        kind="correction",
        details=DETAILS,
        proposed_value=PROPOSED,
        field="name",
        evidence=store_encrypted(PDF, EVIDENCE_FILE_PURPOSE),
    )
    incident = make_incident(organizations=[cast.organization], people=[cast.member_user])
    event = AuditEvent.objects.order_by("-pk").first()
    return {"certification": certification, "request": data_request, "incident": incident, "event": event}


def staff_in(*role_keys: str, **fields):
    user = UserFactory(is_staff=True, **fields)
    user.groups.set(Group.objects.filter(name__in=[staff_roles.role_of(key).group for key in role_keys]))
    return user


def login(client, user):
    client.force_login(user)
    return client


# --------------------------------------------------------------------------- the pages


def pages(world) -> dict[str, str]:
    cert, req, incident, event = world["certification"], world["request"], world["incident"], world["event"]
    return {
        "certification_list": reverse("admin:organizations_certification_changelist"),
        "certification_page": reverse("admin:organizations_certification_change", args=[cert.pk]),
        "certification_review": reverse("admin:organizations_certification_review", args=[cert.pk]),
        "certification_licence": reverse("admin:organizations_certification_file", args=[cert.pk, "business_licence"]),
        "certification_reveal": reverse(
            "admin:organizations_certification_reveal", args=[cert.pk, "legal_representative_id_number"]
        ),
        "request_list": reverse("admin:requests_datasubjectrequest_changelist"),
        "request_page": reverse("admin:requests_datasubjectrequest_change", args=[req.pk]),
        "request_dashboard": reverse("admin:requests_datasubjectrequest_dashboard"),
        "request_evidence": reverse("admin:requests_datasubjectrequest_evidence", args=[req.pk]),
        "request_reveal": reverse("admin:requests_datasubjectrequest_reveal", args=[req.pk, "details"]),
        "holidays": reverse("admin:requests_holiday_changelist"),
        "incident_list": reverse("admin:organizations_securityincident_changelist"),
        "incident_add": reverse("admin:organizations_securityincident_add"),
        "incident_page": reverse("admin:organizations_securityincident_change", args=[incident.pk]),
        "incident_report": reverse("admin:organizations_securityincident_report", args=[incident.pk]),
        "incident_report_json": reverse("admin:organizations_securityincident_report_json", args=[incident.pk]),
        "audit_list": reverse("admin:dataprotection_auditevent_changelist"),
        "audit_page": reverse("admin:dataprotection_auditevent_change", args=[event.pk]),
        "users": reverse("admin:accounts_user_changelist"),
        "anonymization_jobs": reverse("admin:dataprotection_anonymizationjob_changelist"),
        "organizations": reverse("admin:organizations_organization_changelist"),
        "members": reverse("admin:organizations_member_changelist"),
        "consent_ledger": reverse("admin:consent_consentrecord_changelist"),
        "services": reverse("admin:consent_service_changelist"),
        "policies": reverse("admin:consent_policyversion_changelist"),
    }


REACHES = {
    "certification_reviewer": {
        "certification_list",
        "certification_page",
        "certification_review",
        "certification_licence",
        "certification_reveal",
        "organizations",
    },
    "request_handler": {
        "request_list",
        "request_page",
        "request_dashboard",
        "request_evidence",
        "request_reveal",
        "holidays",
    },
    "incident_manager": {
        "incident_list",
        "incident_add",
        "incident_page",
        "incident_report",
        "incident_report_json",
        "users",
        "organizations",
    },
    "auditor": {"audit_list", "audit_page"},
    "no_group": set(),
}


@pytest.mark.parametrize("role", sorted(REACHES))
def test_each_role_reaches_exactly_its_pages(client, world, role):
    """SEC-1: every console page answers 200 for the roles whose queue it is and 403 for
    every other staff member; a staff member without any group gets nothing but the
    (empty) index."""
    user = staff_in(role) if role != "no_group" else UserFactory(is_staff=True)
    login(client, user)
    index = client.get(reverse("admin:index"))
    assert index.status_code == 200
    got = {name: client.get(url).status_code for name, url in pages(world).items()}
    expected = {name: 200 if name in REACHES[role] else 403 for name in got}
    assert got == expected
    if role == "no_group":
        assert index.context["app_list"] == []


def test_no_group_staff_reveal_and_download_nothing(client, world):
    """SEC-1: staff without a role cannot post a reveal or a decision either; nothing is
    decrypted, nothing recorded."""
    login(client, UserFactory(is_staff=True))
    p = pages(world)
    before = AuditEvent.objects.count()
    for name in ("certification_reveal", "request_reveal", "certification_review"):
        assert client.post(p[name], {"decision": "approve"}).status_code == 403
    assert AuditEvent.objects.count() == before
    assert Certification.objects.get(pk=world["certification"].pk).status == CertificationStatus.PENDING


# --------------------------------------------------------------------------- the actions


def test_only_the_reviewer_decides_certifications(client, world):
    """SEC-1: approve / reject is for the certification reviewer role."""
    url = pages(world)["certification_review"]
    for other in ("request_handler", "incident_manager", "auditor"):
        assert login(client, staff_in(other)).post(url, {"decision": "approve"}).status_code == 403
    assert Certification.objects.get(pk=world["certification"].pk).status == CertificationStatus.PENDING
    reviewer = staff_in("certification_reviewer")
    assert login(client, reviewer).post(url, {"decision": "approve"}).status_code == 302
    certification = Certification.objects.get(pk=world["certification"].pk)
    assert (certification.status, certification.reviewed_by) == (CertificationStatus.APPROVED, reviewer)


def test_only_the_request_handler_acts_on_requests(client, world):
    """SEC-1: the handling forms and the "assign to me" action are the handler's."""
    data_request = world["request"]
    act = reverse("admin:requests_datasubjectrequest_act", args=[data_request.pk, "start"])
    for other in ("certification_reviewer", "incident_manager", "auditor"):
        login(client, staff_in(other))
        assert client.post(act).status_code == 403
        response = client.post(
            reverse("admin:requests_datasubjectrequest_changelist"),
            {"action": "assign_to_me", "_selected_action": [data_request.pk]},
        )
        assert response.status_code == 403
    assert DataSubjectRequest.objects.get(pk=data_request.pk).status == RequestStatus.RECEIVED
    handler = staff_in("request_handler")
    login(client, handler)
    response = client.get(pages(world)["request_page"])
    assert [name for name, _form, _label in response.context["handling_forms"]][:3] == ["assign", "note", "start"]
    assert client.post(act).status_code == 302
    assert DataSubjectRequest.objects.get(pk=data_request.pk).status == RequestStatus.IN_PROGRESS


def test_only_the_incident_manager_sends_notices(client, cast, world):
    """SEC-1, SEC-4: sending the notices is the incident manager's action."""
    incident = world["incident"]
    url = pages(world)["incident_list"]
    for other in ("certification_reviewer", "request_handler", "auditor"):
        login(client, staff_in(other))
        assert client.post(url, {"action": "send_notices", "_selected_action": [incident.pk]}).status_code == 403
    assert not IncidentNotice.objects.exists()
    login(client, staff_in("incident_manager"))
    assert "send_notices" in client.get(url).content.decode()
    client.post(url, {"action": "send_notices", "_selected_action": [incident.pk]})
    assert IncidentNotice.objects.filter(incident=incident, user=cast.member_user).exists()


def test_the_auditor_verifies_the_chain(client, world, django_capture_on_commit_callbacks):
    """SEC-1, SEC-2: the auditor starts a verification from the list; others cannot."""
    url = reverse("admin:dataprotection_auditevent_verify")
    list_url = pages(world)["audit_list"]
    for other in ("certification_reviewer", "request_handler", "incident_manager"):
        assert login(client, staff_in(other)).post(url).status_code == 403
    auditor = staff_in("auditor")
    login(client, auditor)
    assert 'id="verify-chain"' in client.get(list_url).content.decode()
    assert client.get(url).status_code == 404  # POST only: no verification by a prefetch
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, REMOTE_ADDR=IP)
    assert response.status_code == 302 and response["Location"] == list_url
    requested = AuditEvent.objects.get(action="audit_chain.verification_requested")
    assert (requested.actor, requested.ip_address) == (auditor, IP)
    assert "Audit chain verified" in client.get(list_url).content.decode()


def test_the_auditor_holds_no_decryption_and_writes_nothing():
    """SEC-1: the auditor is read-only: view and verify, no reveal of any kind."""
    auditor = staff_roles.AUDITOR
    assert not auditor.permissions & staff_roles.REVEAL_PERMISSIONS
    assert all(perm.split(".")[1].startswith(("view_", "verify_")) for perm in auditor.permissions)
    for role in ROLES:
        reveals = role.permissions & staff_roles.REVEAL_PERMISSIONS
        assert len(reveals) <= 1, f"{role.key} decrypts more than its own area"


# --------------------------------------------------------------------------- masked by default


def test_certification_pages_are_masked_even_for_the_reviewer(client, world):
    """SEC-1: masked by default everywhere, for the reviewer (with a reveal link) and for
    staff who may review but not reveal (no link, no download link)."""
    cert = world["certification"]
    p = pages(world)
    login(client, staff_in("certification_reviewer"))
    page = client.get(p["certification_page"]).content.decode()
    assert ID_NUMBER not in page and LEGAL_NAME not in page
    assert mask_id_number(ID_NUMBER) in page
    assert p["certification_reveal"] in page and p["certification_licence"] in page
    for name in ("certification_list", "certification_review", "certification_reveal"):
        body = client.get(p[name]).content.decode()
        assert ID_NUMBER not in body and LEGAL_NAME not in body, name
    assert not AuditEvent.objects.filter(action="certification.revealed").exists()

    clerk = UserFactory(is_staff=True)
    clerk.user_permissions.set(Permission.objects.filter(codename__in=["view_certification", "change_certification"]))
    login(client, clerk)
    page = client.get(p["certification_page"]).content.decode()
    assert ID_NUMBER not in page and LEGAL_NAME not in page and mask_id_number(ID_NUMBER) in page
    assert p["certification_reveal"] not in page and p["certification_licence"] not in page
    assert client.get(p["certification_licence"]).status_code == 403
    assert client.post(p["certification_reveal"]).status_code == 403
    assert client.get(p["certification_review"]).status_code == 200  # may still decide
    assert not AuditEvent.objects.filter(
        action__in=["certification.revealed", "certification.file_viewed"], target_id=str(cert.pk)
    ).exists()


def test_request_pages_are_masked_without_the_handler_role(client, world):
    """SEC-1: staff who may handle requests but not reveal see neither the details, the
    proposed value nor a way to the evidence."""
    p = pages(world)
    clerk = UserFactory(is_staff=True)
    clerk.user_permissions.set(
        Permission.objects.filter(codename__in=["view_datasubjectrequest", "change_datasubjectrequest"])
    )
    login(client, clerk)
    for name in ("request_list", "request_page"):
        body = client.get(p[name]).content.decode()
        assert DETAILS not in body and PROPOSED not in body, name
    page = client.get(p["request_page"]).content.decode()
    assert p["request_evidence"] not in page and "/reveal/" not in page
    assert client.get(p["request_evidence"]).status_code == 403
    assert client.post(p["request_reveal"]).status_code == 403
    assert not AuditEvent.objects.filter(action__in=["request.details_viewed", "request.evidence_viewed"]).exists()


@pytest.mark.parametrize("who", ["request_handler", "superuser"])
def test_request_values_are_revealed_one_at_a_time_and_audited(client, world, who):
    """SEC-1, SEC-2: the change page stays masked (nothing recorded); each POST reveal
    shows one value and records actor, person, target, field and address; the GET of
    the reveal page decrypts nothing."""
    data_request = world["request"]
    user = staff_in("request_handler") if who == "request_handler" else UserFactory(is_staff=True, is_superuser=True)
    login(client, user)
    p = pages(world)
    page = client.get(p["request_page"]).content.decode()
    assert DETAILS not in page and PROPOSED not in page and "••••••" in page
    assert p["request_reveal"] in page and p["request_evidence"] in page
    confirm = client.get(p["request_reveal"])
    assert DETAILS not in confirm.content.decode()
    assert not AuditEvent.objects.filter(action="request.details_viewed").exists()

    response = client.post(p["request_reveal"], REMOTE_ADDR=IP)
    body = response.content.decode()
    assert response.status_code == 200 and DETAILS in body and PROPOSED not in body
    assert "no-store" in response["Cache-Control"]
    event = AuditEvent.objects.get(action="request.details_viewed")
    assert (event.actor, event.subject_user, event.ip_address) == (user, data_request.subject, IP)
    assert (event.target_type, event.target_id) == ("requests.datasubjectrequest", str(data_request.pk))
    assert event.metadata == {"reference": data_request.reference, "field": "details"}
    assert event.actor_kind == "staff"

    proposed_url = reverse("admin:requests_datasubjectrequest_reveal", args=[data_request.pk, "proposed_value"])
    assert PROPOSED in client.post(proposed_url).content.decode()
    assert AuditEvent.objects.filter(action="request.details_viewed").count() == 2

    download = client.get(p["request_evidence"], REMOTE_ADDR=IP)
    assert download.status_code == 200 and download.content == PDF
    assert download["Content-Disposition"].startswith("attachment;") and "no-store" in download["Cache-Control"]
    viewed = AuditEvent.objects.get(action="request.evidence_viewed")
    assert (viewed.actor, viewed.ip_address, viewed.subject_user) == (user, IP, data_request.subject)


@pytest.mark.parametrize("who", ["certification_reviewer", "superuser"])
def test_certification_values_are_revealed_one_at_a_time_and_audited(client, cast, world, who):
    """SEC-1, SEC-2: the reviewer (and a superuser, audited all the same) reveals the
    ID number and the name one at a time; downloads are audited too."""
    cert = world["certification"]
    user = (
        staff_in("certification_reviewer")
        if who == "certification_reviewer"
        else UserFactory(is_staff=True, is_superuser=True)
    )
    login(client, user)
    p = pages(world)
    response = client.post(p["certification_reveal"], REMOTE_ADDR=IP)
    body = response.content.decode()
    assert response.status_code == 200 and ID_NUMBER in body and LEGAL_NAME not in body
    event = AuditEvent.objects.get(action="certification.revealed")
    assert (event.actor, event.ip_address, event.organization_id) == (user, IP, cast.organization.pk)
    assert (event.target_type, event.target_id, event.metadata) == (
        "organizations.certification",
        str(cert.pk),
        {"field": "legal_representative_id_number"},
    )
    assert ID_NUMBER not in str(event.metadata) + str(event.changes)  # the value is never copied in

    name_url = reverse("admin:organizations_certification_reveal", args=[cert.pk, "legal_representative_name"])
    assert LEGAL_NAME in client.post(name_url).content.decode()
    assert AuditEvent.objects.filter(action="certification.revealed").count() == 2

    download = client.get(p["certification_licence"], REMOTE_ADDR=IP)
    assert download.status_code == 200 and download.content == PDF
    viewed = AuditEvent.objects.get(action="certification.file_viewed")
    assert (viewed.actor, viewed.ip_address, viewed.metadata) == (user, IP, {"file": "business_licence"})


def test_reveal_of_a_field_that_is_not_sensitive_is_404(client, world):
    """Only declared sensitive values have a reveal page: no generic decryption oracle."""
    cert = world["certification"]
    login(client, UserFactory(is_staff=True, is_superuser=True))
    for field in ("attestation", "registration_number", "business_licence", "nope"):
        url = reverse("admin:organizations_certification_reveal", args=[cert.pk, field])
        assert client.post(url).status_code == 404
    missing = reverse("admin:organizations_certification_reveal", args=[999999, "legal_representative_id_number"])
    assert client.post(missing).status_code == 404
    assert not AuditEvent.objects.filter(action="certification.revealed").exists()


def test_auditor_pages_never_show_revealed_values(client, world):
    """SEC-1: the audit trail records that a value was revealed, never the value, so the
    auditor reads it without decrypting anything."""
    login(client, staff_in("certification_reviewer")).post(pages(world)["certification_reveal"])
    event = AuditEvent.objects.get(action="certification.revealed")
    login(client, staff_in("auditor"))
    for url in (pages(world)["audit_list"], reverse("admin:dataprotection_auditevent_change", args=[event.pk])):
        body = client.get(url).content.decode()
        assert ID_NUMBER not in body and LEGAL_NAME not in body


def test_certification_list_query_count_is_constant(client, cast, world, django_assert_num_queries):
    """The reviewer's list costs the same number of queries for 1 row or 4."""
    from tests.factories import OrganizationFactory

    login(client, staff_in("certification_reviewer"))
    url = pages(world)["certification_list"]
    client.get(url)
    with CaptureQueriesContext(connection) as one:
        assert client.get(url).status_code == 200
    for _ in range(3):
        other = OrganizationFactory()
        Certification.objects.create(
            organization=other,
            registration_number="91350100M000100Y43",
            legal_representative_name=LEGAL_NAME,
            legal_representative_id_number=ID_NUMBER,
            business_licence="x",
            business_licence_type="application/pdf",
            certification_letter="y",
            certification_letter_type="image/png",
            attestation="yes",
        )
    with django_assert_num_queries(len(one.captured_queries)):
        response = client.get(url)
    assert len(response.context["cl"].result_list) == 4


# --------------------------------------------------------------------------- users


def test_only_superusers_grant_staff_rights(client, world):
    """SEC-1: a staff member who may edit accounts cannot make anyone (themselves
    included) staff, superuser or a member of a role group."""
    editor = UserFactory(is_staff=True)
    editor.user_permissions.set(Permission.objects.filter(codename__in=["view_user", "change_user"]))
    login(client, editor)
    page = client.get(reverse("admin:accounts_user_change", args=[editor.pk])).content.decode()
    for field in ("is_superuser", "is_staff", "groups"):
        assert f'name="{field}"' not in page
    login(client, UserFactory(is_staff=True, is_superuser=True))
    page = client.get(reverse("admin:accounts_user_change", args=[editor.pk])).content.decode()
    assert 'name="is_superuser"' in page and 'name="groups"' in page


# --------------------------------------------------------------------------- sync


def group_permissions(role) -> set[str]:
    group = Group.objects.get(name=role.group)
    return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}


def test_sync_gives_each_group_exactly_its_permissions_and_is_idempotent():
    """SEC-1: every listed permission exists; after a sync each group holds exactly its
    role's permissions; a second sync changes nothing."""
    first = sync_staff_roles()
    assert first.missing == []
    for role in ROLES:
        assert group_permissions(role) == set(role.permissions)
    second = sync_staff_roles()
    assert not second.changed and second.lines() == []


def test_sync_repairs_drift_and_the_command_reports_it():
    """SEC-1: a permission added to a role group by hand is withdrawn, a deleted group
    comes back; the command says what it changed (and records it, SEC-2), then that
    nothing changed."""
    sync_staff_roles()
    auditor = Group.objects.get(name=staff_roles.AUDITOR.group)
    auditor.permissions.add(Permission.objects.get(codename="view_request_details"))
    Group.objects.filter(name=staff_roles.INCIDENT_MANAGER.group).delete()

    out = StringIO()
    call_command("sync_staff_roles", stdout=out)
    text = out.getvalue()
    assert "Auditor: withdrew requests.view_request_details" in text
    assert "created group 'Incident manager'" in text
    assert "Incident manager: granted organizations.send_incident_notices" in text
    assert group_permissions(staff_roles.AUDITOR) == set(staff_roles.AUDITOR.permissions)
    synced = AuditEvent.objects.get(action="staff_roles.synced")
    assert synced.metadata["removed"] == {"Auditor": ["requests.view_request_details"]}

    out = StringIO()
    call_command("sync_staff_roles", stdout=out)
    assert "no changes" in out.getvalue()
    assert AuditEvent.objects.filter(action="staff_roles.synced").count() == 1


def test_groups_exist_after_migrate():
    """SEC-1: the post_migrate receiver created the groups when the test database was
    built (no command needed after a deployment's migrate)."""
    assert set(Group.objects.filter(name__in=[r.group for r in ROLES]).values_list("name", flat=True)) == {
        r.group for r in ROLES
    }
