"""A person's own mini-program authorizations and the apps holding their data (SVC-4,
SVC-5): basic information only, revocation stops the app at once and sends it a
deletion notice, and the page lists every recipient with where it got the data."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from consent.models import (
    DeletionNotice,
    Disclosure,
    GrantStatus,
    NoticeReason,
    PersonalAuthorization,
    Service,
    ServiceKind,
)
from consent.services import personal_apps, tokens
from consent.services.open_ids import user_open_id
from dataprotection.models import AuditEvent
from tests.factories import MemberFactory, OrganizationFactory, UserFactory


def mini_program(code="weather", **fields) -> Service:
    defaults = {
        "name": f"{code.title()} mini-program",
        "kind": ServiceKind.MINI_PROGRAM,
        "provider_name": "Example Apps Ltd.",
        "privacy_policy_url": "https://apps.example/privacy",
        "notice_url": "https://apps.example/deletion",
    }
    return Service.objects.create(code=code, **{**defaults, **fields})


@pytest.mark.django_db
def test_authorizing_records_basic_information_only():
    """SVC-4: one active authorization per app, audited; the app receives basic info."""
    person = UserFactory()
    app = mini_program()
    authorization = personal_apps.authorize_mini_program(person, app, ip="10.0.0.1")
    assert authorization.status == GrantStatus.ACTIVE
    event = AuditEvent.objects.get(action="mini_program.authorized")
    assert event.subject_user_id == person.pk and event.metadata["scopes"] == ["basic"]
    with pytest.raises(ValidationError, match="already authorized"):
        personal_apps.authorize_mini_program(person, app)
    assert PersonalAuthorization.objects.filter(user=person).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("fields", [{"kind": ServiceKind.THIRD_PARTY}, {"listed": False}])
def test_only_listed_mini_programs_can_be_authorized(fields):
    """SVC-4: an organization's third-party app or a delisted app is not for persons."""
    with pytest.raises(ValidationError):
        personal_apps.authorize_mini_program(UserFactory(), mini_program(**fields))
    assert not PersonalAuthorization.objects.exists()


@pytest.mark.django_db
def test_revoking_stops_the_app_at_once_and_queues_a_deletion_notice(django_capture_on_commit_callbacks):
    """SVC-4, SVC-3: tokens die in the revoking transaction; the notice names the
    person by the app's own pseudonymous ID only; a second revoke does nothing."""
    person = UserFactory()
    app = mini_program(notice_url="http://127.0.0.1:9/unreachable")
    authorization = personal_apps.authorize_mini_program(person, app)
    raw, _token = tokens.issue_token(authorization=authorization)
    assert tokens.authenticate_token(raw) is not None
    with django_capture_on_commit_callbacks(execute=False):
        notice = personal_apps.revoke_authorization(authorization, actor=person)
    assert tokens.authenticate_token(raw) is None
    authorization.refresh_from_db()
    assert authorization.status == GrantStatus.REVOKED and authorization.revoked_at is not None
    assert notice.reason == NoticeReason.AUTHORIZATION_REVOKED and notice.service == app
    assert notice.payload["users"] == [user_open_id(app.code, person.pk)]
    assert person.phone not in str(notice.payload) and str(person.pk) not in notice.payload["users"]
    assert personal_apps.revoke_authorization(authorization, actor=person) is None
    assert DeletionNotice.objects.filter(service=app).count() == 1


@pytest.mark.django_db
def test_the_page_authorizes_with_explicit_confirmation(client):
    """SVC-4: the page shows basic info only; without the tick nothing is written."""
    person = UserFactory()
    app = mini_program(data_scopes=["mobile", "name"])
    client.force_login(person)
    url = reverse("consent:authorize_app", args=[app.code])
    page = client.get(url).content.decode()
    assert "User ID, Avatar, Nickname" in page and "Mobile number" not in page
    response = client.post(url, {})
    assert response.status_code == 200 and "Tick the box" in response.content.decode()
    assert not PersonalAuthorization.objects.exists()
    response = client.post(url, {"confirm": "on"})
    assert response.status_code == 302
    assert PersonalAuthorization.objects.get(user=person, service=app).status == GrantStatus.ACTIVE


@pytest.mark.django_db
def test_someone_elses_authorization_is_out_of_scope(client):
    """Gate: another person's authorization is 404 and stays active."""
    authorization = personal_apps.authorize_mini_program(UserFactory(), mini_program())
    client.force_login(UserFactory())
    response = client.post(reverse("consent:revoke_app", args=[authorization.pk]))
    assert response.status_code == 404
    authorization.refresh_from_db()
    assert authorization.status == GrantStatus.ACTIVE


@pytest.mark.django_db
def test_pages_need_a_signed_in_person(client):
    for url in (reverse("consent:my_apps"), reverse("consent:authorize_app", args=["weather"])):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/" in response["Location"]


@pytest.mark.django_db
def test_the_page_lists_every_recipient_with_its_source(client, django_assert_num_queries):
    """SVC-5: apps that got the data through an organization's roster entry or through
    the person's own authorization, with since when; other people's are not shown."""
    person = UserFactory()
    organization = OrganizationFactory(name="Example Org")
    member = MemberFactory(organization=organization, user=person)
    hr_app = Service.objects.create(code="hr-sync", name="HR Sync", kind=ServiceKind.THIRD_PARTY)
    app = mini_program()
    since = timezone.now().replace(microsecond=0)
    Disclosure.objects.create(
        service=hr_app, organization=organization, member=member, scopes=["mobile"], first_disclosed_at=since
    )
    personal_apps.authorize_mini_program(person, app)
    Disclosure.objects.create(service=app, user=person, scopes=[])
    Disclosure.objects.create(service=hr_app, user=UserFactory(), scopes=[])  # someone else's
    for code in range(3):
        mini_program(code=f"app{code}")
    client.force_login(person)
    with django_assert_num_queries(6):  # session, user, authorizations, recipients, catalog, messages-free
        response = client.get(reverse("consent:my_apps"))
    page = response.content.decode()
    assert page.count('<tr data-app="hr-sync">') == 1
    assert "Example Org" in page and "Mobile number" in page and "My own authorization" in page
    assert timezone.localtime(since).strftime("%Y-%m-%d %H:%M") in page
    assert 'href="/privacy/apps/app0/authorize/"' in page and 'href="/privacy/apps/weather/authorize/"' not in page
