"""Global Privacy Control (CON-7): ``Sec-GPC: 1`` opts a visitor or a person out of
every purpose marked opted_out_by_gpc, with channel gpc, once only; later requests cost
no query; pages say what the signal did."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from consent.models import PURPOSES, Channel, ConsentRecord, Decision, Purpose
from consent.services import ledger
from consent.views.gpc import GPC_PURPOSES, SESSION_KEY, VISITOR_COOKIE, load_state
from organizations.context_processors import cached_shutdown_notices
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

GPC = {"HTTP_SEC_GPC": "1"}


def test_the_gpc_purposes_are_marketing_and_optional_sharing():
    """CON-7: the opt-out covers marketing and sharing, nothing else."""
    assert set(GPC_PURPOSES) == {Purpose.MARKETING, Purpose.OPTIONAL_SHARING}
    assert all(PURPOSES[p].opted_out_by_gpc for p in GPC_PURPOSES)


def test_a_visitor_with_the_signal_is_opted_out_once(client, django_assert_num_queries):
    """CON-7: the first request gives the visitor a key (a strictly necessary cookie)
    and records one withdrawal per GPC purpose with channel gpc; later requests with
    the signal record nothing more and cost no query at all."""
    cached_shutdown_notices()
    response = client.get(reverse("home"), **GPC)
    assert response.status_code == 200
    assert VISITOR_COOKIE in response.cookies
    records = ConsentRecord.objects.filter(user=None)
    assert sorted(records.values_list("purpose", "decision", "channel")) == [
        ("marketing", "withdrawn", "gpc"),
        ("optional_sharing", "withdrawn", "gpc"),
    ]
    key = records.first().visitor_key
    assert len(key) == 32
    for _request in range(3):
        with django_assert_num_queries(0):
            client.get(reverse("home"), **GPC)
    assert ConsentRecord.objects.count() == 2
    assert not ledger.visitor_has_consent(key, Purpose.MARKETING)


def test_the_banner_and_pages_tell_the_visitor_what_the_signal_did(client):
    """CON-7: the cookie banner carries the note, and marketing cookies cannot be
    turned on against the signal."""
    body = client.get(reverse("home"), **GPC).content.decode()
    assert "Your browser's Global Privacy Control signal opted you out of" in body
    assert "Product news and offers" in body and "Sharing with partners" in body
    assert 'name="marketing" id="banner-marketing" disabled' in body
    assert "Global Privacy Control" not in Client().get(reverse("home")).content.decode()


def test_a_signed_in_person_is_opted_out_once(client, django_assert_num_queries):
    """CON-7: a person's own ledger gets the withdrawals (where not withdrawn already),
    remembered in the session: later requests cost the same as without the signal."""
    person = UserFactory()
    ledger.record_consent(user=person, purpose=Purpose.MARKETING, decision=Decision.GRANTED, channel=Channel.WEB)
    ledger.record_consent(
        user=person, purpose=Purpose.OPTIONAL_SHARING, decision=Decision.WITHDRAWN, channel=Channel.WEB
    )
    client.force_login(person)
    cached_shutdown_notices()
    client.get(reverse("accounts:profile"), **GPC)
    records = ConsentRecord.objects.filter(user=person, channel=Channel.GPC)
    assert list(records.values_list("purpose", "decision")) == [("marketing", "withdrawn")]  # sharing was off
    assert not ledger.has_consent(person, Purpose.MARKETING)
    assert client.session[SESSION_KEY]["g"] is True
    with django_assert_num_queries(4):  # session, person, identity, deletion request: the profile's own
        client.get(reverse("accounts:profile"), **GPC)
    client.get(reverse("accounts:profile"), **GPC)
    assert ConsentRecord.objects.filter(user=person, channel=Channel.GPC).count() == 1


def test_the_privacy_page_shows_the_note(client):
    """CON-7: the privacy settings page says which purposes the signal turned off."""
    client.force_login(UserFactory())
    body = client.get(reverse("consent:privacy"), **GPC).content.decode()
    assert 'data-testid="gpc-note"' in body
    assert "Global Privacy Control signal opted you out of: Product news and offers" in body
    assert 'data-testid="gpc-note"' not in client.get(reverse("consent:privacy")).content.decode()


def test_without_the_signal_nothing_is_recorded(client):
    """CON-7: no header (or another value), no withdrawal and no cookie."""
    response = client.get(reverse("home"), HTTP_SEC_GPC="0")
    assert VISITOR_COOKIE not in response.cookies
    assert not ConsentRecord.objects.exists()


def test_a_tampered_visitor_cookie_is_a_new_visitor(client, rf):
    """The visitor cookie is signed: a forged key is ignored, never someone else's."""
    client.cookies[VISITOR_COOKIE] = '{"k": "' + "a" * 32 + '", "d": 1, "g": 1}'
    client.get(reverse("home"), **GPC)
    assert not ConsentRecord.objects.filter(visitor_key="a" * 32).exists()
    assert ConsentRecord.objects.filter(channel=Channel.GPC).count() == 2
    request = rf.get("/")
    request.COOKIES[VISITOR_COOKIE] = "garbage"
    request.user = type("Anonymous", (), {"is_authenticated": False})()
    assert load_state(request).visitor_key == ""
