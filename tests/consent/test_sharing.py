"""Opening, reconfirming and closing services (SVC-2, SVC-3), the catalog entries staff
maintain (SVC-1) and the provider tokens (SVC-3): what is recorded, what a stale form
or a frozen organization writes (nothing), and that closing stops sharing at once.

Also holds the helpers the other sharing tests import (``third_party``, ``owner_access``)."""

from __future__ import annotations

import hashlib
import importlib
from datetime import timedelta

import pytest
from django.apps import apps as django_apps
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.utils import timezone

from consent.models.sharing import (
    DeletionNotice,
    GrantStatus,
    NoticeReason,
    PersonalAuthorization,
    ProviderToken,
    Service,
    ServiceKind,
    SharingGrant,
)
from consent.services import sharing, tokens
from consent.services.open_ids import organization_open_id
from dataprotection.models import AuditEvent
from organizations.models import OrganizationStatus, Right
from organizations.permissions import org_access
from organizations.services.grants import grant_rights
from tests.factories import AdministratorFactory, UserFactory

pytestmark = pytest.mark.django_db

FIRST_PARTY_MIGRATION = importlib.import_module("consent.migrations.0002_first_party_services")

CLIENT_SECRET = "css_test-client-secret-0123456789"
NOTICE_SECRET = "notice-signing-secret-0123456789"
# A closed port: nothing listens on the discard port of the loopback.
CLOSED_URL = "http://127.0.0.1:9/custodia/notices"


def third_party(code="acme-crm", scopes=("name", "mobile"), *, notice_url=CLOSED_URL, kind=ServiceKind.THIRD_PARTY):
    return Service.objects.create(
        code=code,
        name=f"{code} app",
        kind=kind,
        provider_name="Acme Ltd.",
        privacy_policy_url="https://acme.example/privacy",
        data_scopes=list(scopes),
        notice_url=notice_url,
        notice_secret=NOTICE_SECRET,
        client_secret_digest=hashlib.sha256(CLIENT_SECRET.encode()).hexdigest(),
    )


def first_party(code: str) -> Service:
    """A first-party catalog entry as the migration installs it (run again here: a
    transactional test earlier in the session flushes the migration's rows)."""
    FIRST_PARTY_MIGRATION.add_first_party_services(django_apps, None)
    return Service.objects.get(code=code)


def owner_access(cast):
    return org_access(cast.owner, cast.organization.pk)


def open_for(cast, service, access=None):
    return sharing.open_service(
        access or owner_access(cast), service, scopes=service.data_scopes, scopes_revision=service.scopes_revision
    )


def add_scopes(service, *scopes):
    """What staff do in the console: more scopes, a higher revision."""
    service.data_scopes = [*service.data_scopes, *scopes]
    staff = UserFactory(is_staff=True)
    sharing.save_catalog_service(staff, service)
    service.refresh_from_db()
    return service


# --------------------------------------------------------------------------- first-party catalog


def test_first_party_catalog_is_installed_by_the_migration():
    """SVC-1: attendance, approvals, work logs, drive and mail are first-party services
    without a provider; installing them twice changes nothing."""
    first_party("mail")
    first_party("mail")
    services = Service.objects.filter(kind=ServiceKind.FIRST_PARTY)
    assert set(services.values_list("code", flat=True)) >= {"attendance", "approvals", "work-logs", "drive", "mail"}
    assert not services.exclude(provider_name="").exists()
    assert not services.exclude(notice_url="").exists()


# --------------------------------------------------------------------------- opening


def test_open_records_who_confirmed_which_scopes(cast):
    """SVC-2, SVC-3: the grant records the administrator, the scopes and revision they
    confirmed, and when; one audit event."""
    service = third_party()
    grant = sharing.open_service(
        owner_access(cast), service, scopes=["mobile", "name"], scopes_revision=1, ip="203.0.113.5"
    )
    assert (grant.status, grant.opened_by, grant.scopes, grant.scopes_revision) == (
        GrantStatus.ACTIVE,
        cast.owner,
        ["name", "mobile"],
        1,
    )
    event = AuditEvent.objects.get(action="service.opened")
    assert (event.actor, event.organization_id, event.ip_address) == (cast.owner, cast.organization.pk, "203.0.113.5")
    assert event.metadata == {"service": "acme-crm", "scopes": ["name", "mobile"], "scopes_revision": 1}


