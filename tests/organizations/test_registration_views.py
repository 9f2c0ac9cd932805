"""My organizations, registering an organization (ORG-1, ACC-6 edition, SEC-6 region),
the overview page, and ownership transfer (ORG-12): the permission matrix of every page,
pinned query counts, and the behaviour of the services behind them."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from dataprotection.models import AuditEvent
from organizations.context_processors import cached_shutdown_notices
from organizations.models import (
    Administrator,
    AdministratorRole,
    CertificationStatus,
    Department,
    DepartmentUserObjectPermission,
    Organization,
    OrganizationStatus,
    OrganizationUserObjectPermission,
    Right,
)
from organizations.permissions import org_access
from organizations.services.registration import register_organization
from tests.conftest import last_code
from tests.factories import AdministratorFactory, DepartmentFactory, MemberFactory, OrganizationFactory, UserFactory
from tests.organizations.matrix import ROLES, client_as, org_url

pytestmark = pytest.mark.django_db


# --------------------------------------------------------------------------- permission matrix

EXPECTED = {
    # view: owner, in-scope sub-admin, out-of-scope sub-admin, other org's admin, member, anonymous
    "list": (200, 200, 200, 200, 200, 302),
    "register": (200, 200, 200, 200, 200, 302),
    "dashboard": (200, 200, 200, 404, 404, 302),
    "certification": (200, 403, 403, 404, 404, 302),  # ORG-2: owner only
    "transfer": (200, 403, 403, 404, 404, 302),  # ORG-12: owner only
}


@pytest.mark.parametrize("view", EXPECTED)
@pytest.mark.parametrize("role_index", range(len(ROLES)), ids=ROLES)
def test_permission_matrix(client, cast, view, role_index):
    role = ROLES[role_index]
    url = reverse(f"organizations:{view}") if view in {"list", "register"} else org_url(view, cast)
    response = client_as(client, cast, role).get(url)
    assert response.status_code == EXPECTED[view][role_index]
    if role == "anonymous":
        assert response["Location"].startswith(reverse("accounts:login"))


@pytest.mark.parametrize("view", ["certification", "transfer"])
@pytest.mark.parametrize("role", ["sub_admin", "other_org_admin", "member_user"])
def test_owner_only_pages_refuse_posts_too(client, cast, view, role):
    response = client_as(client, cast, role).post(org_url(view, cast), {"send_code": "1"})
    assert response.status_code == (403 if role == "sub_admin" else 404)


# --------------------------------------------------------------------------- list


def test_list_shows_administered_and_member_organizations(client, cast):
    other = OrganizationFactory(name="Club Where I Am A Member")
    MemberFactory(organization=other, user=cast.owner, name="Owner")
    response = client_as(client, cast, "owner").get(reverse("organizations:list"))
    page = response.content.decode()
    assert org_url("dashboard", cast) in page
    assert "Club Where I Am A Member" in page
    assert reverse("organizations:dashboard", args=[other.pk]) not in page  # not an admin there
    assert "Other Org" not in page
    assert reverse("organizations:register") in page


def test_member_sees_the_organization_without_an_admin_link(client, cast):
    page = client_as(client, cast, "member_user").get(reverse("organizations:list")).content.decode()
    assert "Hangzhou Example Co." in page
    assert org_url("dashboard", cast) not in page


def test_list_query_count_does_not_grow(client, cast, django_assert_num_queries):
    # 1 session, 2 user, 3 administered organizations with the role as a subquery,
    # 4 roster entries of the user with their organizations.
    client_as(client, cast, "owner")
    url = reverse("organizations:list")
    cached_shutdown_notices()  # the ANON-6 banners' list is cached for a minute: warm, as in steady state
    with django_assert_num_queries(4):
        assert client.get(url).status_code == 200
    for index in range(5):
        organization = OrganizationFactory(name=f"More {index}")
        AdministratorFactory(organization=organization, user=cast.owner, role=AdministratorRole.OWNER)
        MemberFactory(organization=OrganizationFactory(), user=cast.owner)
    with django_assert_num_queries(4):
        response = client.get(url)
    assert response.content.decode().count("More ") == 5


# --------------------------------------------------------------------------- dashboard


def test_dashboard_shows_facts_counts_and_links(client, cast):
    page = client_as(client, cast, "owner").get(org_url("dashboard", cast)).content.decode()
    assert "Hangzhou Example Co." in page
    assert 'data-count="members">1<' in page
    assert 'data-count="departments">4<' in page
    assert 'data-count="administrators">3<' in page
    assert "Not certified" in page
    assert org_url("certification", cast) in page
    assert org_url("transfer", cast) in page


def test_dashboard_links_follow_the_sub_admins_rights(client, cast):
    page = client_as(client, cast, "sub_admin").get(org_url("dashboard", cast)).content.decode()
    assert org_url("roster", cast) in page
    assert org_url("admins", cast) not in page
    assert org_url("certification", cast) not in page
    assert org_url("transfer", cast) not in page


@pytest.mark.parametrize(("role", "queries"), [("owner", 4), ("sub_admin", 5)])
def test_dashboard_query_count_does_not_grow(client, cast, django_assert_num_queries, role, queries):
    # 1 session, 2 user, 3 administrator row with its organization (the gate),
    # [sub-admin: 4 the grants, unioned], then one query for the three counts.
    client_as(client, cast, role)
    url = org_url("dashboard", cast)
    cached_shutdown_notices()  # the ANON-6 banners' list is cached for a minute: warm, as in steady state
    with django_assert_num_queries(queries):
        assert client.get(url).status_code == 200
    for index in range(10):
        department = DepartmentFactory(organization=cast.organization, parent=cast.sales, name=f"Team {index}")
        MemberFactory(organization=cast.organization, department=department)
        AdministratorFactory(organization=cast.organization)
    with django_assert_num_queries(queries):
        page = client.get(url).content.decode()
    assert 'data-count="members">11<' in page
    assert 'data-count="departments">14<' in page
    assert 'data-count="administrators">13<' in page


# --------------------------------------------------------------------------- ORG-1 registration

VALID = {
    "name": "  Suzhou   Garden Works ",
    "kind": "enterprise",
    "location": "Suzhou",
    "industry": "Landscaping",
    "staff_size": "21-100",
    "edition": "dedicated",
    "data_region": "cn",
}


def test_register_creates_organization_owner_root_department_and_audit(client, cast):
    """ORG-1: the registering person becomes the owner of an active, uncertified
    organization with a root department named after it."""
    user = UserFactory()
    client.force_login(user)
    response = client.post(reverse("organizations:register"), VALID)
    organization = Organization.objects.get(name="Suzhou Garden Works")
    assert response.status_code == 302
    assert response["Location"] == reverse("organizations:dashboard", args=[organization.pk])
    assert organization.status == OrganizationStatus.ACTIVE
    assert organization.certification_status == CertificationStatus.UNCERTIFIED
    assert organization.created_by == user
    assert (organization.edition, organization.data_region, organization.staff_size) == ("dedicated", "cn", "21-100")
    owner = Administrator.objects.get(organization=organization)
    assert (owner.user, owner.role) == (user, AdministratorRole.OWNER)
    root = Department.objects.get(organization=organization)
    assert (root.name, root.parent, root.depth, root.path) == (organization.name, None, 0, f"{root.pk:08x}/")
    event = AuditEvent.objects.get(action="organization.registered")
    assert (event.actor, event.organization_id) == (user, organization.pk)
    assert org_access(user, organization.pk).is_owner
    assert client.get(response["Location"]).status_code == 200


def test_register_form_explains_edition_and_defaults_region(client, cast, settings):
    client_as(client, cast, "member_user")
    page = client.get(reverse("organizations:register")).content.decode()
    assert "members correct it only through your administrators" in page  # ACC-6
    assert f'<input type="hidden" name="data_region" value="{settings.DATA_REGION}"' in page  # SEC-6: fixed


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": "   "}, "This field is required."),
        ({"data_region": "us"}, "Select a valid choice."),
        ({"edition": "premium"}, "Select a valid choice."),
    ],
    ids=["empty-name", "bad-region", "bad-edition"],
)
def test_register_bad_input_writes_nothing(client, cast, changes, message):
    before = (Organization.objects.count(), Administrator.objects.count(), Department.objects.count())
    client.force_login(cast.member_user)
    response = client.post(reverse("organizations:register"), {**VALID, **changes})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert (Organization.objects.count(), Administrator.objects.count(), Department.objects.count()) == before
    assert not AuditEvent.objects.filter(action="organization.registered").exists()


def test_register_service_validates_too(cast):
    before = Organization.objects.count()
    with pytest.raises(ValidationError):
        register_organization(cast.member_user, {**VALID, "name": "X", "data_region": "us"})
    with pytest.raises(ValidationError):
        register_organization(cast.member_user, {**VALID, "name": ""})
    assert Organization.objects.count() == before


# --------------------------------------------------------------------------- ORG-12 transfer


@pytest.fixture
def transfer(client, cast, sms_outbox, django_capture_on_commit_callbacks):
    client.force_login(cast.owner)
    url = org_url("transfer", cast)
    with django_capture_on_commit_callbacks(execute=True):  # the SMS goes out on commit
        response = client.post(url, {"send_code": "1"})
    assert response.status_code == 200
    assert "We sent a six-digit code" in response.content.decode()
    new_owner = Administrator.objects.get(organization=cast.organization, user=cast.sub_admin)
    code = last_code(sms_outbox, cast.owner.phone)
    return url, new_owner, code


def assert_roles_unchanged(cast):
    roles = dict(Administrator.objects.filter(organization=cast.organization).values_list("user_id", "role"))
    assert roles[cast.owner.pk] == AdministratorRole.OWNER
    assert roles[cast.sub_admin.pk] == AdministratorRole.SUB_ADMIN
    assert not AuditEvent.objects.filter(action="organization.ownership_transferred").exists()


def test_transfer_with_wrong_code_is_refused(client, cast, transfer):
    url, new_owner, code = transfer
    wrong = "000000" if code != "000000" else "111111"
    response = client.post(url, {"new_owner": new_owner.pk, "code": wrong, "confirm_name": cast.organization.name})
    assert response.status_code == 200
    assert "The code is wrong." in response.content.decode()
    assert_roles_unchanged(cast)


def test_transfer_with_wrong_name_is_refused(client, cast, transfer):
    url, new_owner, code = transfer
    response = client.post(url, {"new_owner": new_owner.pk, "code": code, "confirm_name": "Hangzhou Example"})
    assert response.status_code == 200
    assert "The name does not match" in response.content.decode()
    assert_roles_unchanged(cast)


def test_transfer_only_to_another_administrator(client, cast, transfer):
    url, _new_owner, code = transfer
    own_row = Administrator.objects.get(organization=cast.organization, user=cast.owner)
    other_org_row = Administrator.objects.get(user=cast.other_org_admin)
    for target in (own_row.pk, other_org_row.pk, 999_999):
        response = client.post(url, {"new_owner": target, "code": code, "confirm_name": cast.organization.name})
        assert response.status_code == 200
        assert "Select a valid choice" in response.content.decode()
    assert_roles_unchanged(cast)


def test_transfer_with_right_code_swaps_roles_and_grants(client, cast, transfer):
    """ORG-12: the old owner becomes a sub-administrator holding every right on the whole
    organization; the new owner holds everything implicitly, so its grants go."""
    url, new_owner, code = transfer
    assert DepartmentUserObjectPermission.objects.filter(user=cast.sub_admin).exists()
    response = client.post(url, {"new_owner": new_owner.pk, "code": code, "confirm_name": cast.organization.name})
    assert response.status_code == 302
    assert response["Location"] == org_url("dashboard", cast)

    roles = dict(Administrator.objects.filter(organization=cast.organization).values_list("user_id", "role"))
    assert roles[cast.owner.pk] == AdministratorRole.SUB_ADMIN
    assert roles[cast.sub_admin.pk] == AdministratorRole.OWNER
    old_grants = set(
        OrganizationUserObjectPermission.objects.filter(user=cast.owner, content_object=cast.organization).values_list(
            "permission__codename", flat=True
        )
    )
    assert old_grants == set(Right.values)
    assert not OrganizationUserObjectPermission.objects.filter(user=cast.sub_admin).exists()
    assert not DepartmentUserObjectPermission.objects.filter(user=cast.sub_admin).exists()
    assert not Administrator.objects.get(pk=new_owner.pk).scope.exists()

    old = org_access(cast.owner, cast.organization.pk)
    assert not old.is_owner and all(old.has_whole(right) for right in Right.values)
    assert org_access(cast.sub_admin, cast.organization.pk).is_owner
    event = AuditEvent.objects.get(action="organization.ownership_transferred")
    assert (event.actor, event.organization_id) == (cast.owner, cast.organization.pk)

    # the code is spent, and the old owner may no longer open owner-only pages
    assert client.get(url).status_code == 403
    client.force_login(cast.sub_admin)
    assert client.get(url).status_code == 200


def test_transfer_page_without_candidates_says_so(client):
    owner = UserFactory()
    organization = OrganizationFactory()
    AdministratorFactory(organization=organization, user=owner, role=AdministratorRole.OWNER)
    client.force_login(owner)
    page = client.get(reverse("organizations:transfer", args=[organization.pk])).content.decode()
    assert "Appoint another administrator first" in page
