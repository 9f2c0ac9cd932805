"""An organization's service pages (SVC-1 to SVC-3): who may see and use them (the
permission matrix), the catalog with each service's state in a pinned number of
queries, the open page showing exactly what is shared, the reconfirm flow when a
provider asks for more, closing with the deletion notice's state shown after."""

from __future__ import annotations

import pytest
from django.urls import reverse

from consent.models.sharing import DeletionNotice, GrantStatus, NoticeStatus, Service, ServiceKind, SharingGrant
from consent.services import sharing
from organizations.models import OrganizationStatus, Right
from organizations.services.grants import grant_rights
from tests.consent.test_sharing import add_scopes, first_party, open_for, owner_access, third_party
from tests.factories import AdministratorFactory, OrganizationFactory, UserFactory
from tests.organizations.matrix import ROLES, client_as

pytestmark = pytest.mark.django_db


def list_url(cast) -> str:
    return reverse("consent:services", args=[cast.organization.pk])


def page_url(name: str, cast, service) -> str:
    return reverse(f"consent:{name}", args=[cast.organization.pk, service.pk])


def confirm_data(service, **extra) -> dict:
    return {
        "scopes": ",".join(service.data_scopes),
        "scopes_revision": str(service.scopes_revision),
        "confirm": "on",
        **extra,
    }


@pytest.fixture
def services_manager(cast):
    """A sub-administrator holding manage_services on the whole organization."""
    user = UserFactory(name="Services manager")
    AdministratorFactory(organization=cast.organization, user=user)
    grant_rights(user, [Right.MANAGE_SERVICES], cast.organization)
    return user


# --------------------------------------------------------------------------- permission matrix

EXPECTED = {  # list GET, open POST
    "owner": (200, 302),
    "services_manager": (200, 302),
    "sub_admin": (403, 403),  # roster rights on Sales only
    "out_of_scope_sub_admin": (403, 403),
    "other_org_admin": (404, 404),
    "member_user": (404, 404),
    "anonymous": (302, 302),
}


@pytest.mark.parametrize("role", [*ROLES, "services_manager"])
def test_permission_matrix(client, cast, services_manager, role):
    """SVC-2, ORG-9: manage_services on the whole organization; scoped sub-admins 403,
    outsiders 404, anonymous visitors to the sign-in page. Only the allowed roles write."""
    service = third_party()
    if role == "services_manager":
        client.force_login(services_manager)
    else:
        client_as(client, cast, role)
    get = client.get(list_url(cast))
    post = client.post(page_url("service_open", cast, service), confirm_data(service))
    assert (get.status_code, post.status_code) == EXPECTED[role]
    assert SharingGrant.objects.exists() is (EXPECTED[role][1] == 302 and role != "anonymous")
    if role == "anonymous":
        assert get["Location"].startswith(reverse("accounts:login"))
    allowed = {"service_detail": 200, "service_close": 200, "service_reconfirm": 302}  # open, nothing to reconfirm
    for name, status in allowed.items():
        expected = status if EXPECTED[role][0] == 200 else EXPECTED[role][0]
        assert client.get(page_url(name, cast, service)).status_code == expected


def test_subtree_manage_services_is_not_enough(client, cast):
    """Services are organization-wide: a grant on a department subtree gives 403."""
    grant_rights(cast.sub_admin, [Right.MANAGE_SERVICES], cast.sales)
    client.force_login(cast.sub_admin)
    assert client.get(list_url(cast)).status_code == 403


def test_frozen_organization_gets_no_service_pages(client, cast):
    """ORG-11: the write right is withheld while a disband is pending."""
    cast.organization.status = OrganizationStatus.FROZEN
    cast.organization.save()
    client.force_login(cast.owner)
    assert client.get(list_url(cast)).status_code == 403


def test_menu_shows_services_to_those_who_manage_them(client, cast, services_manager):
    link = f'href="{list_url(cast)}"'
    roster = reverse("organizations:dashboard", args=[cast.organization.pk])
    for user, shown in ((cast.owner, True), (services_manager, True), (cast.sub_admin, False)):
        client.force_login(user)
        assert (link in client.get(roster).content.decode()) is shown


# --------------------------------------------------------------------------- the catalog page


