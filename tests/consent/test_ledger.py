"""The consent ledger service (CON-1, CON-2, CON-5): append-only decisions with one
audit event each, idempotent, validated, atomic, bound to the current policy version;
and what an account deletion leaves of it (ACC-5)."""

from __future__ import annotations

from datetime import date, timedelta
from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.test import TestCase
from django.utils import timezone

from accounts.models import CodePurpose
from accounts.services.codes import send_code
from accounts.services.deletion import request_account_deletion
from consent.models import Actor, Channel, ConsentRecord, Decision, PolicyVersion, PrivacySettings, Purpose
from consent.services import ledger
from consent.services.privacy import set_device_permissions, set_findable_by_phone
from dataprotection.models import AnonymizationJob, AuditEvent, JobStatus
from dataprotection.personal_data import ANONYMIZED
from tests.conftest import last_code
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def publish(edition: str, label: str, *, at=None) -> PolicyVersion:
    return PolicyVersion.objects.create(
        edition=edition, version=label, effective_on=date(2030, 1, 1), published_at=at or timezone.now()
    )


def grant(user, purpose=Purpose.MARKETING, **kwargs):
    return ledger.record_consent(
        user=user, purpose=purpose, decision=Decision.GRANTED, channel=kwargs.pop("channel", Channel.WEB), **kwargs
    )


def withdraw(user, purpose=Purpose.MARKETING, **kwargs):
    return ledger.record_consent(
        user=user, purpose=purpose, decision=Decision.WITHDRAWN, channel=kwargs.pop("channel", Channel.WEB), **kwargs
    )


def test_a_grant_is_one_record_and_one_audit_event():
    """CON-2: purpose, decision, channel, actor, time and policy version are recorded,
    with an audit event in the same transaction."""
    person = UserFactory()
    record = grant(person, policy_version=ledger.CURRENT, ip="10.0.0.1")
    assert record is not None
    assert (record.user, record.purpose, record.decision, record.channel, record.actor) == (
        person,
        Purpose.MARKETING,
        Decision.GRANTED,
        Channel.WEB,
        Actor.SELF,
    )
    assert record.policy_version == ledger.current_policy_version()
    event = AuditEvent.objects.get(action="consent.granted")
    assert event.subject_user == person and event.actor == person and event.ip_address == "10.0.0.1"
    assert event.metadata["purpose"] == "marketing" and event.metadata["channel"] == "web"


def test_granting_twice_writes_one_record():
    """CON-2: only a change of state is written; the second grant returns None."""
    person = UserFactory()
    assert grant(person) is not None
    assert grant(person) is None
    assert ConsentRecord.objects.filter(user=person).count() == 1
    assert AuditEvent.objects.filter(action__startswith="consent.").count() == 1


def test_withdrawal_appends_and_never_rewrites_the_grant():
    """CON-2: a withdrawal is a new record; the earlier grant stays as it was."""
    person = UserFactory()
    granted = grant(person)
    withdrawn = withdraw(person)
    assert withdrawn is not None and withdrawn.pk != granted.pk
    granted_again = ConsentRecord.objects.get(pk=granted.pk)
    assert granted_again.decision == Decision.GRANTED and granted_again.recorded_at == granted.recorded_at
    assert not ledger.has_consent(person, Purpose.MARKETING)
    with pytest.raises(ValueError, match="append-only"):
        granted_again.save()


def test_no_record_means_not_granted_and_a_first_refusal_is_recorded():
    """CON-1: additional functions are off until the person opts in; refusing before
    ever granting is still recorded as evidence of the choice."""
    person = UserFactory()
    assert not ledger.has_consent(person, Purpose.CONTACT_MATCHING)
    assert withdraw(person, Purpose.CONTACT_MATCHING) is not None
    assert withdraw(person, Purpose.CONTACT_MATCHING) is None
    grant(person, Purpose.CONTACT_MATCHING)
    assert ledger.has_consent(person, Purpose.CONTACT_MATCHING)


def test_unknown_purpose_is_refused_with_a_clear_message_and_nothing_written():
    """CON-2: a typo in a purpose never creates a consent to nothing."""
    person = UserFactory()
    with pytest.raises(ValidationError, match="“newsletter” is not a purpose of Custodia"):
        grant(person, "newsletter")
    assert not ConsentRecord.objects.exists() and not AuditEvent.objects.exists()


def test_guardian_and_agent_must_name_who_acted():
    """CON-2: the actor (self, guardian, agent) is recorded; a guardian's or agent's
    decision names the acting person."""
    child, guardian = UserFactory(), UserFactory()
    with pytest.raises(ValidationError, match="must name who made it"):
        grant(child, actor=Actor.GUARDIAN, channel=Channel.GUARDIAN_FORM)
    assert not ConsentRecord.objects.exists()
    record = grant(child, actor=Actor.GUARDIAN, actor_user=guardian, channel=Channel.GUARDIAN_FORM)
    assert record.actor == Actor.GUARDIAN and record.actor_user == guardian
    event = AuditEvent.objects.get(action="consent.granted")
    assert event.actor == guardian and event.subject_user == child


def test_a_record_and_its_audit_event_commit_together():
    """House rule: if the audit event cannot be written, no record remains."""
    person = UserFactory()
    with (
        mock.patch("consent.services.ledger.record_event", side_effect=RuntimeError("audit down")),
        pytest.raises(RuntimeError),
    ):
        grant(person)
    assert not ConsentRecord.objects.exists()


