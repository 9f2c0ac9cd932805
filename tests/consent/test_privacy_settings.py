"""The privacy settings pages (CON-1, CON-2, CON-3, CON-5): basic functions work without
any consent, additional ones explain that they are off, one toggle per purpose with its
state, sensitive purposes each on their own explicit form, being findable by phone,
device permissions for client apps, the ledger history, the consent receipt, and the
read-only operations console."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse
from django.utils.html import escape

from consent.models import PURPOSES, Channel, ConsentRecord, Decision, PolicyVersion, PrivacySettings, Purpose
from consent.selectors.privacy import principal_id
from consent.services import ledger
from consent.services.contact_matching import contact_digest
from dataprotection.models import AuditEvent
from organizations.context_processors import cached_shutdown_notices
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

OPTIONAL = [purpose for purpose, info in PURPOSES.items() if not info.sensitive]
SENSITIVE = [purpose for purpose, info in PURPOSES.items() if info.sensitive]


def url(name: str) -> str:
    return reverse(f"consent:{name}")


def version_field() -> str:
    current = ledger.current_policy_version()
    return str(current.pk) if current else ""


def decide(client, purpose, decision, **extra):
    data = {"purpose": purpose, "decision": decision, "policy_version": version_field(), **extra}
    return client.post(url("privacy_decide"), data)


@pytest.fixture
def person(client):
    user = UserFactory(nickname="Xiaoming")
    client.force_login(user)
    return user


# --------------------------------------------------------------------------- CON-1


def test_basic_pages_work_after_withdrawing_every_optional_consent(client, cast):
    """CON-1: refusing additional functions never blocks basic ones: with every purpose
    withdrawn, the profile, the person's organizations and their data still open."""
    client.force_login(cast.member_user)
    for purpose in PURPOSES:
        ledger.record_consent(user=cast.member_user, purpose=purpose, decision=Decision.GRANTED, channel=Channel.WEB)
        ledger.record_consent(user=cast.member_user, purpose=purpose, decision=Decision.WITHDRAWN, channel=Channel.WEB)
    assert not any(ledger.has_consent(cast.member_user, purpose) for purpose in PURPOSES)
    for name in ("accounts:profile", "organizations:list", "organizations:my_data", "consent:privacy"):
        response = client.get(reverse(name))
        assert response.status_code == 200, name
    assert "Hangzhou Example Co." in client.get(reverse("organizations:my_data")).content.decode()


def test_an_additional_function_without_consent_explains_itself(client, person):
    """CON-1: contact matching is off until the person opts in: a 403 page that says so
    and links to the privacy settings, not a broken page; JSON clients get JSON."""
    response = client.get(url("contacts"))
    assert response.status_code == 403
    body = response.content.decode()
    assert "Contact matching is off" in body and url("privacy") in body
    response = client.get(url("contacts_key"))
    assert response.status_code == 403 and response.json()["purpose"] == "contact_matching"
    decide(client, Purpose.CONTACT_MATCHING, Decision.GRANTED)
    assert client.get(url("contacts")).status_code == 200


def test_pages_need_signing_in(client):
    """CON-3: the settings are the person's own."""
    for name in ("privacy", "privacy_history", "consent_receipt", "contacts"):
        response = client.get(url(name))
        assert response.status_code == 302 and "/accounts/sign-in/" in response["Location"], name
    assert client.get(url("device_permissions_json")).status_code == 401
    assert client.post(url("privacy_decide"), {"purpose": "marketing", "decision": "granted"}).status_code == 302
    assert not ConsentRecord.objects.exists()


# --------------------------------------------------------------------------- the page