def test_catalog_lists_own_apps_and_states_in_pinned_queries(client, cast, django_assert_num_queries):
    """SVC-1: first-party and third-party services and the organization's own
    self-built apps (not another's), each with its state, in a fixed query count."""
    acme = third_party()
    own = third_party("own-app", kind=ServiceKind.SELF_BUILT)
    own.organization = cast.organization
    own.save()
    theirs = third_party("their-app", kind=ServiceKind.SELF_BUILT)
    theirs.organization = OrganizationFactory()
    theirs.save()
    third_party("mini", kind=ServiceKind.MINI_PROGRAM)
    unlisted = third_party("unlisted")
    Service.objects.filter(pk=unlisted.pk).update(listed=False)
    grant = open_for(cast, acme)
    sharing.close_service(owner_access(cast), grant)
    open_for(cast, acme)
    open_for(cast, first_party("mail"))
    client.force_login(cast.owner)
    client.get(list_url(cast))
    # session, user, administrator (owner: no grant query), catalog, grants, notices
    with django_assert_num_queries(6):
        response = client.get(list_url(cast))
    for extra in range(5):
        open_for(cast, third_party(f"more-{extra}"))
    with django_assert_num_queries(6):
        client.get(list_url(cast))
    page = response.content.decode()
    assert 'data-service="acme-crm"' in page and 'data-service="own-app"' in page
    assert 'data-service="mail"' in page and 'data-service="attendance"' in page
    assert "their-app" not in page and 'data-service="mini"' not in page and "unlisted" not in page
    rows = {state.service.code: state for state in response.context["groups"][1][1]}
    assert rows["acme-crm"].is_open and rows["acme-crm"].grant.status == GrantStatus.ACTIVE
    assert "opened by Owner" in page
    assert len(response.context["notices"]) == 1  # the one from closing acme-crm


def test_an_unlisted_service_still_open_can_be_closed(client, cast):
    service = third_party()
    open_for(cast, service)
    Service.objects.filter(pk=service.pk).update(listed=False)
    client.force_login(cast.owner)
    assert 'data-service="acme-crm"' in client.get(list_url(cast)).content.decode()
    response = client.post(page_url("service_close", cast, service), {"confirm": "on"})
    assert response.status_code == 302
    assert not SharingGrant.objects.filter(status=GrantStatus.ACTIVE).exists()


# --------------------------------------------------------------------------- opening


def test_open_page_shows_exactly_what_is_shared(client, cast):
    """SVC-2: basic information, each declared scope with its label, the provider and
    its privacy policy; the form carries the scopes and revision shown."""
    service = third_party(scopes=["name", "departments"])
    client.force_login(cast.owner)
    page = client.get(page_url("service_open", cast, service)).content.decode()
    for text in ("User ID", "Avatar", "Nickname", "Name", "Departments", "Acme Ltd.", "https://acme.example/privacy"):
        assert text in page
    assert 'name="scopes" value="name,departments"' in page
    assert 'name="scopes_revision" value="1"' in page
    assert 'name="confirm"' in page


def test_open_needs_the_checkbox(client, cast):
    service = third_party()
    client.force_login(cast.owner)
    response = client.post(page_url("service_open", cast, service), confirm_data(service, confirm=""))
    assert response.status_code == 200
    assert "Tick the box to confirm what will be shared." in response.content.decode()
    assert not SharingGrant.objects.exists()


def test_a_stale_open_form_shows_the_new_scopes_and_writes_nothing(client, cast):
    """SVC-2: the catalog changed since the page was shown: refused, the page shows the
    current scopes again."""
    service = third_party()
    shown = confirm_data(service)
    add_scopes(service, "office_email")
    client.force_login(cast.owner)
    response = client.post(page_url("service_open", cast, service), shown, follow=True)
    page = response.content.decode()
    assert "changed since the page was shown" in page
    assert 'name="scopes" value="name,mobile,office_email"' in page
    assert not SharingGrant.objects.exists()


def test_open_then_detail(client, cast):
    service = third_party()
    client.force_login(cast.owner)
    response = client.post(page_url("service_open", cast, service), confirm_data(service), follow=True)
    assert response.redirect_chain[-1][0] == page_url("service_detail", cast, service)
    page = response.content.decode()
    assert "is open for the organization" in page and "Open since" in page
    grant = SharingGrant.objects.get()
    assert (grant.opened_by, grant.scopes) == (cast.owner, ["name", "mobile"])


def test_another_organizations_self_built_app_is_404(client, cast):
    theirs = third_party("their-app", kind=ServiceKind.SELF_BUILT)
    theirs.organization = OrganizationFactory()
    theirs.save()
    client.force_login(cast.owner)
    assert client.get(page_url("service_open", cast, theirs)).status_code == 404
    assert client.get(page_url("service_detail", cast, theirs)).status_code == 404


# --------------------------------------------------------------------------- reconfirming


