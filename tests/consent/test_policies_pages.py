"""Policy pages (CON-6, EN VIII): the public list, current and stable version URLs with
parts and language fallback; the sign-in flag, the notice middleware and its exemptions;
the acknowledge page with forged, replayed and stale forms."""

from __future__ import annotations

from datetime import date, timedelta
from html import unescape

import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import HttpResponse
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from consent.models import PolicyAcknowledgement, PolicyVersion
from consent.services import policies as services
from consent.views import policy_notice
from tests.consent.test_policies import joined_before, make_version, significant_version
from tests.factories import TEST_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

ACK_URL = "/policies/acknowledge/"


def text_of(response) -> str:
    return unescape(response.content.decode())


def sign_in(client, user, next_url=""):
    return client.post(
        reverse("accounts:login"),
        {"method": "password", "phone": user.phone, "password": TEST_PASSWORD, "next": next_url},
    )


def test_url_names():
    assert reverse("consent:policy_list") == "/policies/"
    assert reverse("consent:policy_current", args=["mainland"]) == "/policies/mainland/"
    assert reverse("consent:policy_version", args=["mainland", "2019-03"]) == "/policies/mainland/2019-03/"
    assert reverse("consent:policy_acknowledge") == ACK_URL


# --------------------------------------------------------------------------- public pages


def test_the_list_shows_every_edition_with_current_and_older_versions(client, django_assert_num_queries):
    """CON-6: every edition with its current version; older versions stay listed. One
    query for a visitor, plus the site's service notices."""
    make_version("international", "2030-01", texts=(("en", "main"),), effective_on=date(2030, 1, 1))
    with django_assert_num_queries(2):
        response = client.get("/policies/")
    assert response.status_code == 200
    page = text_of(response)
    assert "Current version 2030-01" in page
    assert 'href="/policies/international/2020-05/"' in page  # the real 2020 text is now an older version
    assert "Current version 2019-03" in page  # mainland
    assert "Current version 2019-01" in page  # dedicated
    assert 'data-testid="applies-mainland"' in page
    assert 'data-testid="applies-international"' not in page


def test_the_list_costs_the_same_for_many_versions(client, django_assert_num_queries):
    """The query count does not grow with the number of versions."""
    for month in range(1, 8):
        make_version("international", f"2030-{month:02d}", effective_on=date(2030, month, 1))
    person = UserFactory()
    client.force_login(person)
    # session, user, versions, the person's editions; plus the site's service notices
    with django_assert_num_queries(5):
        response = client.get("/policies/")
    page = text_of(response)
    assert page.count('href="/policies/international/20') == 7  # the older ones; the current one links the edition
    assert "Current version 2030-07" in page


def test_current_version_in_english_and_an_addendum_part(client):
    """CON-6: the international edition with its addenda as parts."""
    response = client.get("/policies/international/")
    assert response.status_code == 200
    page = text_of(response)
    assert "We will also archive the old version of this Policy" in page
    assert "Effective on" in page and "2020-05-11" in page
    assert 'href="?part=eea"' in page and 'href="?part=australia"' in page
    assert 'data-testid="language-fallback"' not in page
    eea = text_of(client.get("/policies/international/?part=eea"))
    assert "Alibaba (Netherlands) B.V." in eea
    assert "We will also archive the old version" not in eea
    assert client.get("/policies/international/?part=nowhere").status_code == 404
    assert client.get("/policies/mainland/?part=eea").status_code == 404


def test_a_text_missing_in_the_active_language_falls_back_with_a_note(client):
    """CON-6: the mainland edition exists in Chinese only; an English reader gets it
    with a note, a Chinese reader without one."""
    english = text_of(client.get("/policies/mainland/"))
    assert 'data-testid="language-fallback"' in english
    assert "最近更新日期：2019年3月21日" in english
    chinese = text_of(client.get("/policies/mainland/", HTTP_ACCEPT_LANGUAGE="zh-hans"))
    assert 'data-testid="language-fallback"' not in chinese
    assert "最近更新日期：2019年3月21日" in chinese


def test_old_versions_stay_readable_at_their_stable_url(client):
    """CON-6 / EN VIII: after a new version, the old one is still there, marked as
    earlier, and the edition's URL shows the new one."""
    new = significant_version("international", "2030-01", summary="We changed the complaint channel.")
    old = text_of(client.get("/policies/international/2020-05/"))
    assert 'data-testid="old-version-notice"' in old
    assert "We will also archive the old version of this Policy" in old
    current = text_of(client.get("/policies/international/"))
    assert f'data-version="{new.version}"' in current
    assert "We changed the complaint channel." in current
    assert "Your rights, or how you exercise them, change significantly" in current
    assert 'data-testid="old-version-notice"' not in current
    assert text_of(client.get("/policies/international/2030-01/")).count('data-testid="old-version-notice"') == 0


