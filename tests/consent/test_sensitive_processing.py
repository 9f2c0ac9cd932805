"""Sensitive processing needs its own explicit consent, recorded in the ledger, and
withdrawing it stops the processing (CON-5, CON-2): identity checks (ACC-3) and face
recognition (ORG-4 biometric templates)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from accounts.models import IdentityVerification
from accounts.services import identity
from consent.models import Channel, ConsentRecord, Decision, Purpose
from consent.services.ledger import record_consent
from dataprotection.identifiers import id_number_check_digit
from dataprotection.models import AuditEvent
from organizations.models import BiometricTemplate
from tests.factories import MemberFactory, OrganizationFactory, UserFactory

ID_NUMBER = "11010519491231002" + id_number_check_digit("11010519491231002")


def ledger(user) -> list[tuple[str, str, str]]:
    return list(ConsentRecord.objects.filter(user=user).order_by("pk").values_list("purpose", "decision", "channel"))


@pytest.mark.django_db
def test_identity_check_needs_explicit_consent():
    """CON-5: without the explicit consent nothing is stored and nothing recorded."""
    person = UserFactory()
    with pytest.raises(ValidationError, match="explicit consent"):
        identity.submit_identity_verification(
            person, legal_name="Zhang San", id_number=ID_NUMBER, explicit_consent=False
        )
    assert not IdentityVerification.objects.exists() and ledger(person) == []


@pytest.mark.django_db
def test_the_explicit_consent_is_recorded_in_the_ledger():
    """CON-5, CON-2: the identity check's own consent lands in the ledger once."""
    person = UserFactory()
    for _ in range(2):
        identity.submit_identity_verification(
            person, legal_name="Zhang San", id_number=ID_NUMBER, explicit_consent=True
        )
    assert ledger(person) == [(Purpose.IDENTITY_CHECK, Decision.GRANTED, Channel.WEB)]


@pytest.mark.django_db
def test_withdrawing_the_consent_deletes_the_identity_data():
    """CON-5: withdrawal on the privacy page stops the processing: the ID number goes,
    audited; the ledger holds one withdrawal (the deletion's own signal adds none)."""
    person = UserFactory()
    identity.submit_identity_verification(person, legal_name="Zhang San", id_number=ID_NUMBER, explicit_consent=True)
    record_consent(user=person, purpose=Purpose.IDENTITY_CHECK, decision=Decision.WITHDRAWN, channel=Channel.WEB)
    assert not IdentityVerification.objects.filter(user=person).exists()
    assert AuditEvent.objects.filter(action="identity.removed", subject_user=person).count() == 1
    assert ledger(person) == [
        (Purpose.IDENTITY_CHECK, Decision.GRANTED, Channel.WEB),
        (Purpose.IDENTITY_CHECK, Decision.WITHDRAWN, Channel.WEB),
    ]


@pytest.mark.django_db
def test_deleting_the_identity_data_withdraws_the_consent(client):
    """CON-2: removing the data on the profile pages is a withdrawal in the ledger."""
    person = UserFactory()
    client.force_login(person)
    response = client.post(reverse("accounts:identity"), {"legal_name": "Zhang San", "id_number": ID_NUMBER})
    assert response.status_code == 200 and "needs your explicit consent" in response.content.decode()
    assert not IdentityVerification.objects.exists()
    client.post(
        reverse("accounts:identity"), {"legal_name": "Zhang San", "id_number": ID_NUMBER, "explicit_consent": "on"}
    )
    client.post(reverse("accounts:identity"), {"remove": "1"})
    assert [decision for _purpose, decision, _channel in ledger(person)] == [Decision.GRANTED, Decision.WITHDRAWN]


@pytest.mark.django_db
def test_withdrawing_face_recognition_erases_the_persons_face_templates():
    """CON-5, ORG-4: the person's face templates go in every organization; their
    fingerprints and other people's faces stay; each organization's audit log says so."""
    person, other = UserFactory(), UserFactory()
    first, second = OrganizationFactory(), OrganizationFactory()
    mine = [MemberFactory(organization=org, user=person) for org in (first, second)]
    theirs = MemberFactory(organization=first, user=other)
    for member in [*mine, theirs]:
        BiometricTemplate.objects.create(organization=member.organization, member=member, kind="face", template="f")
    BiometricTemplate.objects.create(organization=first, member=mine[0], kind="fingerprint", template="p")
    record_consent(user=person, purpose=Purpose.FACE_RECOGNITION, decision=Decision.GRANTED, channel=Channel.WEB)
    record_consent(user=person, purpose=Purpose.FACE_RECOGNITION, decision=Decision.WITHDRAWN, channel=Channel.WEB)
    left = set(BiometricTemplate.objects.values_list("member_id", "kind"))
    assert left == {(mine[0].pk, "fingerprint"), (theirs.pk, "face")}
    events = AuditEvent.objects.filter(action="member.face_templates_erased", subject_user=person)
    assert sorted(events.values_list("organization_id", flat=True)) == sorted([first.pk, second.pk])
