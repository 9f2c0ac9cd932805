"""The consent API (the REST API): the person's consents, ledger, receipt and privacy
settings (CON-1 to CON-5), and an organization's services and sharing grants (SVC-1 to
SVC-3) -- the permission matrix of every endpoint and method, pinned query counts on
the lists, and bad input."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.api.tokens import create_api_token
from accounts.models import TokenScope
from consent.models import Channel, ConsentRecord, Decision, PolicyVersion, PrivacySettings, Purpose
from consent.models.sharing import DeletionNotice, GrantStatus, NoticeStatus, SharingGrant
from consent.services import ledger, sharing
from dataprotection.models import AuditEvent
from organizations.models import OrganizationStatus, Right
from organizations.services.grants import grant_rights
from tests.consent.test_sharing import add_scopes, open_for, third_party
from tests.factories import AdministratorFactory, UserFactory, verified_session

pytestmark = pytest.mark.django_db

CONSENTS = "/api/v1/consents/"
HISTORY = "/api/v1/consents/history/"
RECEIPT = "/api/v1/consents/receipt/"
SETTINGS = "/api/v1/privacy-settings/"

# Roles beyond tests/organizations/matrix.py: a read-only token of the person, and a
# token of the person restricted to another organization.
PERSONAL_ROLES = ("person", "read_token", "other_org_token", "anonymous")


# --------------------------------------------------------------------------- helpers


def bearer(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def as_user(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def token_client(user, *, scope=TokenScope.WRITE, organization_id=None) -> APIClient:
    secret, _token = create_api_token(
        user, minted_by=verified_session(), name="test", scope=scope, organization_id=organization_id
    )
    return bearer(secret)


def assert_error(response, status: int, code: str | None = None) -> dict:
    """The one error body of the API."""
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["status"] == status and error["message"]
    if code is not None:
        assert error["code"] == code
    return error


def personal_client(role: str, user, cast) -> APIClient:
    if role == "person":
        return as_user(user)
    if role == "read_token":
        return token_client(user, scope=TokenScope.READ)
    if role == "other_org_token":  # an integration token of an organization the person administers
        AdministratorFactory(organization=cast.organization, user=user)
        return token_client(user, organization_id=cast.organization.pk)
    return APIClient()


def version() -> int | None:
    current = ledger.current_policy_version()
    return current.pk if current else None


def decision(purpose=Purpose.PERSONALIZATION, decided=Decision.GRANTED, **extra) -> dict:
    return {"purpose": purpose, "decision": decided, "policy_version": version(), **extra}


@pytest.fixture
def person(db):
    return UserFactory(name="Consenting person")


@pytest.fixture
def policy(db):
    """A published policy version of the deployment's edition (the newest)."""
    from datetime import date

    return PolicyVersion.objects.create(
        edition=ledger.deployment_edition(),
        version="2099-01",
        effective_on=date(2099, 1, 1),
        published_at="2099-01-01T00:00Z",
    )


# --------------------------------------------------------------------------- personal: the matrix

# (GET consents, POST consents, GET history, GET receipt, GET settings, PATCH settings)
PERSONAL_EXPECTED = {
    "person": (200, 201, 200, 200, 200, 200),
    "read_token": (200, 403, 200, 200, 200, 403),
    "other_org_token": (403, 403, 403, 403, 403, 403),
    "anonymous": (401, 401, 401, 401, 401, 401),
}


@pytest.mark.parametrize("role", PERSONAL_ROLES)
def test_personal_permission_matrix(cast, person, policy, role):
    """CON-2, CON-3: the person's own data; a read-only token reads but cannot
    decide; an organization's integration token may not act as the person; anonymous
    callers get a 401. Only the allowed callers write."""
    client = personal_client(role, person, cast)
    got = (
        client.get(CONSENTS).status_code,
        client.post(CONSENTS, decision(), format="json").status_code,
        client.get(HISTORY).status_code,
        client.get(RECEIPT).status_code,
        client.get(SETTINGS).status_code,
        client.patch(SETTINGS, {"findable_by_phone": True}, format="json").status_code,
    )
    assert got == PERSONAL_EXPECTED[role]
    wrote = PERSONAL_EXPECTED[role][1] == 201
    assert ConsentRecord.objects.filter(user=person).exists() is wrote
    assert PrivacySettings.objects.filter(user=person, findable_by_phone=True).exists() is wrote