@pytest.mark.parametrize(
    "url",
    [
        "/policies/nowhere/",
        "/policies/nowhere/2020-05/",
        "/policies/international/1999-01/",
        "/policies/mainland/2020-05/",
        "/policies/mainland/2030-09/",  # a draft
    ],
)
def test_unknown_or_unpublished_versions_are_404(client, url):
    make_version("mainland", "2030-09", publish=False)
    assert client.get(url).status_code == 404


def test_bodies_are_escaped_and_shown_as_paragraphs(client):
    """Texts are plain text: markup is shown, never run."""
    make_version("international", "2030-01", body="<script>alert(1)</script>\n\nSecond line & more")
    response = client.get("/policies/international/")
    raw = response.content.decode()
    assert "<script>alert(1)</script>" not in raw
    assert "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>" in raw
    assert "<p>Second line &amp; more</p>" in raw


# --------------------------------------------------------------------------- sign-in flag and middleware


def test_signing_in_flags_pending_versions_and_the_next_page_is_the_notice(client):
    """CON-6: at the next sign-in the person is sent to the notice before anything
    else, and comes back to the page they wanted afterwards."""
    person = joined_before()
    version = significant_version()
    response = sign_in(client, person, next_url="/accounts/profile/edit/")
    assert client.session[policy_notice.SESSION_KEY] == [version.pk]
    response = client.get(response.url)
    assert response.status_code == 302
    assert response.url == f"{ACK_URL}?next=%2Faccounts%2Fprofile%2Fedit%2F"
    page = client.get(response.url)
    assert page.status_code == 200
    assert "Our privacy policy has changed" in text_of(page)


def test_the_flag_costs_one_query_at_sign_in(django_assert_num_queries):
    person = joined_before()
    version = significant_version()
    request = RequestFactory().get("/")
    request.session = {}
    with django_assert_num_queries(1):
        policy_notice.flag_pending_policy_notice(None, request, person)
    assert request.session == {policy_notice.SESSION_KEY: [version.pk]}


def test_no_flag_for_someone_who_registered_after_the_version(client):
    significant_version()
    person = UserFactory(date_joined=timezone.now() + timedelta(seconds=1))
    sign_in(client, person)
    assert policy_notice.SESSION_KEY not in client.session
    assert client.get("/accounts/profile/").status_code == 200


def test_the_middleware_costs_no_query(django_assert_num_queries):
    """CON-6: later requests read only the session the site loads anyway."""
    middleware = policy_notice.PolicyNoticeMiddleware(lambda request: HttpResponse("ok"))
    request = RequestFactory().get("/accounts/profile/")
    request.user = UserFactory()
    request.session = {policy_notice.SESSION_KEY: [1]}
    middleware(RequestFactory().get("/"))  # resolve the exempt paths once
    with django_assert_num_queries(0):
        response = middleware(request)
    assert response.status_code == 302
    request.session = {}
    with django_assert_num_queries(0):
        assert middleware(request).status_code == 200
    request.user = AnonymousUser()
    assert middleware(request).status_code == 200


@pytest.fixture
def flagged(client):
    """A signed-in staff member with a pending significant version."""
    person = joined_before(is_staff=True, is_superuser=True)
    version = significant_version()
    client.force_login(person)
    assert client.session[policy_notice.SESSION_KEY] == [version.pk]
    return person, version


@pytest.mark.parametrize(
    ("method", "url", "exempt"),
    [
        ("get", "/", False),
        ("get", "/accounts/profile/", False),
        ("get", "/orgs/", False),
        ("get", "/ops/", False),  # staff are people too
        ("post", "/accounts/profile/edit/", False),
        ("post", "/policies/", False),
        ("get", "/policies/", True),
        ("get", "/policies/mainland/", True),
        ("get", "/policies/mainland/2019-03/", True),
        ("get", ACK_URL, True),
        ("post", "/i18n/setlang/", True),
        ("get", "/static/css/custodia.css", True),
        ("post", "/accounts/sign-out/", True),
    ],
)
def test_what_the_notice_lets_through(client, flagged, method, url, exempt):
    response = getattr(client, method)(url, {"language": "en"} if "setlang" in url else {})
    redirected = response.status_code == 302 and response.url.startswith(ACK_URL)
    assert redirected is not exempt