@pytest.mark.parametrize(
    ("scopes", "revision"),
    [(["name"], 1), (["name", "mobile", "office_email"], 1), (["name", "mobile"], 2), (["name", "mobile"], "x")],
)
def test_a_stale_or_altered_form_is_refused_and_writes_nothing(cast, scopes, revision):
    """SVC-2: what the administrator confirmed must be what the catalog declares now."""
    service = third_party()
    with pytest.raises(ValidationError) as caught:
        sharing.open_service(owner_access(cast), service, scopes=scopes, scopes_revision=revision)
    assert caught.value.code == "stale"
    assert not SharingGrant.objects.exists()
    assert not AuditEvent.objects.filter(action="service.opened").exists()


def test_scopes_added_after_the_page_was_shown_refuse_the_form(cast):
    """SVC-2: staff add a scope between showing and confirming: refused, nothing written."""
    service = third_party()
    shown = (list(service.data_scopes), service.scopes_revision)
    add_scopes(Service.objects.get(pk=service.pk), "office_email")
    with pytest.raises(ValidationError, match="changed since the page was shown"):
        sharing.open_service(owner_access(cast), service, scopes=shown[0], scopes_revision=shown[1])
    assert not SharingGrant.objects.exists()


def test_open_twice_is_refused(cast):
    service = third_party()
    open_for(cast, service)
    with pytest.raises(ValidationError) as caught:
        open_for(cast, service)
    assert caught.value.code == "already_open"
    assert SharingGrant.objects.count() == 1


def test_another_organizations_self_built_app_cannot_be_opened(cast):
    """SVC-1: a self-built app is only in its own organization's catalog."""
    other = cast.other_org_admin.administrations.get().organization
    app = third_party("their-app", kind=ServiceKind.SELF_BUILT)
    app.organization = other
    app.save()
    with pytest.raises(ValidationError) as caught:
        open_for(cast, app)
    assert caught.value.code == "unavailable"


def test_opening_needs_manage_services_on_the_whole_organization(cast):
    """SVC-2, ORG-9: roster rights are not enough, nor manage_services on a subtree."""
    service = third_party()
    with pytest.raises(PermissionDenied):
        open_for(cast, service, org_access(cast.sub_admin, cast.organization.pk))
    grant_rights(cast.sub_admin, [Right.MANAGE_SERVICES], cast.sales)
    with pytest.raises(PermissionDenied):
        open_for(cast, service, org_access(cast.sub_admin, cast.organization.pk))
    manager = UserFactory()
    AdministratorFactory(organization=cast.organization, user=manager)
    grant_rights(manager, [Right.MANAGE_SERVICES], cast.organization)
    assert open_for(cast, service, org_access(manager, cast.organization.pk)).opened_by == manager


def test_a_frozen_organization_opens_and_closes_nothing(cast):
    """ORG-11: during a pending disband the write right is withheld."""
    service = third_party()
    grant = open_for(cast, service)
    cast.organization.status = OrganizationStatus.FROZEN
    cast.organization.save()
    access = owner_access(cast)
    with pytest.raises(PermissionDenied):
        open_for(cast, third_party("other-app"), access)
    with pytest.raises(PermissionDenied):
        sharing.close_service(access, grant)
    grant.refresh_from_db()
    assert grant.status == GrantStatus.ACTIVE
    assert not DeletionNotice.objects.exists()


# --------------------------------------------------------------------------- reconfirming