# --------------------------------------------------------------------------- consents


def test_overview_lists_every_purpose_with_time_and_policy_version(person, policy):
    """CON-2, CON-3: the current state per purpose, when it was decided and under which
    policy version; never decided is null (no consent, CON-1)."""
    ledger.record_consent(
        user=person, purpose=Purpose.MARKETING, decision=Decision.GRANTED, channel=Channel.WEB, policy_version=policy.pk
    )
    body = as_user(person).get(CONSENTS).json()
    assert body["current_policy_version"] == policy.pk
    assert body["current_policy_version_label"] == "2099-01"
    states = {state["purpose"]: state for state in body["purposes"]}
    assert set(states) == set(Purpose.values)
    assert states["marketing"]["granted"] is True
    assert states["marketing"]["policy_version"] == "2099-01"
    assert states["marketing"]["decided_at"]
    assert states["personalization"] == {**states["personalization"], "granted": False, "decision": None}
    assert states["face_recognition"]["sensitive"] is True


def test_overview_costs_a_fixed_number_of_queries(person, policy, django_assert_num_queries):
    """CON-3: one query for the policy version and one for the ledger, whatever its size."""
    for purpose in (Purpose.MARKETING, Purpose.PERSONALIZATION, Purpose.CONTACT_MATCHING):
        for decided in (Decision.GRANTED, Decision.WITHDRAWN, Decision.GRANTED):
            ledger.record_consent(
                user=person, purpose=purpose, decision=decided, channel=Channel.WEB, policy_version=policy.pk
            )
    client = as_user(person)
    with django_assert_num_queries(2):
        assert client.get(CONSENTS).status_code == 200


def test_deciding_appends_one_record_with_channel_api(person, policy):
    """CON-2: a grant through the API is one ledger record (channel api) and one audit
    event; deciding the same again writes nothing (200)."""
    client = as_user(person)
    response = client.post(CONSENTS, decision(), format="json")
    assert response.status_code == 201
    assert response.json()["granted"] is True
    record = ConsentRecord.objects.get(user=person)
    assert (record.channel, record.policy_version_id) == (Channel.API, policy.pk)
    assert AuditEvent.objects.filter(action="consent.granted").count() == 1
    again = client.post(CONSENTS, decision(), format="json")
    assert again.status_code == 200
    assert ConsentRecord.objects.filter(user=person).count() == 1
    withdrawn = client.post(CONSENTS, decision(decided=Decision.WITHDRAWN), format="json")
    assert withdrawn.status_code == 201 and withdrawn.json()["granted"] is False
    assert ConsentRecord.objects.filter(user=person).count() == 2  # the grant is never erased


def test_a_stale_policy_version_is_refused_and_writes_nothing(person, policy):
    """CON-2, CON-6: a decision made on an older policy version is a 400 asking to
    review the policy; nothing is written."""
    older = PolicyVersion.objects.create(
        edition=policy.edition, version="2098-01", effective_on=policy.effective_on, published_at="2098-01-01T00:00Z"
    )
    response = as_user(person).post(CONSENTS, decision(policy_version=older.pk), format="json")
    error = assert_error(response, 400, "invalid")
    assert "policy changed" in error["message"]
    assert not ConsentRecord.objects.exists()


def test_sensitive_purposes_need_explicit_consent(person, policy):
    """CON-5: a sensitive purpose is granted only with explicit: true; withdrawing needs
    no confirmation."""
    client = as_user(person)
    refused = client.post(CONSENTS, decision(Purpose.FACE_RECOGNITION), format="json")
    assert "explicit" in assert_error(refused, 400)["fields"]
    assert not ConsentRecord.objects.exists()
    granted = client.post(CONSENTS, decision(Purpose.FACE_RECOGNITION, explicit=True), format="json")
    assert granted.status_code == 201
    withdrawn = client.post(CONSENTS, decision(Purpose.FACE_RECOGNITION, Decision.WITHDRAWN), format="json")
    assert withdrawn.status_code == 201