def test_a_post_elsewhere_is_not_carried_out_and_not_remembered(client, flagged):
    person, _version = flagged
    response = client.post("/accounts/profile/edit/", {"name": "Changed"})
    assert response.url == ACK_URL
    person.refresh_from_db()
    assert person.name != "Changed"


# --------------------------------------------------------------------------- acknowledging


def ack_form(response) -> dict:
    form = response.context["form"]
    return {"versions": form.initial["versions"], "token": form.initial["token"], "next": form.initial["next"]}


def test_the_acknowledge_page_shows_what_changed_and_records_the_acknowledgement(client, flagged):
    """CON-6: prominent notice with the kinds of change, the summary and a link to the
    full text; one button records it, clears the flag and returns to the page wanted."""
    person, version = flagged
    page = client.get(f"{ACK_URL}?next=/orgs/")
    text = text_of(page)
    assert "You can now export your data." in text
    assert "Your rights, or how you exercise them, change significantly" in text
    assert "The department responsible for security, its contact or the complaint channel changes" in text
    assert f'href="/policies/mainland/{version.version}/"' in text
    assert "I have read the changes" in text
    response = client.post(ACK_URL, ack_form(page))
    assert response.status_code == 302
    assert response.url == "/orgs/"
    ack = PolicyAcknowledgement.objects.get(user=person, version=version)
    assert ack.language == "en"
    assert policy_notice.SESSION_KEY not in client.session
    assert client.get("/orgs/").status_code == 200


def test_an_unsafe_next_is_not_followed(client, flagged):
    page = client.get(f"{ACK_URL}?next=https://evil.example/")
    response = client.post(ACK_URL, ack_form(page))
    assert response.url == reverse("accounts:profile")


def test_a_forged_form_is_refused_with_a_clear_error(client, flagged):
    _person, version = flagged
    other = significant_version("dedicated", "2030-01")
    data = ack_form(client.get(ACK_URL))
    for forged in (
        {**data, "token": data["token"][:-3] + "abc"},
        {**data, "versions": f"{version.pk},{other.pk}"},
        {**data, "versions": "x"},
        {**data, "token": services.acknowledgement_token(UserFactory(), [version.pk])},
    ):
        response = client.post(ACK_URL, forged)
        assert response.status_code == 200
        assert "could not be verified. Nothing was recorded" in text_of(response)
    assert not PolicyAcknowledgement.objects.exists()
    assert client.session[policy_notice.SESSION_KEY] == [version.pk]


def test_a_replayed_form_adds_no_row_and_says_so(client, flagged):
    person, _version = flagged
    data = ack_form(client.get(ACK_URL))
    client.post(ACK_URL, data)
    response = client.post(ACK_URL, data, follow=True)
    assert "You had already acknowledged these changes." in text_of(response)
    assert PolicyAcknowledgement.objects.filter(user=person).count() == 1


def test_a_stale_form_shows_the_newer_version(client, flagged):
    """CON-6: if a newer significant version appeared while the page was open, the
    person is told and shown the newer one; nothing is recorded for the old one."""
    _person, version = flagged
    data = ack_form(client.get(ACK_URL))
    newer = significant_version("mainland", "2030-02", effective_on=date(2030, 2, 1), summary="Merger.")
    response = client.post(ACK_URL, data)
    assert response.status_code == 200
    text = text_of(response)
    assert "A newer version of the Mainland China edition was published meanwhile" in text
    assert f'data-version="{newer.version}"' in text
    assert f'data-version="{version.version}"' not in text
    assert not PolicyAcknowledgement.objects.exists()
    assert client.session[policy_notice.SESSION_KEY] == [newer.pk]
    client.post(ACK_URL, ack_form(response))
    assert PolicyAcknowledgement.objects.get().version == newer


def test_the_acknowledge_page_needs_sign_in_and_sends_those_without_pending_on(client):
    assert client.get(ACK_URL).url.startswith(reverse("accounts:login"))
    client.force_login(UserFactory())
    assert client.get(f"{ACK_URL}?next=/orgs/").url == "/orgs/"


def test_nothing_is_pending_once_the_person_signed_in_and_acknowledged_elsewhere(client):
    """A flag in an old session is dropped when the page finds nothing pending."""
    person = joined_before()
    version = significant_version()
    client.force_login(person)
    PolicyAcknowledgement.objects.create(user=person, version=version, language="en")
    response = client.get("/accounts/profile/")
    assert response.url.startswith(ACK_URL)
    assert client.get(response.url).status_code == 302
    assert client.get("/accounts/profile/").status_code == 200
    assert PolicyVersion.objects.filter(significant=True).count() == 1