def test_the_page_shows_one_toggle_per_purpose_with_its_state(client, person):
    """CON-3: each purpose with its description and current state; sensitive purposes
    in their own section, each with an explicit confirmation checkbox."""
    ledger.record_consent(user=person, purpose=Purpose.MARKETING, decision=Decision.GRANTED, channel=Channel.WEB)
    body = client.get(url("privacy")).content.decode()
    for purpose in OPTIONAL:
        assert f'data-purpose="{purpose}"' in body
        assert str(escape(PURPOSES[purpose].description)) in body
    assert "Withdraw consent to Product news and offers" in body
    assert "Grant consent to Contact matching" in body
    assert "Off (not decided)" in body
    for purpose in SENSITIVE:
        assert escape(f"I explicitly consent to {Purpose(purpose).label}: {PURPOSES[purpose].description}") in body
        assert f"Grant consent to {Purpose(purpose).label}" not in body  # never a plain toggle
    assert 'data-testid="cookie-banner"' not in body  # the page has its own cookie section


def test_grant_and_withdraw_from_the_page(client, person):
    """CON-2: each click is one record with channel web, and one audit event."""
    response = decide(client, Purpose.PERSONALIZATION, Decision.GRANTED)
    assert response.status_code == 302
    assert ledger.has_consent(person, Purpose.PERSONALIZATION)
    decide(client, Purpose.PERSONALIZATION, Decision.WITHDRAWN)
    assert not ledger.has_consent(person, Purpose.PERSONALIZATION)
    records = ConsentRecord.objects.filter(user=person).order_by("pk")
    assert [(r.decision, r.channel) for r in records] == [("granted", "web"), ("withdrawn", "web")]
    assert records[0].policy_version == ledger.current_policy_version()
    assert AuditEvent.objects.filter(subject_user=person, action__startswith="consent.").count() == 2


def test_marketing_opt_out_is_withdrawing_marketing(client, person):
    """CON-3 (EN X): the marketing opt-out is the withdrawal of the marketing purpose."""
    decide(client, Purpose.MARKETING, Decision.GRANTED)
    decide(client, Purpose.MARKETING, Decision.WITHDRAWN)
    assert not ledger.has_consent(person, Purpose.MARKETING)
    assert "Grant consent to Product news and offers" in client.get(url("privacy")).content.decode()


def test_a_policy_change_while_the_page_was_open_writes_nothing(client, person):
    """CON-2, CON-6: the form carries the version the person saw; a newer one means
    "review the policy" and nothing is recorded."""
    seen = version_field()
    PolicyVersion.objects.create(
        edition=ledger.deployment_edition(),
        version="2099-01",
        effective_on="2099-01-01",
        published_at="2099-01-01T00:00Z",
    )
    response = client.post(
        url("privacy_decide"), {"purpose": "marketing", "decision": "granted", "policy_version": seen}
    )
    assert response.status_code == 400
    assert "The privacy policy changed since you opened this page" in response.content.decode()
    assert not ConsentRecord.objects.exists()


def test_sensitive_purposes_need_their_own_explicit_confirmation(client, person):
    """CON-5: the ordinary toggle cannot grant face recognition; its own form without
    the ticked box writes nothing; with it, one record."""
    response = decide(client, Purpose.FACE_RECOGNITION, Decision.GRANTED)
    assert response.status_code == 400 and "needs your explicit confirmation" in response.content.decode()
    data = {"purpose": Purpose.FACE_RECOGNITION, "policy_version": version_field()}
    response = client.post(url("privacy_sensitive"), data)
    assert response.status_code == 400 and "Tick the box" in response.content.decode()
    assert not ConsentRecord.objects.exists()
    assert client.post(url("privacy_sensitive"), {**data, "confirm": "on"}).status_code == 302
    assert ledger.has_consent(person, Purpose.FACE_RECOGNITION)
    assert not ledger.has_consent(person, Purpose.IDENTITY_CHECK)
    decide(client, Purpose.FACE_RECOGNITION, Decision.WITHDRAWN)  # withdrawing is one click
    assert not ledger.has_consent(person, Purpose.FACE_RECOGNITION)