def test_reconfirm_takes_the_new_scopes_and_refuses_stale_forms(cast):
    """SVC-2: more scopes need a new confirmation; a stale one is refused."""
    service = third_party()
    grant = open_for(cast, service)
    add_scopes(service, "office_email")
    grant.refresh_from_db()
    assert sharing.needs_reconfirmation(grant)
    assert sharing.added_scopes(grant) == ["office_email"]
    assert sharing.effective_scopes(grant) == ["name", "mobile"]
    with pytest.raises(ValidationError):
        sharing.reconfirm_service(owner_access(cast), grant, scopes=["name", "mobile"], scopes_revision=1)
    grant.refresh_from_db()
    assert grant.scopes_revision == 1
    sharing.reconfirm_service(
        owner_access(cast), grant, scopes=["mobile", "name", "office_email"], scopes_revision=service.scopes_revision
    )
    grant.refresh_from_db()
    assert (sorted(grant.scopes), grant.scopes_revision) == (["mobile", "name", "office_email"], 2)
    assert not sharing.needs_reconfirmation(grant)
    assert AuditEvent.objects.get(action="service.scopes_confirmed").metadata["after"] == grant.scopes


def test_removed_scopes_stop_at_once_without_reconfirmation(cast):
    """SVC-2: a scope the service no longer declares is not sent, even if confirmed."""
    service = third_party()
    grant = open_for(cast, service)
    service.data_scopes = ["name"]
    sharing.save_catalog_service(cast.staff, service)
    grant.refresh_from_db()
    assert service.scopes_revision == 1  # fewer scopes ask for no confirmation
    assert sharing.effective_scopes(grant) == ["name"]


# --------------------------------------------------------------------------- closing


def test_close_revokes_tokens_at_once_and_queues_one_notice(cast):
    """SVC-3: closing stops sharing (tokens revoked in the same transaction) and queues
    a deletion notice for everything the provider received through the organization."""
    service = third_party()
    grant = open_for(cast, service)
    raw, _token = tokens.issue_token(grant=grant)
    assert tokens.authenticate_token(raw) is not None
    notice = sharing.close_service(owner_access(cast), grant, ip="203.0.113.7")
    assert tokens.authenticate_token(raw) is None
    assert ProviderToken.objects.get().revoked_at is not None
    grant.refresh_from_db()
    assert (grant.status, grant.closed_by, grant.close_reason) == (
        GrantStatus.REVOKED,
        cast.owner,
        NoticeReason.SERVICE_CLOSED,
    )
    assert notice.payload["scope"] == "all"
    assert notice.payload["organization"] == organization_open_id(service.code, cast.organization.pk)
    assert DeletionNotice.objects.get() == notice
    event = AuditEvent.objects.get(action="service.closed")
    assert event.metadata["tokens_revoked"] == 1 and event.metadata["deletion_notice"] == str(notice.uuid)
    with pytest.raises(ValidationError):
        sharing.close_service(owner_access(cast), grant)


def test_close_grant_is_gate_free_and_idempotent(cast):
    """ORG-11: the disband cascade closes grants of a frozen organization; a second
    call does nothing."""
    grant = open_for(cast, third_party())
    cast.organization.status = OrganizationStatus.FROZEN
    cast.organization.save()
    notice = sharing.close_grant(grant, reason=NoticeReason.ORGANIZATION_DISBANDED)
    assert notice.reason == NoticeReason.ORGANIZATION_DISBANDED
    assert sharing.close_grant(grant, reason=NoticeReason.ORGANIZATION_DISBANDED) is None
    assert DeletionNotice.objects.count() == 1
    grant.refresh_from_db()
    assert grant.closed_by is None and grant.close_reason == "organization_disbanded"


def test_first_party_services_open_and_close_without_notices(cast):
    """SVC-2: first-party services are ours: nobody to notify."""
    attendance = first_party("attendance")
    grant = open_for(cast, attendance)
    assert sharing.close_service(owner_access(cast), grant) is None
    assert not DeletionNotice.objects.exists()
    grant.refresh_from_db()
    assert grant.status == GrantStatus.REVOKED


def test_another_organizations_grant_cannot_be_closed(cast):
    service = third_party()
    other_org = cast.other_org_admin.administrations.get().organization
    grant = SharingGrant.objects.create(organization=other_org, service=service)
    with pytest.raises(PermissionDenied):
        sharing.close_service(owner_access(cast), grant)