def test_current_consents_is_one_query(django_assert_num_queries):
    """CON-2: the current state of every purpose comes from the ledger in one query."""
    person, other = UserFactory(), UserFactory()
    grant(person, Purpose.MARKETING)
    withdraw(person, Purpose.MARKETING)
    grant(person, Purpose.PERSONALIZATION)
    grant(other, Purpose.CONTACT_MATCHING)
    with django_assert_num_queries(1):
        consents = ledger.current_consents(person)
    assert {purpose: record.decision for purpose, record in consents.items()} == {
        Purpose.MARKETING: Decision.WITHDRAWN,
        Purpose.PERSONALIZATION: Decision.GRANTED,
    }


def test_visitors_have_their_own_ledger():
    """CON-3: a visitor's decisions are kept under their random key, apart from people."""
    key = "a" * 32
    record = ledger.record_consent(
        visitor_key=key, purpose=Purpose.PERSONALIZATION, decision=Decision.GRANTED, channel=Channel.COOKIE_BANNER
    )
    assert record.user is None and record.visitor_key == key
    event = AuditEvent.objects.get(action="consent.granted")
    assert event.actor_kind == "person" and event.subject_user is None and event.metadata["visitor"] is True
    assert ledger.visitor_has_consent(key, Purpose.PERSONALIZATION)
    assert not ledger.visitor_has_consent("b" * 32, Purpose.PERSONALIZATION)
    assert set(ledger.current_visitor_consents(key)) == {Purpose.PERSONALIZATION}
    assert ledger.current_visitor_consents("") == {}
    with pytest.raises(ValidationError, match="either a person or a visitor"):
        ledger.record_consent(purpose=Purpose.MARKETING, decision=Decision.GRANTED, channel=Channel.WEB)


def test_the_current_policy_is_the_latest_published_of_the_deployments_edition(settings):
    """CON-2, SEC-6: mainland China deployments record the mainland edition, Singapore
    ones the international edition; drafts never count."""
    PolicyVersion.objects.all().delete()
    settings.DATA_REGION = "cn"
    assert ledger.current_policy_version() is None
    old = publish("mainland", "2030-01", at=timezone.now() - timedelta(days=30))
    new = publish("mainland", "2030-02")
    PolicyVersion.objects.create(edition="mainland", version="2030-03", effective_on=date(2030, 3, 1))  # draft
    international = publish("international", "2030-01")
    assert ledger.current_policy_version() == new != old
    settings.DATA_REGION = "sg"
    assert ledger.current_policy_version() == international


def test_a_decision_on_an_outdated_policy_is_refused_and_nothing_written():
    """CON-2, CON-6: the person decided on the version they saw; if a newer one was
    published meanwhile they are told to review it, and nothing is recorded."""
    person = UserFactory()
    seen = publish("mainland", "2030-01", at=timezone.now() - timedelta(days=1))
    assert grant(person, Purpose.PERSONALIZATION, policy_version=seen.pk).policy_version == seen
    publish("mainland", "2030-02")
    with pytest.raises(ledger.StalePolicyVersion, match="policy changed"):
        grant(person, Purpose.MARKETING, policy_version=seen)
    with pytest.raises(ledger.StalePolicyVersion):
        ledger.check_seen_policy_version(str(seen.pk))
    assert not ConsentRecord.objects.filter(purpose=Purpose.MARKETING).exists()


def test_bulk_decisions_never_include_sensitive_purposes():
    """CON-5: face recognition and identity checks are never granted in bulk; the
    whole bulk decision is refused and nothing is written."""
    person = UserFactory()
    with pytest.raises(ValidationError, match="own explicit consent"):
        ledger.set_consents(
            user=person,
            decisions={Purpose.MARKETING: Decision.GRANTED, Purpose.FACE_RECOGNITION: Decision.GRANTED},
            channel=Channel.WEB,
        )
    assert not ConsentRecord.objects.exists()


def test_account_deletion_keeps_the_ledger_as_anonymized_evidence(sms_outbox, settings):
    """ACC-5, CON-2: after the account-deletion cascade the person's consent records
    remain, detached from the person (user NULL) with purpose, decision and time
    unchanged; their privacy settings are gone."""
    settings.ACCOUNT_DELETION_GRACE_DAYS = 0
    person, other = UserFactory(), UserFactory()
    grant(person, Purpose.MARKETING)
    withdraw(person, Purpose.MARKETING)
    grant(person, Purpose.CONTACT_MATCHING)
    grant(other, Purpose.MARKETING)
    set_findable_by_phone(person, True)
    set_device_permissions(person, ["camera"])
    before = list(ConsentRecord.objects.filter(user=person).values_list("pk", "purpose", "decision", "recorded_at"))
    with TestCase.captureOnCommitCallbacks(execute=True):
        send_code(person.phone, CodePurpose.REVERIFY, user=person)
    code = last_code(sms_outbox, person.phone)
    with TestCase.captureOnCommitCallbacks(execute=True):
        deletion = request_account_deletion(person, code=code)
    job = AnonymizationJob.objects.get(pk=deletion.job_id)
    assert job.status == JobStatus.COMPLETED, job.report
    kept = ConsentRecord.objects.filter(pk__in=[row[0] for row in before]).order_by("pk")
    assert [(r.pk, r.purpose, r.decision, r.recorded_at) for r in kept] == sorted(before)
    assert {r.user_id for r in kept} == {None}
    assert {r.visitor_key for r in kept} == {ANONYMIZED}  # a marker, never a visitor's key
    assert not PrivacySettings.objects.filter(user_id=person.pk).exists()
    assert not PrivacySettings.objects.exists()
    assert ConsentRecord.objects.filter(user=other).count() == 1