def test_turn_on_all_excludes_sensitive_purposes(client, person):
    """CON-5: "turn on all" grants every optional purpose and no sensitive one."""
    response = client.post(url("privacy_accept_all"), {"policy_version": version_field()})
    assert response.status_code == 302
    assert all(ledger.has_consent(person, purpose) for purpose in OPTIONAL)
    assert not any(ledger.has_consent(person, purpose) for purpose in SENSITIVE)


# --------------------------------------------------------------------------- findable, device permissions


def test_findable_by_phone_stores_the_keyed_hash_only_while_on(client, person):
    """CON-3, CON-4: on stores the contact-matching hash of the person's number; off
    erases it. Each change is audited."""
    client.post(url("privacy_discovery"), {"findable_by_phone": "on"})
    row = PrivacySettings.objects.get(user=person)
    assert row.findable_by_phone and row.discovery_digest == contact_digest(person.phone)
    assert person.phone not in row.discovery_digest
    client.post(url("privacy_discovery"), {})
    row.refresh_from_db()
    assert not row.findable_by_phone and row.discovery_digest == ""
    events = AuditEvent.objects.filter(action="privacy.findable_by_phone_changed", subject_user=person)
    assert [e.metadata["findable_by_phone"] for e in events.order_by("pk")] == [True, False]


def test_device_permissions_are_saved_and_served_to_client_apps(client, person):
    """CON-3: client apps read the permissions from a small JSON endpoint; anything not
    ticked is not allowed."""
    assert client.get(url("device_permissions_json")).json()["permissions"]["camera"] is False
    client.post(url("privacy_device_permissions"), {"permissions": ["camera", "location"]})
    permissions = client.get(url("device_permissions_json")).json()["permissions"]
    assert {name for name, on in permissions.items() if on} == {"camera", "location"}
    assert set(permissions) == {"location", "camera", "photos", "microphone", "contacts", "calendar", "phone_state"}
    response = client.post(url("privacy_device_permissions"), {"permissions": ["teleport"]})
    assert response.status_code == 400 and "teleport is not one of the available choices" in response.content.decode()
    assert PrivacySettings.objects.get(user=person).device_permissions == ["location", "camera"]
    event = AuditEvent.objects.get(action="privacy.device_permissions_changed")
    assert event.metadata == {"allowed": ["camera", "location"], "revoked": []}


# --------------------------------------------------------------------------- history and receipt


def test_history_lists_the_whole_ledger_newest_first_with_pinned_queries(client, person, django_assert_num_queries):
    """CON-2: the whole ledger, newest first, paginated; four queries whatever its size:
    session, person, count, page (policy versions joined)."""
    for _round in range(30):
        ledger.record_consent(user=person, purpose=Purpose.MARKETING, decision=Decision.GRANTED, channel=Channel.WEB)
        ledger.record_consent(user=person, purpose=Purpose.MARKETING, decision=Decision.WITHDRAWN, channel=Channel.WEB)
    ledger.record_consent(user=UserFactory(), purpose=Purpose.MARKETING, decision=Decision.GRANTED, channel=Channel.WEB)
    cached_shutdown_notices()
    with django_assert_num_queries(4):
        response = client.get(url("privacy_history"))
    rows = response.content.decode().count('data-testid="ledger-row"')
    assert rows == 50
    assert 'data-decision="withdrawn"' in response.content.decode().split('data-testid="ledger-row"')[1]
    with django_assert_num_queries(4):
        second = client.get(url("privacy_history"), {"page": 2})
    assert second.content.decode().count('data-testid="ledger-row"') == 10