@pytest.mark.parametrize(
    "body, field",
    [
        ({"purpose": "telepathy", "decision": "granted", "policy_version": None}, "purpose"),
        ({"purpose": "marketing", "decision": "maybe", "policy_version": None}, "decision"),
        ({"purpose": "marketing", "decision": "granted"}, "policy_version"),
        ({"purpose": "marketing", "decision": "granted", "policy_version": "x"}, "policy_version"),
        ({"purpose": "marketing", "decision": "granted", "policy_version": 10**30}, "policy_version"),
        ({"purpose": "marketing", "decision": "granted", "policy_version": None, "channel": "web"}, "channel"),
        ({"purpose": ["marketing"], "decision": "granted", "policy_version": None}, "purpose"),
    ],
)
def test_bad_decisions_are_400_naming_the_field(person, policy, body, field):
    """CON-2: unknown purposes, wrong types, huge numbers and unknown fields
    are a 400 naming the field; nothing is written."""
    response = as_user(person).post(CONSENTS, body, format="json")
    assert field in assert_error(response, 400, "invalid")["fields"]
    assert not ConsentRecord.objects.exists()


def test_a_json_list_body_is_a_400(person, policy):
    response = as_user(person).post(CONSENTS, [decision()], format="json")
    assert_error(response, 400)