def test_more_scopes_show_and_are_confirmed(client, cast):
    """SVC-2: "provider asks for more data: Office email"; after confirming, the grant
    holds the new scopes and revision."""
    service = third_party()
    open_for(cast, service)
    add_scopes(service, "office_email", "position")
    client.force_login(cast.owner)
    page = client.get(list_url(cast)).content.decode()
    assert "provider asks for more data:" in page and "Office email, Position and grade" in page
    detail = client.get(page_url("service_detail", cast, service)).content.decode()
    assert "The provider asks for more data:" in detail and "Confirmed and shared now:" in detail
    response = client.post(page_url("service_reconfirm", cast, service), confirm_data(service))
    assert response.status_code == 302
    grant = SharingGrant.objects.get()
    assert (grant.scopes_revision, sorted(grant.scopes)) == (2, ["mobile", "name", "office_email", "position"])
    assert "asks for more data" not in client.get(list_url(cast)).content.decode()
    # nothing more to confirm: the page sends the administrator back
    assert client.get(page_url("service_reconfirm", cast, service)).status_code == 302


# --------------------------------------------------------------------------- closing


def test_close_page_explains_and_closing_shows_the_notice(client, cast):
    """SVC-3: the confirmation page says tokens are revoked at once and a deletion
    notice is sent; after closing, the page shows the notice's state."""
    service = third_party()
    open_for(cast, service)
    client.force_login(cast.owner)
    page = client.get(page_url("service_close", cast, service)).content.decode()
    assert "revoked at once" in page and "deletion notice" in page
    response = client.post(page_url("service_close", cast, service), {})
    assert response.status_code == 200 and SharingGrant.objects.get().status == GrantStatus.ACTIVE
    response = client.post(page_url("service_close", cast, service), {"confirm": "on"}, follow=True)
    page = response.content.decode()
    assert "a deletion notice was sent to the provider" in page
    notice = DeletionNotice.objects.get()
    assert notice.status == NoticeStatus.PENDING
    assert 'data-testid="deletion-notice" data-status="pending"' in page
    assert "waiting to be sent" in page
    listing = client.get(list_url(cast)).content.decode()
    assert 'id="organization-notices"' in listing and 'data-status="pending"' in listing


def test_closing_a_first_party_service_mentions_no_notice(client, cast):
    mail = first_party("mail")
    open_for(cast, mail)
    client.force_login(cast.owner)
    page = client.get(page_url("service_close", cast, mail)).content.decode()
    assert "deletion notice" not in page
    response = client.post(page_url("service_close", cast, mail), {"confirm": "on"}, follow=True)
    assert "Mail is closed." in response.content.decode()
    assert not DeletionNotice.objects.exists()


def test_the_close_page_is_true_for_first_and_third_party_services(client, cast):
    """SVC-3: closing a Custodia service asks no provider to delete anything (there is
    none), and neither the page nor its checkbox says so; a provider's app says its
    access stops and it is asked to delete what it received."""
    mail = first_party("mail")
    open_for(cast, mail)
    client.force_login(cast.owner)
    page = client.get(page_url("service_close", cast, mail)).content.decode()
    assert "provider is asked" not in page and "asked to delete" not in page
    assert "its records stay here" in page and "no provider to ask" in page
    crm = third_party()
    open_for(cast, crm)
    page = client.get(page_url("service_close", cast, crm)).content.decode()
    assert "it is asked to delete the data it received" in page and "records stay here" not in page


def test_a_notice_waiting_on_operations_says_so_to_the_owner(client, cast):
    """A notice to a service whose signing secret is missing cannot go out until
    operations set it up: the owner reads that, in their language, not the worker's raw
    reason; a provider's refusal is told as such."""
    from consent.services import notices

    service = third_party()
    open_for(cast, service)
    Service.objects.filter(pk=service.pk).update(notice_secret="")
    sharing.close_service(owner_access(cast), SharingGrant.objects.get())
    notice = DeletionNotice.objects.get()
    notices.deliver_notice(notice.pk)
    client.force_login(cast.owner)
    page = client.get(page_url("service_detail", cast, service)).content.decode()
    assert "Operations must act" in page
    assert "no notice signing secret is configured" not in page
    client.cookies["django_language"] = "zh-hans"
    assert "运营人员需要处理" in client.get(list_url(cast)).content.decode()

    Service.objects.filter(pk=service.pk).update(notice_secret="a-secret-set-up-later-0123")
    DeletionNotice.objects.filter(pk=notice.pk).update(last_status_code=503, last_error="HTTP 503")
    client.cookies["django_language"] = "en"
    page = client.get(page_url("service_detail", cast, service)).content.decode()
    assert "The provider answered with an error (HTTP 503)" in page and "Operations must act" not in page