# --------------------------------------------------------------------------- tokens


def test_tokens_store_only_a_digest_and_expire(cast, settings):
    """SVC-3: the raw token is returned once; expired tokens stop working."""
    grant = open_for(cast, third_party())
    raw, token = tokens.issue_token(grant=grant)
    assert token.digest == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in str(ProviderToken.objects.values().get())
    assert raw.startswith(token.prefix)
    delta = token.expires_at - token.created_at
    assert delta == timedelta(seconds=settings.PROVIDER_TOKEN_LIFETIME_SECONDS)
    assert tokens.authenticate_token(raw).grant.organization == cast.organization
    ProviderToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert tokens.authenticate_token(raw) is None
    assert tokens.authenticate_token("") is None
    assert tokens.authenticate_token("cst_" + "x" * 500) is None
    assert tokens.authenticate_token(raw + "x") is None


def test_token_of_a_revoked_authorization_is_refused(cast):
    """SVC-4: a person's revoked mini-program authorization stops its tokens."""
    app = third_party("mini", kind=ServiceKind.MINI_PROGRAM)
    authorization = PersonalAuthorization.objects.create(user=cast.member_user, service=app)
    raw, _token = tokens.issue_token(authorization=authorization)
    assert tokens.authenticate_token(raw).authorization == authorization
    PersonalAuthorization.objects.filter(pk=authorization.pk).update(status=GrantStatus.REVOKED)
    assert tokens.authenticate_token(raw) is None
    assert tokens.revoke_tokens(authorization=authorization) == 1
    with pytest.raises(ValueError):
        tokens.issue_token()


# --------------------------------------------------------------------------- the catalog


def test_catalog_save_raises_the_revision_only_when_scopes_are_added(cast):
    """SVC-1: adding scopes raises the revision (audited); a new client secret is
    returned once and only its digest kept; a notice secret is stored encrypted."""
    service = third_party(scopes=["name"])
    service.data_scopes = ["name", "mobile"]
    secret = sharing.save_catalog_service(
        cast.staff, service, rotate_client_secret=True, notice_secret="another-secret-abcdefgh"
    )
    service.refresh_from_db()
    assert service.scopes_revision == 2
    assert service.client_secret_digest == hashlib.sha256(secret.encode()).hexdigest()
    assert service.notice_secret == "another-secret-abcdefgh"
    with connection.cursor() as cursor:
        cursor.execute("SELECT notice_secret FROM consent_service WHERE id = %s", [service.pk])
        stored = cursor.fetchone()[0]
    assert stored.startswith("enc1:") and "another-secret" not in stored
    event = AuditEvent.objects.get(action="service.catalog_changed")
    assert event.metadata["added_scopes"] == ["mobile"]
    assert set(event.changes) >= {"data_scopes", "scopes_revision", "client_secret", "notice_secret"}
    assert secret not in str(event.metadata) and "another-secret" not in str(event.metadata)

    service.data_scopes = ["mobile", "name"]  # the same set: no new revision
    sharing.save_catalog_service(cast.staff, service)
    service.refresh_from_db()
    assert service.scopes_revision == 2


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"provider_name": ""}, "provider_name"),
        ({"privacy_policy_url": ""}, "privacy_policy_url"),
        ({"notice_url": ""}, "notice_url"),
        ({"data_scopes": ["name", "salary"]}, "data_scopes"),
        ({"kind": ServiceKind.SELF_BUILT}, "organization"),
    ],
)
def test_catalog_entry_checks(cast, changes, field):
    """SVC-1: a provider's app names its provider, privacy policy and notice endpoint;
    scopes are known ones; a self-built app names its organization."""
    service = third_party()
    for name, value in changes.items():
        setattr(service, name, value)
    with pytest.raises(ValidationError) as caught:
        sharing.save_catalog_service(cast.staff, service)
    assert field in caught.value.message_dict
    with pytest.raises(PermissionDenied):
        sharing.save_catalog_service(cast.owner, third_party("x"))