def test_an_idempotency_key_replays_the_decision(person, policy):
    """The REST API: a retried decision with the same key is answered again, written once."""
    client = as_user(person)
    first = client.post(CONSENTS, decision(), format="json", HTTP_IDEMPOTENCY_KEY="k1")
    again = client.post(CONSENTS, decision(), format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again["Idempotent-Replayed"] == "true"
    other = client.post(CONSENTS, decision(Purpose.MARKETING), format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert_error(other, 422)
    assert ConsentRecord.objects.count() == 1


def test_history_is_the_whole_ledger_newest_first(person, policy, django_assert_num_queries):
    """CON-2: every record, withdrawals included, paginated; a fixed number of queries
    whatever the page size."""
    for decided in (Decision.GRANTED, Decision.WITHDRAWN, Decision.GRANTED):
        ledger.record_consent(
            user=person, purpose=Purpose.MARKETING, decision=decided, channel=Channel.WEB, policy_version=policy.pk
        )
    ledger.record_consent(user=UserFactory(), purpose=Purpose.MARKETING, decision=Decision.GRANTED, channel="web")
    client = as_user(person)
    with django_assert_num_queries(2):  # count, page
        body = client.get(HISTORY).json()
    assert body["count"] == 3
    assert [row["decision"] for row in body["results"]] == ["granted", "withdrawn", "granted"]
    assert body["results"][0]["policy_version"] == "2099-01"
    with django_assert_num_queries(2):
        assert len(client.get(HISTORY, {"page_size": 1}).json()["results"]) == 1
    assert_error(client.get(HISTORY, {"page": "x"}), 400)


def test_receipt_is_the_kantara_document(person, policy):
    """CON-2: the same receipt the page downloads, with the ledger."""
    ledger.record_consent(user=person, purpose=Purpose.MARKETING, decision=Decision.GRANTED, channel="web")
    body = as_user(person).get(RECEIPT).json()
    assert body["version"] == "KI-CR-v1.1.0"
    assert [p["purposeCode"] for p in body["services"][0]["purposes"]] == ["marketing"]
    assert len(body["ledger"]) == 1
    assert person.phone not in str(body)


# --------------------------------------------------------------------------- privacy settings


def test_privacy_settings_read_and_change(person):
    """CON-3, CON-4: both settings through the privacy services, audited; the device
    permission list is replaced, in catalog order."""
    client = as_user(person)
    assert client.get(SETTINGS).json() == {"findable_by_phone": False, "device_permissions": [], "updated_at": None}
    response = client.patch(
        SETTINGS, {"findable_by_phone": True, "device_permissions": ["camera", "location"]}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["device_permissions"] == ["location", "camera"]
    row = PrivacySettings.objects.get(user=person)
    assert row.findable_by_phone and row.discovery_digest
    assert AuditEvent.objects.filter(action="privacy.findable_by_phone_changed").count() == 1
    only = client.patch(SETTINGS, {"device_permissions": []}, format="json").json()
    assert only == {**only, "findable_by_phone": True, "device_permissions": []}


@pytest.mark.parametrize(
    "body",
    [
        {"device_permissions": ["camera", "x-ray"]},
        {"device_permissions": "camera"},
        {"findable_by_phone": "perhaps"},
        {"nickname": "Zed"},
        {"device_permissions": ["camera"] * 100},
    ],
)
def test_bad_privacy_settings_are_400_and_write_nothing(person, body):
    """The REST API: nothing half-written: a valid field beside an invalid one is not saved."""
    response = as_user(person).patch(SETTINGS, {"findable_by_phone": True, **body}, format="json")
    assert_error(response, 400, "invalid")
    assert not PrivacySettings.objects.exists()


# --------------------------------------------------------------------------- services: the matrix


def services_url(cast, suffix: str = "") -> str:
    return f"/api/v1/organizations/{cast.organization.pk}/services/{suffix}"


def confirm(service) -> dict:
    return {"scopes": list(service.data_scopes), "scopes_revision": service.scopes_revision}


@pytest.fixture
def services_manager(cast):
    """A sub-administrator holding manage_services on the whole organization."""
    user = UserFactory(name="Services manager")
    AdministratorFactory(organization=cast.organization, user=user)
    grant_rights(user, [Right.MANAGE_SERVICES], cast.organization)
    return user


ORG_ROLES = (
    "owner",
    "services_manager",
    "sub_admin",
    "out_of_scope_sub_admin",
    "other_org_admin",
    "member_user",
    "anonymous",
    "read_token",
    "other_org_token",
)


def org_client(role: str, cast, services_manager=None) -> APIClient:
    """A client for a role of the organization matrix (ORG_ROLES); ``services_manager``
    only for that role of this file."""
    if role == "services_manager":
        return as_user(services_manager)
    if role == "read_token":
        return token_client(cast.owner, scope=TokenScope.READ)
    if role == "other_org_token":
        other = cast.other_org_admin.administrations.get().organization
        AdministratorFactory(organization=other, user=cast.owner)  # tokens are restricted to one's own
        return token_client(cast.owner, organization_id=other.pk)
    if role == "anonymous":
        return APIClient()
    return as_user(getattr(cast, role))


# (GET list, GET grants, GET notices, POST open, POST reconfirm, POST close)
SERVICES_EXPECTED = {
    "owner": (200, 200, 200, 201, 200, 200),
    "services_manager": (200, 200, 200, 201, 200, 200),
    "sub_admin": (403, 403, 403, 403, 403, 403),  # roster rights on Sales only
    "out_of_scope_sub_admin": (403, 403, 403, 403, 403, 403),
    "other_org_admin": (404, 404, 404, 404, 404, 404),
    "member_user": (404, 404, 404, 404, 404, 404),
    "anonymous": (401, 401, 401, 401, 401, 401),
    "read_token": (200, 200, 200, 403, 403, 403),
    "other_org_token": (404, 404, 404, 404, 404, 404),
}


@pytest.mark.parametrize("role", ORG_ROLES)
def test_services_permission_matrix(cast, services_manager, role):
    """SVC-1 to SVC-3, ORG-9: manage_services on the whole organization, the
    pages' gate: scoped sub-admins 403, outsiders and a token restricted to another
    organization 404, read-only tokens cannot write. Only the allowed callers write."""
    to_open, to_reconfirm, to_close = third_party("open-me"), third_party("reconfirm-me"), third_party("close-me")
    open_for(cast, to_reconfirm)
    open_for(cast, to_close)
    add_scopes(to_reconfirm, "office_email")
    to_reconfirm.refresh_from_db()
    client = org_client(role, cast, services_manager)
    got = (
        client.get(services_url(cast)).status_code,
        client.get(services_url(cast, "grants/")).status_code,
        client.get(services_url(cast, "notices/")).status_code,
        client.post(services_url(cast, f"{to_open.pk}/open/"), confirm(to_open), format="json").status_code,
        client.post(
            services_url(cast, f"{to_reconfirm.pk}/reconfirm/"), confirm(to_reconfirm), format="json"
        ).status_code,
        client.post(services_url(cast, f"{to_close.pk}/close/"), format="json").status_code,
    )
    assert got == SERVICES_EXPECTED[role]
    wrote = SERVICES_EXPECTED[role][3] == 201
    assert SharingGrant.objects.filter(service=to_open).exists() is wrote
    assert SharingGrant.objects.get(service=to_close).status == (GrantStatus.REVOKED if wrote else GrantStatus.ACTIVE)
    assert (SharingGrant.objects.get(service=to_reconfirm).scopes_revision == 2) is wrote


def test_a_frozen_organization_is_403_as_on_the_pages(cast):
    """ORG-11: during a pending disband manage_services is withheld."""
    cast.organization.status = OrganizationStatus.FROZEN
    cast.organization.save(update_fields=["status"])
    assert_error(as_user(cast.owner).get(services_url(cast)), 403)


# --------------------------------------------------------------------------- services: behaviour


def test_catalog_lists_each_service_with_its_state(cast, django_assert_num_queries):
    """SVC-1, SVC-2: every catalog entry with its open grant and the scopes it asks for
    since; a fixed number of queries whatever the number of services and grants."""
    services = [third_party(f"app-{n}") for n in range(4)]
    for service in services[:3]:
        open_for(cast, service)
    add_scopes(services[0], "office_email")
    sharing.close_service(sharing_access(cast), sharing.active_grant(cast.organization, services[1]))
    client = as_user(cast.owner)
    # administrator row, services, grants, paginator count (a list: none)
    with django_assert_num_queries(3):
        body = client.get(services_url(cast)).json()
    rows = {row["code"]: row for row in body["results"] if row["code"].startswith("app-")}
    assert rows["app-0"]["is_open"] and rows["app-0"]["asks_for_more"] == ["office_email"]
    assert rows["app-1"]["is_open"] is False and rows["app-1"]["grant"]["status"] == "revoked"
    assert rows["app-2"]["grant"]["opened_by"] == cast.owner.name
    assert rows["app-3"]["grant"] is None and rows["app-3"]["scopes_revision"] == 1


def sharing_access(cast):
    from organizations.permissions import org_access

    return org_access(cast.owner, cast.organization.pk)


def test_opening_records_exactly_what_was_confirmed(cast):
    """SVC-2, SVC-3: the grant names the administrator, the scopes and the revision."""
    service = third_party()
    response = as_user(cast.owner).post(services_url(cast, f"{service.pk}/open/"), confirm(service), format="json")
    assert response.status_code == 201
    body = response.json()
    assert (body["status"], body["scopes"], body["scopes_revision"]) == ("active", ["name", "mobile"], 1)
    assert AuditEvent.objects.filter(action="service.opened").count() == 1


@pytest.mark.parametrize(
    "body",
    [
        {"scopes": ["name"], "scopes_revision": 1},  # less than shown: the page was altered
        {"scopes": ["name", "mobile"], "scopes_revision": 2},
        {"scopes": ["name", "mobile", "salary"], "scopes_revision": 1},
    ],
)
def test_a_stale_confirmation_is_a_400_and_writes_nothing(cast, body):
    """SVC-2: what is confirmed must be what the catalog declares now."""
    service = third_party()
    response = as_user(cast.owner).post(services_url(cast, f"{service.pk}/open/"), body, format="json")
    assert "changed since" in assert_error(response, 400, "invalid")["message"]
    assert not SharingGrant.objects.exists()


@pytest.mark.parametrize(
    "body, field",
    [
        ({"scopes": "name", "scopes_revision": 1}, "scopes"),
        ({"scopes": ["name"], "scopes_revision": "one"}, "scopes_revision"),
        ({"scopes": ["name"], "scopes_revision": 10**20}, "scopes_revision"),
        ({"scopes": ["name"] * 1000, "scopes_revision": 1}, "scopes"),
        ({"scopes": ["name"], "scopes_revision": 1, "confirm": True}, "confirm"),
        ({"scopes_revision": 1}, "scopes"),
    ],
)
def test_bad_confirmations_are_400_naming_the_field(cast, body, field):
    service = third_party()
    response = as_user(cast.owner).post(services_url(cast, f"{service.pk}/open/"), body, format="json")
    assert field in assert_error(response, 400, "invalid")["fields"]
    assert not SharingGrant.objects.exists()


def test_open_twice_and_closing_a_closed_service_are_409(cast):
    service = third_party()
    client = as_user(cast.owner)
    assert client.post(services_url(cast, f"{service.pk}/open/"), confirm(service), format="json").status_code == 201
    assert_error(client.post(services_url(cast, f"{service.pk}/open/"), confirm(service), format="json"), 409)
    assert_error(client.post(services_url(cast, f"{service.pk}/reconfirm/"), confirm(service), format="json"), 409)
    assert client.post(services_url(cast, f"{service.pk}/close/")).status_code == 200
    assert_error(client.post(services_url(cast, f"{service.pk}/close/")), 409)
    assert SharingGrant.objects.count() == 1


def test_another_organizations_self_built_app_and_unknown_services_are_404(cast):
    """SVC-1: another organization's self-built app does not exist for this one."""
    from consent.models.sharing import ServiceKind

    app = third_party("their-app", kind=ServiceKind.SELF_BUILT)
    app.organization = cast.other_org_admin.administrations.get().organization
    app.save()
    client = as_user(cast.owner)
    assert_error(client.post(services_url(cast, f"{app.pk}/open/"), confirm(app), format="json"), 404)
    assert_error(client.post(services_url(cast, "999999/close/")), 404)


def test_reconfirm_takes_the_new_scopes(cast):
    """SVC-2: the provider asks for more; the administrator confirms the new revision."""
    service = third_party()
    open_for(cast, service)
    add_scopes(service, "office_email")
    service.refresh_from_db()
    client = as_user(cast.owner)
    stale = client.post(
        services_url(cast, f"{service.pk}/reconfirm/"),
        {"scopes": ["name", "mobile"], "scopes_revision": 1},
        format="json",
    )
    assert_error(stale, 400)
    response = client.post(services_url(cast, f"{service.pk}/reconfirm/"), confirm(service), format="json")
    assert response.status_code == 200
    assert response.json()["scopes"] == ["name", "mobile", "office_email"]


def test_close_revokes_and_queues_the_notice_listed_with_its_state(cast, django_assert_num_queries):
    """SVC-3: closing answers with the closed grant and the queued deletion notice; the
    notices and grants lists show them, in a fixed number of queries."""
    services = [third_party(f"app-{n}") for n in range(3)]
    for service in services:
        open_for(cast, service)
    client = as_user(cast.owner)
    response = client.post(services_url(cast, f"{services[0].pk}/close/"))
    assert response.status_code == 200
    body = response.json()
    assert body["grant"]["status"] == "revoked" and body["grant"]["closed_by"] == cast.owner.name
    assert body["deletion_notice"]["status"] in NoticeStatus.values
    for service in services[1:]:
        sharing.close_service(sharing_access(cast), sharing.active_grant(cast.organization, service))
    with django_assert_num_queries(3):  # administrator row, count, page
        notices = client.get(services_url(cast, "notices/")).json()
    assert notices["count"] == DeletionNotice.objects.filter(organization=cast.organization).count() == 3
    assert {row["service_code"] for row in notices["results"]} == {"app-0", "app-1", "app-2"}
    with django_assert_num_queries(3):
        grants = client.get(services_url(cast, "grants/")).json()
    assert grants["count"] == 3 and {row["status"] for row in grants["results"]} == {"revoked"}
    with django_assert_num_queries(3):
        assert len(client.get(services_url(cast, "grants/"), {"page_size": 1}).json()["results"]) == 1
