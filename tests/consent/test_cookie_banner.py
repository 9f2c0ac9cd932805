"""The cookie banner (CON-3, EN II): strictly necessary cookies always on and
explained, preference and marketing cookies by choice; a visitor's choice goes to their
own ledger under a random key kept in a necessary cookie, a person's to their ledger;
the banner is gone once answered; and it costs no query for a visitor without the
cookie, none for anyone whose answer is remembered, at most one otherwise."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from consent.models import Channel, ConsentRecord, Decision, Purpose
from consent.services import ledger
from consent.views.gpc import SESSION_KEY, VISITOR_COOKIE
from organizations.context_processors import cached_shutdown_notices
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

CHOICES = reverse("consent:cookie_choices")
BANNER = 'data-testid="cookie-banner"'


def shows_banner(response) -> bool:
    return BANNER in response.content.decode()


def test_a_new_visitor_sees_the_banner_at_no_cost(client, django_assert_num_queries):
    """CON-3: no visitor cookie, no query; no cookie is set before a choice."""
    cached_shutdown_notices()
    with django_assert_num_queries(0):
        response = client.get(reverse("home"))
    assert shows_banner(response)
    body = response.content.decode()
    assert "Strictly necessary cookies" in body and "Always on" in body
    assert "Preference cookies" in body and "Marketing cookies" in body
    assert VISITOR_COOKIE not in response.cookies


def test_a_visitor_accepts_all(client, django_assert_num_queries):
    """CON-3: both optional categories are granted in the visitor's ledger with channel
    cookie_banner; the banner is gone and later pages cost no query."""
    response = client.post(CHOICES, {"action": "accept_all", "next": "/accounts/sign-in/"})
    assert response.status_code == 302 and response["Location"] == "/accounts/sign-in/"
    assert VISITOR_COOKIE in response.cookies
    records = ConsentRecord.objects.all()
    assert sorted(records.values_list("purpose", "decision", "channel")) == [
        ("marketing", "granted", "cookie_banner"),
        ("personalization", "granted", "cookie_banner"),
    ]
    key = records.first().visitor_key
    assert {r.visitor_key for r in records} == {key} and records.first().user is None
    assert ledger.visitor_has_consent(key, Purpose.PERSONALIZATION)
    cached_shutdown_notices()
    with django_assert_num_queries(0):
        assert not shows_banner(client.get(reverse("home")))


def test_a_visitor_rejects_or_chooses(client):
    """CON-3: "reject" withdraws both; ticking one category grants only that one."""
    client.post(CHOICES, {"action": "reject_all"})
    assert sorted(ConsentRecord.objects.values_list("purpose", "decision")) == [
        ("marketing", "withdrawn"),
        ("personalization", "withdrawn"),
    ]
    assert not shows_banner(client.get(reverse("home")))
    (first_key,) = set(ConsentRecord.objects.values_list("visitor_key", flat=True))
    Client().post(CHOICES, {"action": "chosen", "preferences": "on"})
    (key,) = set(ConsentRecord.objects.values_list("visitor_key", flat=True)) - {first_key}
    assert ledger.visitor_has_consent(key, Purpose.PERSONALIZATION)
    assert not ledger.visitor_has_consent(key, Purpose.MARKETING)


def test_the_signal_wins_over_accept_all(client):
    """CON-7: with Sec-GPC: 1, "accept all" leaves marketing withdrawn."""
    client.post(CHOICES, {"action": "accept_all"}, HTTP_SEC_GPC="1")
    key = ConsentRecord.objects.first().visitor_key
    assert ledger.visitor_has_consent(key, Purpose.PERSONALIZATION)
    assert not ledger.visitor_has_consent(key, Purpose.MARKETING)


def test_a_signed_in_person_answers_into_their_own_ledger(client):
    """CON-3: the same banner for an undecided person, recorded in their ledger."""
    person = UserFactory()
    client.force_login(person)
    assert shows_banner(client.get(reverse("accounts:profile")))
    client.post(CHOICES, {"action": "chosen", "marketing": "on", "next": reverse("accounts:profile")})
    assert ledger.has_consent(person, Purpose.MARKETING)
    assert not ledger.has_consent(person, Purpose.PERSONALIZATION)
    assert ConsentRecord.objects.filter(user=person, channel=Channel.COOKIE_BANNER).count() == 2
    assert not shows_banner(client.get(reverse("accounts:profile")))


def test_a_person_who_decided_elsewhere_does_not_see_it(client):
    """CON-3: decisions made on the privacy page count as the banner's answer."""
    person = UserFactory()
    for purpose in (Purpose.PERSONALIZATION, Purpose.MARKETING):
        ledger.record_consent(user=person, purpose=purpose, decision=Decision.WITHDRAWN, channel=Channel.WEB)
    client.force_login(person)
    assert not shows_banner(client.get(reverse("accounts:profile")))