def test_consent_receipt_is_a_kantara_style_download(client, person):
    """CON-2: a machine-readable receipt with the Kantara CR v1.1 fields, a pseudonymous
    principal id (never the phone number) and the ledger history, as an attachment."""
    decide(client, Purpose.OPTIONAL_SHARING, Decision.GRANTED)
    decide(client, Purpose.MARKETING, Decision.GRANTED)
    decide(client, Purpose.MARKETING, Decision.WITHDRAWN)
    client.post(
        url("privacy_sensitive"),
        {"purpose": Purpose.IDENTITY_CHECK, "policy_version": version_field(), "confirm": "on"},
    )
    response = client.get(url("consent_receipt"))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    receipt = json.loads(response.content)
    for field in (
        "version",
        "jurisdiction",
        "consentTimestamp",
        "collectionMethod",
        "consentReceiptID",
        "language",
        "piiPrincipalId",
        "piiControllers",
        "policyUrl",
        "services",
        "sensitive",
        "spiCat",
    ):
        assert field in receipt, field
    assert "publicKey" not in receipt
    assert receipt["jurisdiction"] == "CN" and receipt["version"] == "KI-CR-v1.1.0"
    assert receipt["piiPrincipalId"] == principal_id(person) and person.phone not in response.content.decode()
    assert {"piiController", "contact", "address", "email"} <= set(receipt["piiControllers"][0])
    purposes = {p["purposeCode"]: p for p in receipt["services"][0]["purposes"]}
    assert set(purposes) == {"optional_sharing", "identity_check"}  # withdrawn marketing is not consented
    assert purposes["optional_sharing"]["thirdPartyDisclosure"] is True
    assert purposes["identity_check"]["consentType"] == "explicit"
    assert {"purposeCategory", "piiCategory", "primaryPurpose", "termination"} <= set(purposes["identity_check"])
    assert receipt["sensitive"] is True and receipt["spiCat"] == ["ID number", "Name"]
    assert [(e["purpose"], e["decision"]) for e in receipt["ledger"]][:2] == [
        ("identity_check", "granted"),
        ("marketing", "withdrawn"),
    ]
    assert len(receipt["ledger"]) == 4


# --------------------------------------------------------------------------- operations console


def test_operations_console_shows_the_ledger_read_only(client, cast):
    """CON-2: staff can look at the ledger and filter it, never add, change or delete."""
    record = ledger.record_consent(
        user=cast.member_user, purpose=Purpose.MARKETING, decision=Decision.GRANTED, channel=Channel.WEB
    )
    client.force_login(cast.staff)
    changelist = client.get(reverse("admin:consent_consentrecord_changelist"), {"purpose__exact": "marketing"})
    assert changelist.status_code == 200
    body = changelist.content.decode()
    assert cast.member_user.phone not in body
    for parameter in ("purpose__exact", "decision__exact", "channel__exact"):
        assert parameter in body
    assert client.get(reverse("admin:consent_consentrecord_add")).status_code == 403
    assert client.get(reverse("admin:consent_consentrecord_change", args=[record.pk])).status_code == 200  # view only
    assert client.post(reverse("admin:consent_consentrecord_delete", args=[record.pk])).status_code == 403
    assert ConsentRecord.objects.filter(pk=record.pk).exists()
    assert client.get(reverse("admin:consent_privacysettings_changelist")).status_code == 200
    assert client.get(reverse("admin:consent_privacysettings_add")).status_code == 403


def test_the_settings_page_query_count_does_not_grow(client, person, django_assert_num_queries):
    """CON-3: session, person, current policy version, the ledger's latest record per
    purpose (one query), the privacy settings; whatever the length of the ledger."""
    cached_shutdown_notices()
    with django_assert_num_queries(5):
        client.get(url("privacy"))
    for _round in range(5):
        for purpose in OPTIONAL:
            ledger.record_consent(user=person, purpose=purpose, decision=Decision.GRANTED, channel=Channel.WEB)
            ledger.record_consent(user=person, purpose=purpose, decision=Decision.WITHDRAWN, channel=Channel.WEB)
    with django_assert_num_queries(5):
        response = client.get(url("privacy"))
    assert response.content.decode().count("Grant consent to") == len(OPTIONAL)
