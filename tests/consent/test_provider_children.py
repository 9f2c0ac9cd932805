"""Children's entries and providers (SEC-3, SVC-3, SVC-5): never in a provider's member
list, however the grant was opened (the list says how many were left out); one at a
time only where the child's guardian agreed to that service, recorded by an
administrator holding manage_services and view_children; every read recorded."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.urls import reverse

from consent.models import ChildSharing, Disclosure
from consent.services import child_sharing, tokens
from consent.services.open_ids import member_open_id
from dataprotection.models import AuditEvent
from organizations.models import Administrator, GuardianConsent, GuardianMethod, Right
from organizations.permissions import org_access
from organizations.services import children as children_services
from organizations.services.grants import grant_rights
from tests.consent.test_provider_api import MEMBERS_URL, bearer
from tests.consent.test_sharing import open_for, third_party
from tests.factories import MemberFactory
from tests.organizations.test_children import years_ago

pytestmark = pytest.mark.django_db


def member_url(service, member) -> str:
    return f"{MEMBERS_URL}/{member_open_id(service.code, member.pk)}"


@pytest.fixture
def opened(cast):
    """A third-party app receiving names and mobile numbers, opened by the owner."""
    service = third_party(scopes=["name", "mobile"])
    return service, open_for(cast, service)


@pytest.fixture
def kid(cast):
    """A ten-year-old in Sales East."""
    return MemberFactory(organization=cast.organization, department=cast.sales_east, name="Kid", birthday=years_ago(10))


@pytest.fixture
def officer(cast):
    """The owner, designated as the children's data officer."""
    cast.organization.children_data_officer = Administrator.objects.get(organization=cast.organization, user=cast.owner)
    cast.organization.save(update_fields=["children_data_officer"])
    return cast.owner


@pytest.fixture
def guarded_kid(cast, kid, officer):
    """The child with its guardian's consent in force (recorded by the officer)."""
    children_services.record_guardian_consent(
        org_access(cast.owner, cast.organization.pk),
        kid,
        guardian_name="Parent",
        relationship="mother",
        contact="+8613800000000",
        method=GuardianMethod.choices[0][0],
    )
    return kid


def provider_token(grant) -> dict:
    raw, _token = tokens.issue_token(grant=grant)
    return bearer(raw)


def test_the_member_list_never_has_a_child_and_says_how_many(client, cast, opened, kid):
    """SEC-3: even with no guardian consent and no officer, the list leaves the child
    out (the REST API's rule) and counts it; the count is audited once per walk."""
    service, grant = opened
    body = client.get(MEMBERS_URL, **provider_token(grant)).json()
    assert [item["member_id"] for item in body["data"]] == [member_open_id(service.code, cast.member.pk)]
    assert body["children"]["members_withheld"] == 1
    event = AuditEvent.objects.get(action="children.withheld")
    assert event.metadata == {"service": service.code, "members": 1}
    assert not Disclosure.objects.filter(member=kid).exists()


def test_a_child_with_a_guardian_consent_is_still_never_listed(client, cast, opened, guarded_kid):
    service, grant = opened
    ChildSharing.objects.create(
        guardian_consent=GuardianConsent.objects.get(member=guarded_kid), service=service, recorded_by=cast.owner
    )
    body = client.get(MEMBERS_URL, **provider_token(grant)).json()
    assert member_open_id(service.code, guarded_kid.pk) not in [item["member_id"] for item in body["data"]]


def test_one_child_is_read_only_where_the_guardian_agreed_to_this_service(client, cast, opened, guarded_kid):
    """SEC-3: without the guardian's agreement for this service: 404, nothing sent; with
    it: the entry, recorded as a disclosure and audited as ``child.disclosed``."""
    service, grant = opened
    headers = provider_token(grant)
    assert client.get(member_url(service, guarded_kid), **headers).status_code == 404
    access = org_access(cast.owner, cast.organization.pk)
    member = access.get_member(guarded_kid.pk, Right.VIEW_CHILDREN)
    assert child_sharing.set_child_sharing(access, service, member, shared=True)
    response = client.get(member_url(service, guarded_kid), **headers)
    assert response.status_code == 200, response.content
    assert response.json()["data"]["member_id"] == member_open_id(service.code, guarded_kid.pk)
    assert Disclosure.objects.filter(service=service, member=guarded_kid).exists()
    assert AuditEvent.objects.filter(action="child.disclosed", target_id=str(guarded_kid.pk)).count() == 1