def test_a_persons_pages_cost_nothing_extra(client, django_assert_num_queries):
    """CON-3: the answer is read at sign-in and kept in the session: the profile page
    costs its own four queries; if the session lacks it, one query, then none."""
    person = UserFactory()
    client.force_login(person)
    cached_shutdown_notices()
    with django_assert_num_queries(4):
        assert shows_banner(client.get(reverse("accounts:profile")))
    session = client.session
    del session[SESSION_KEY]
    session.save()
    # + one ledger query; + saving the session with the answer (savepoint, update, release)
    with django_assert_num_queries(8):
        client.get(reverse("accounts:profile"))
    with django_assert_num_queries(4):
        client.get(reverse("accounts:profile"))


def test_next_never_leaves_the_site(client):
    """The banner returns to the page it was on, never to another site."""
    response = client.post(CHOICES, {"action": "reject_all", "next": "https://evil.example/"})
    assert response["Location"] == reverse("home")


def test_a_bad_answer_writes_nothing(client):
    response = client.post(CHOICES, {"action": "maybe"})
    assert response.status_code == 302
    assert not ConsentRecord.objects.exists()
    assert VISITOR_COOKIE not in response.cookies


# --------------------------------------------------------------------------- carried over at sign-in


def sign_in_with_password(client, user) -> None:
    from tests.factories import TEST_PASSWORD

    response = client.post(
        reverse("accounts:login"), {"method": "password", "phone": user.phone, "password": TEST_PASSWORD}
    )
    assert response.status_code == 302, response.content.decode()[:500]


def test_a_visitors_choice_is_kept_after_registering(client, django_capture_on_commit_callbacks, sms_outbox):
    """CON-3: the banner answered as a visitor does not come back once the visitor
    registers: the choice is carried into the new person's ledger."""
    from tests.conftest import last_code

    client.post(CHOICES, {"action": "chosen", "preferences": "on"})
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("accounts:register"), {"phone": "+8613800138111", "send_code": "1"})
    code = last_code(sms_outbox, "+8613800138111")
    response = client.post(
        reverse("accounts:register"),
        {
            "phone": "+8613800138111",
            "code": code,
            "name": "Li Lei",
            "password1": "Blue-Lantern-2026",
            "password2": "Blue-Lantern-2026",
            "register": "1",
        },
    )
    assert response.status_code == 302
    person = ConsentRecord.objects.exclude(user=None).first().user
    assert ledger.has_consent(person, Purpose.PERSONALIZATION)
    assert not ledger.has_consent(person, Purpose.MARKETING)
    carried = ConsentRecord.objects.filter(user=person)
    assert set(carried.values_list("channel", flat=True)) == {Channel.COOKIE_BANNER}
    assert not shows_banner(client.get(reverse("accounts:profile")))


def test_a_visitors_choice_is_kept_at_sign_in_and_the_banner_stays_away(client):
    """CON-3: a person who never answered signs in after choosing as a visitor: no
    banner after this or any later sign-in, and the choice is recorded once."""
    person = UserFactory()
    client.post(CHOICES, {"action": "reject_all"})
    sign_in_with_password(client, person)
    assert not shows_banner(client.get(reverse("accounts:profile")))
    assert sorted(ConsentRecord.objects.filter(user=person).values_list("purpose", "decision")) == [
        ("marketing", "withdrawn"),
        ("personalization", "withdrawn"),
    ]
    client.post(reverse("accounts:logout"))
    sign_in_with_password(client, person)
    assert not shows_banner(client.get(reverse("accounts:profile")))
    assert ConsentRecord.objects.filter(user=person).count() == 2

    # In a fresh browser (no visitor cookie), the person's own answer keeps it away too.
    other_browser = Client()
    sign_in_with_password(other_browser, person)
    assert not shows_banner(other_browser.get(reverse("accounts:profile")))


def test_the_persons_own_earlier_decision_stands(client):
    """CON-3: a decision the person made themselves is never overwritten by what a
    visitor chose in this browser; only the undecided purpose is filled in."""
    person = UserFactory()
    ledger.record_consent(user=person, purpose=Purpose.MARKETING, decision="granted", channel=Channel.WEB)
    client.post(CHOICES, {"action": "reject_all"})
    sign_in_with_password(client, person)
    assert ledger.has_consent(person, Purpose.MARKETING)  # theirs, kept
    assert ConsentRecord.objects.get(user=person, purpose=Purpose.PERSONALIZATION).decision == "withdrawn"
    assert not shows_banner(client.get(reverse("accounts:profile")))


def test_without_a_visitor_choice_the_banner_still_asks_after_sign_in(client):
    person = UserFactory()
    sign_in_with_password(client, person)
    assert shows_banner(client.get(reverse("accounts:profile")))
    assert not ConsentRecord.objects.filter(user=person).exists()
