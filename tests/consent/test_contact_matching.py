"""Contact matching (CON-4): a keyed one-way hash of E.164 numbers computed by the
client, matched only against people who allow being found, never stored, logged or
audited beyond a count, validated strictly, limited per person and day, and available
only while the person consents (CON-1)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging

import pytest
from django.test import Client
from django.urls import reverse

from consent.models import Channel, Decision, Purpose
from consent.services import contact_matching, ledger
from consent.services.privacy import set_findable_by_phone
from dataprotection.models import AuditEvent
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

MATCH = reverse("consent:contacts_match")
KEY = reverse("consent:contacts_key")


def client_digest(key: bytes, e164: str) -> str:
    """What a client computes: hex HMAC-SHA256 of the E.164 number."""
    return hmac.new(key, e164.encode(), hashlib.sha256).hexdigest()


def post(client, payload, **extra):
    body = payload if isinstance(payload, str | bytes) else json.dumps(payload)
    return client.post(MATCH, body, content_type="application/json", **extra)


@pytest.fixture
def asker(client):
    user = UserFactory()
    ledger.record_consent(user=user, purpose=Purpose.CONTACT_MATCHING, decision=Decision.GRANTED, channel=Channel.WEB)
    client.force_login(user)
    return user


@pytest.fixture
def people():
    findable = UserFactory(phone="+8613911112222", nickname="Lanlan")
    findable_no_nickname = UserFactory(phone="+6581234567", nickname="")
    hidden = UserFactory(phone="+8613933334444", nickname="Hidden")
    set_findable_by_phone(findable, True)
    set_findable_by_phone(findable_no_nickname, True)
    set_findable_by_phone(hidden, True)
    set_findable_by_phone(hidden, False)  # was findable, no longer
    return findable, findable_no_nickname, hidden


def test_the_key_is_derived_from_secret_key_when_not_configured(settings):
    """CON-4: an empty CONTACT_MATCHING_KEY derives a stable key from SECRET_KEY (HKDF);
    a configured key is used as is; the key id changes with the key."""
    settings.CONTACT_MATCHING_KEY = ""
    derived = contact_matching.matching_key()
    assert len(derived) == 32 and derived == contact_matching.matching_key()
    assert derived not in settings.SECRET_KEY.encode()
    derived_id = contact_matching.key_id()
    settings.SECRET_KEY = settings.SECRET_KEY + "-rotated"
    assert contact_matching.matching_key() != derived
    settings.CONTACT_MATCHING_KEY = "configured-key"
    assert contact_matching.matching_key() == b"configured-key"
    assert contact_matching.key_id() != derived_id


def test_signed_in_clients_get_the_key(client, asker):
    """CON-4: the key (base64) and its id, for hashing on the device."""
    document = client.get(KEY).json()
    assert base64.b64decode(document["key"]) == contact_matching.matching_key()
    assert document["key_id"] == contact_matching.key_id() and document["algorithm"] == "HMAC-SHA256"
    assert Client().get(KEY).status_code == 401


def test_matches_only_people_who_allow_being_found(client, asker, people):
    """CON-4: a findable person is returned with their nickname (or a masked number);
    someone who turned it off, an unknown number and the asker themselves are not."""
    findable, no_nickname, hidden = people
    set_findable_by_phone(asker, True)
    key = base64.b64decode(client.get(KEY).json()["key"])
    numbers = [findable.phone, no_nickname.phone, hidden.phone, "+8613955556666", asker.phone]
    response = post(client, {"digests": [client_digest(key, n) for n in numbers]})
    assert response.status_code == 200
    matches = {m["digest"]: m["display_name"] for m in response.json()["matches"]}
    assert matches == {
        client_digest(key, findable.phone): "Lanlan",
        client_digest(key, no_nickname.phone): "+658****567",
    }


def test_submitted_digests_are_never_kept(client, asker, people, caplog):
    """CON-4: the digests are compared and forgotten: the audit event holds counts
    only, and nothing is logged with them."""
    findable = people[0]
    digests = [contact_matching.contact_digest(findable.phone), contact_matching.contact_digest("+8613900000000")]
    with caplog.at_level(logging.DEBUG):
        post(client, {"digests": digests})
    event = AuditEvent.objects.get(action="consent.contacts_matched")
    assert event.metadata == {"submitted": 2, "matched": 1}
    stored = json.dumps(list(AuditEvent.objects.values()), default=str)
    assert digests[1] not in stored
    assert not any(digest in caplog.text for digest in digests)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("not json", "The body is not JSON"),
        (json.dumps(["a" * 64]), "Send a JSON object"),
        (json.dumps({"digests": "a" * 64}), "Send a JSON object"),
        (json.dumps({"digests": ["a" * 63]}), "Digest number 1 is not a hex HMAC-SHA256"),
        (json.dumps({"digests": ["a" * 64, "g" * 64]}), "Digest number 2 is not"),
        (json.dumps({"digests": [12]}), "Digest number 1 is not"),
        (json.dumps({"digests": ["a" * 64] * 501}), "at most 500 digests per request; this one has 501"),
    ],
)
def test_bad_requests_get_a_clear_400(client, asker, body, message):
    """CON-4: malformed digests, too many of them or a body that is not JSON."""
    response = post(client, body)
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert not AuditEvent.objects.filter(action="consent.contacts_matched").exists()


def test_the_daily_limit_answers_429(client, asker, settings):
    """CON-4: digests per person and day are counted in the cache; past the limit the
    request is refused and not counted."""
    settings.CONTACT_MATCHING_DAILY_LIMIT = 5
    digests = [f"{n:064x}" for n in range(3)]
    assert post(client, {"digests": digests}).status_code == 200
    response = post(client, {"digests": digests})
    assert response.status_code == 429 and "today's limit" in response.json()["error"]
    assert post(client, {"digests": digests[:2]}).status_code == 200  # 3 + 2 = 5: still allowed
    assert post(client, {"digests": digests[:1]}).status_code == 429
    other = Client()
    other_user = UserFactory()
    ledger.record_consent(
        user=other_user, purpose=Purpose.CONTACT_MATCHING, decision=Decision.GRANTED, channel=Channel.WEB
    )
    other.force_login(other_user)
    assert post(other, {"digests": digests}).status_code == 200  # the limit is per person


def test_without_consent_the_endpoint_refuses(client, asker, people):
    """CON-1, CON-4: after withdrawing, matching stops with a 403 that says why."""
    ledger.record_consent(
        user=asker, purpose=Purpose.CONTACT_MATCHING, decision=Decision.WITHDRAWN, channel=Channel.WEB
    )
    response = post(client, {"digests": [contact_matching.contact_digest(people[0].phone)]})
    assert response.status_code == 403 and "Contact matching is off" in response.json()["error"]
    assert client.get(reverse("consent:contacts")).status_code == 403


def test_the_browser_sends_the_csrf_token_in_a_header(asker):
    """CON-4: the endpoint is CSRF-protected; the page's script sends the token as
    X-CSRFToken."""
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(asker)
    assert post(browser, {"digests": []}).status_code == 403
    page = browser.get(reverse("consent:contacts"))
    token = page.context["csrf_token"]
    assert post(browser, {"digests": []}, HTTP_X_CSRFTOKEN=str(token)).status_code == 200