def test_another_service_or_a_withdrawn_guardian_consent_reads_nothing(client, cast, opened, guarded_kid):
    service, grant = opened
    access = org_access(cast.owner, cast.organization.pk)
    member = access.get_member(guarded_kid.pk, Right.VIEW_CHILDREN)
    child_sharing.set_child_sharing(access, service, member, shared=True)
    other = third_party(code="other-crm", scopes=["name"])
    other_grant = open_for(cast, other)
    assert client.get(member_url(other, guarded_kid), **provider_token(other_grant)).status_code == 404
    children_services.withdraw_guardian_consent(access, member)
    assert client.get(member_url(service, guarded_kid), **provider_token(grant)).status_code == 404


def test_an_adult_is_not_read_one_at_a_time(client, cast, opened):
    service, grant = opened
    assert client.get(member_url(service, cast.member), **provider_token(grant)).status_code == 404


def test_recording_needs_manage_services_and_view_children(cast, opened, guarded_kid):
    """SEC-3: the owner who is not the officer cannot reach the child at all; a
    sub-administrator holding manage_services but not view_children is refused by the
    service itself, whatever member object it is handed."""
    service, _grant = opened
    cast.organization.children_data_officer = None
    cast.organization.save(update_fields=["children_data_officer"])
    with pytest.raises(Http404):
        org_access(cast.owner, cast.organization.pk).get_member(guarded_kid.pk, Right.VIEW_CHILDREN)
    grant_rights(cast.sub_admin, [Right.MANAGE_SERVICES], cast.organization)
    sub_access = org_access(cast.sub_admin, cast.organization.pk)
    guarded_kid.is_child = True
    with pytest.raises(PermissionDenied):
        child_sharing.set_child_sharing(sub_access, service, guarded_kid, shared=True)
    assert not ChildSharing.objects.exists()


def test_the_sharing_page_records_the_guardians_agreement(client, cast, opened, guarded_kid):
    """SEC-3: the officer records, child by child, on the service's page; audited."""
    service, _grant = opened
    url = reverse("consent:service_children", args=[cast.organization.pk, service.pk])
    client.force_login(cast.owner)
    page = client.get(url)
    assert page.status_code == 200 and "Kid" in page.content.decode()
    response = client.post(url, {"member": guarded_kid.pk, "shared": "yes"})
    assert response.status_code == 302
    assert ChildSharing.objects.filter(service=service, guardian_consent__member=guarded_kid).exists()
    assert AuditEvent.objects.filter(action="child.sharing_allowed").count() == 1
    client.post(url, {"member": guarded_kid.pk, "shared": "no"})
    assert not ChildSharing.objects.exists()
    assert AuditEvent.objects.filter(action="child.sharing_withdrawn").count() == 1


@pytest.mark.parametrize(
    ("role", "status"),
    [("sub_admin", 403), ("member_user", 404), ("other_org_admin", 404)],
)
def test_permission_matrix_of_the_sharing_page(client, cast, opened, guarded_kid, role, status):
    service, _grant = opened
    url = reverse("consent:service_children", args=[cast.organization.pk, service.pk])
    client.force_login(getattr(cast, role))
    assert client.get(url).status_code == status
    assert client.post(url, {"member": guarded_kid.pk, "shared": "yes"}).status_code == status
    assert not ChildSharing.objects.exists()


def test_a_child_without_a_guardian_consent_cannot_be_shared(cast, opened, kid, officer):
    service, _grant = opened
    access = org_access(cast.owner, cast.organization.pk)
    member = access.get_member(kid.pk, Right.VIEW_CHILDREN)
    with pytest.raises(Exception, match="no guardian consent in force"):
        child_sharing.set_child_sharing(access, service, member, shared=True)
    adult = access.get_member(cast.member.pk, Right.VIEW_CHILDREN)
    with pytest.raises(Exception, match="not a child"):
        child_sharing.set_child_sharing(access, service, adult, shared=True)
    assert not ChildSharing.objects.exists()


def test_children_of_other_organizations_are_not_candidates(client, cast, opened, guarded_kid):
    service, grant = opened
    stranger = MemberFactory(name="Stranger kid", birthday=years_ago(9))
    assert client.get(member_url(service, stranger), **provider_token(grant)).status_code == 404
