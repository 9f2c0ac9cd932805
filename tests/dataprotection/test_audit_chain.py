"""The tamper-evident audit trail (SEC-2): events are digested at insert, sealed into a
keyed hash chain, and ``manage.py verify_audit_chain`` detects any edit, deletion or
re-ordering -- while anonymization, which scrubs events about a person, stays green."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, models
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from accounts.models import CodePurpose, User
from accounts.services.codes import send_code
from accounts.services.deletion import request_account_deletion
from dataprotection import audit_chain, tasks
from dataprotection.audit import record_event
from dataprotection.models import AnonymizationJob, AuditChainHead, AuditEvent, JobStatus
from dataprotection.personal_data import ANONYMIZED
from tests.anonymization_data import populate
from tests.conftest import last_code
from tests.factories import OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db


def events_table() -> models.QuerySet:
    # Past the append-only manager, as someone with database access would go.
    return models.QuerySet(model=AuditEvent)


def raw_sql(sql: str, params: list) -> None:
    table = connection.ops.quote_name(AuditEvent._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(sql.format(table=table), params)


def verify() -> str:
    """Run the command; its output, or the CommandError with everything it printed."""
    from io import StringIO

    out, err = StringIO(), StringIO()
    try:
        call_command("verify_audit_chain", stdout=out, stderr=err)
    except CommandError as exc:
        raise CommandError(f"{exc}\n{err.getvalue()}", returncode=exc.returncode) from None
    return out.getvalue()


def assert_broken(*fragments: str) -> str:
    with pytest.raises(CommandError) as caught:
        verify()
    assert caught.value.returncode == 1
    message = str(caught.value)
    assert "FAILED" in message
    for fragment in fragments:
        assert fragment in message, message
    return message


@pytest.fixture
def trail():
    """Five events of different shapes, sealed."""
    admin, person = UserFactory(name="Admin"), UserFactory(name="Person")
    org = OrganizationFactory()
    events = [
        record_event(
            "member.revealed",
            actor=admin,
            subject=person,
            organization=org,
            ip="10.0.0.1",
            metadata={"field": "id_number"},
        ),
        record_event(
            "member.updated", actor=admin, subject=person, target=person, organization=org, changes=["name", "mobile"]
        ),
        record_event(
            "request.details_viewed", actor=admin, subject=person, ip="2001:db8::1", metadata={"reference": "R-1"}
        ),
        record_event("account.signed_in", actor=person, subject=person, ip="10.0.0.2"),
        record_event("demo.seeded", metadata={"members": 3, "ratio": 0.5, "nested": {"b": [1, 2], "a": None}}),
    ]
    assert audit_chain.seal_audit_chain() == 5
    return [AuditEvent.objects.get(pk=event.pk) for event in events]


def test_recording_an_event_stays_one_insert(django_assert_num_queries):
    """SEC-2: the digest is computed in Python; writers never touch the chain."""
    person = UserFactory()
    with django_assert_num_queries(1):
        event = record_event("member.viewed", actor=person, subject=person, ip="10.9.9.9", metadata={"x": 1})
    stored = AuditEvent.objects.get(pk=event.pk)
    assert len(stored.content_digest) == 64 and len(stored.digest_salt) == 32
    assert set(stored.field_digests) == set(audit_chain.PERSONAL_FIELDS)
    assert stored.chain_seq is None and stored.chain_hash == ""


def test_an_untouched_trail_verifies_ok(trail):
    """SEC-2: OK with counts; the head holds the last position and hash."""
    output = verify()
    assert "OK: 5 events verified (0 scrubbed" in output
    head = AuditChainHead.objects.get()
    assert head.last_seq == 5 and head.last_hash == trail[-1].chain_hash
    assert head.last_verification_ok is True and head.verified_events == 5 and head.problems == []
    assert [event.chain_seq for event in trail] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        ("action", "member.viewed", "content (time, action"),
        ("target_type", "accounts.user", "content (time, action"),
        ("organization_id", 999999, "content (time, action"),
        ("actor_kind", "system", "content (time, action"),
        ("metadata", json.dumps({"field": "mobile"}), "metadata was altered"),
        ("changes", json.dumps(["name"]), "changes was altered"),
        ("ip_address", "192.168.1.1", "ip_address was altered"),
        ("target_id", "424242", "target_id was altered"),
        ("content_digest", "0" * 64, "broken link"),
        ("chain_hash", "f" * 64, "broken link"),
        ("field_digests", json.dumps({"metadata": "x"}), "field digests"),
    ],
)
def test_an_edited_row_is_detected(trail, column, value, expected):
    """SEC-2: an UPDATE through raw SQL of any column of a sealed event is reported with
    the event's id, and the command exits 1."""
    victim = trail[1] if column == "changes" else trail[0]
    if column == "target_id":
        victim = trail[1]
    raw_sql(f"UPDATE {{table}} SET {column} = %s WHERE id = %s", [value, victim.pk])
    message = assert_broken(expected)
    assert f"event {victim.pk}" in message


def test_changing_the_time_or_the_actor_is_detected(trail):
    """SEC-2: who and when cannot be rewritten through the ORM either."""
    other = UserFactory(name="Someone else")
    events_table().filter(pk=trail[0].pk).update(actor=other)
    events_table().filter(pk=trail[2].pk).update(occurred_at=trail[2].occurred_at - timedelta(seconds=1))
    message = assert_broken(f"event {trail[0].pk}: actor_id was altered", f"event {trail[2].pk}: its content")
    assert "subject_user_id" not in message


def test_a_deleted_event_is_detected(trail):
    """SEC-2: deleting a row leaves a gap in the chain and breaks the next link."""
    raw_sql("DELETE FROM {table} WHERE id = %s", [trail[2].pk])
    assert_broken("chain positions 3..3 are missing", f"broken link at event {trail[3].pk}")


def test_deleting_the_newest_events_is_detected(trail):
    """SEC-2: the head row remembers how far the chain went."""
    raw_sql("DELETE FROM {table} WHERE id >= %s", [trail[3].pk])
    assert_broken("chain positions 4..5 are missing")


def test_reordering_is_detected(trail):
    """SEC-2: swapping the chain positions of two events breaks both links."""
    first, second = trail[1], trail[2]
    events_table().filter(pk=first.pk).update(chain_seq=-1)
    events_table().filter(pk=second.pk).update(chain_seq=first.chain_seq)
    events_table().filter(pk=first.pk).update(chain_seq=second.chain_seq)
    assert_broken(f"broken link at event {second.pk}", f"broken link at event {first.pk}")


def test_a_forged_replacement_row_is_detected(trail):
    """SEC-2: deleting an event and inserting another under its id and position fails:
    without the key nobody can compute its digests or its link."""
    victim = trail[1]
    raw_sql("DELETE FROM {table} WHERE id = %s", [victim.pk])
    forged = AuditEvent(pk=victim.pk, action="member.viewed", subject_user_id=victim.subject_user_id)
    forged.save()  # new salt and digests, as a forger would at best produce
    events_table().filter(pk=victim.pk).update(chain_seq=victim.chain_seq, chain_hash=victim.chain_hash)
    assert_broken(f"broken link at event {victim.pk}")


def delete_account(person, sms_outbox, settings) -> AnonymizationJob:
    settings.ACCOUNT_DELETION_GRACE_DAYS = 0
    with TestCase.captureOnCommitCallbacks(execute=True):
        send_code(person.phone, CodePurpose.REVERIFY, user=person)
    code = last_code(sms_outbox, person.phone)
    with TestCase.captureOnCommitCallbacks(execute=True):
        deletion = request_account_deletion(person, code=code, reason="leaving")
    job = AnonymizationJob.objects.get(pk=deletion.job_id)
    assert job.status == JobStatus.COMPLETED, job.report
    return job


def test_the_chain_stays_green_after_an_account_deletion(sms_outbox, settings):
    """SEC-2 with ACC-5/ANON-3: the cascade scrubs the sealed events about the person
    (their values replaced, the salt blanked); digests and links are untouched, so the
    verification passes and counts the scrubbed events."""
    person = UserFactory(name="Leaving Person")
    admin = UserFactory(name="Admin")
    org = OrganizationFactory()
    populate(org, members=2, users=[person])
    about = [
        record_event("member.viewed", actor=admin, subject=person, ip="10.1.2.3", metadata={"name": "Leaving Person"}),
        record_event("member.updated", actor=admin, subject=person, target=person, organization=org, changes=["name"]),
    ]
    unrelated = record_event("member.viewed", actor=admin, subject=admin, ip="10.9.9.9", metadata={"x": 1})
    audit_chain.seal_audit_chain()
    digests_before = dict(events_table().filter(pk__in=[e.pk for e in about]).values_list("pk", "content_digest"))

    delete_account(person, sms_outbox, settings)

    scrubbed = events_table().filter(pk__in=[e.pk for e in about])
    assert {(e.subject_user_id, json.dumps(e.metadata), e.digest_salt) for e in scrubbed} == {
        (None, json.dumps(ANONYMIZED), "")
    }
    assert dict(scrubbed.values_list("pk", "content_digest")) == digests_before  # never re-digested
    assert events_table().get(pk=unrelated.pk).digest_salt  # other people's events untouched
    output = verify()
    scrubbed_total = events_table().filter(digest_salt="").count()  # the deletion request's event too
    assert scrubbed_total > len(about)
    assert "OK:" in output and f"({scrubbed_total} scrubbed" in output


def test_a_scrubbed_event_cannot_carry_forged_values(trail):
    """SEC-2: blanking the salt to pass a forged value as "scrubbed" does not work: a
    scrubbed event must hold the anonymized values (the held IP address aside)."""
    victim = trail[0]
    events_table().filter(pk=victim.pk).update(
        digest_salt="", actor=None, subject_user=None, changes=ANONYMIZED, metadata={"field": "forged"}
    )
    assert_broken(f"event {victim.pk}: metadata holds a value although the event was scrubbed")


def test_values_that_only_become_anonymized_stay_green(trail):
    """SEC-2 with ANON-4: an actor's account deleted (``on_delete=SET_NULL``) and an IP
    address released when its legal hold ends change unscrubbed events legitimately."""
    admin_id = trail[0].actor_id
    User.objects.filter(pk=admin_id).delete()  # the admin acted on three events
    events_table().filter(pk=trail[3].pk).update(ip_address=None)
    assert events_table().filter(actor_id__isnull=True, action="member.revealed").exists()
    assert "OK: 5 events verified" in verify()


def test_events_written_past_save_are_digested_when_sealed(trail, caplog):
    """SEC-2: rows written by ``bulk_create`` (or SQL) get their digests from the sealer,
    which says so in the log, and then verify like any other."""
    created = AuditEvent.objects.bulk_create([AuditEvent(action="bulk.one"), AuditEvent(action="bulk.two")])
    assert not events_table().get(action="bulk.one").content_digest
    with caplog.at_level(logging.WARNING, logger="dataprotection.audit_chain"):
        assert audit_chain.seal_audit_chain() == 2
    assert "digested 2 events at sealing" in caplog.text
    assert len(created) == 2
    assert "OK: 7 events verified" in verify()


def test_interleaved_writers_and_sealers_build_one_chain():
    """SEC-2: events written between seals, sealers run repeatedly and in small batches,
    and an event that commits late with a lower id (PostgreSQL hands out ids before the
    commit): every event gets exactly one position, in one unbroken chain."""
    person = UserFactory()
    written = [record_event("member.viewed", subject=person, metadata={"n": n}) for n in range(7)]
    assert audit_chain.seal_audit_chain(batch_size=3) == 7
    assert audit_chain.seal_audit_chain() == 0
    more = [record_event("member.viewed", subject=person, metadata={"n": n}) for n in range(7, 12)]
    late_id = more[-1].pk + 100
    after_gap = AuditEvent(pk=late_id + 10, action="member.viewed", subject_user=person)
    after_gap.save()
    assert audit_chain.seal_audit_chain(batch_size=2) == 6
    late = AuditEvent(pk=late_id, action="member.viewed", subject_user=person)  # its transaction commits late
    late.save()
    assert audit_chain.seal_audit_chain() == 1
    positions = dict(events_table().values_list("pk", "chain_seq"))
    assert sorted(positions.values()) == list(range(1, 15))
    assert positions[late_id] == 14 and positions[after_gap.pk] == 13
    assert [positions[e.pk] for e in written] == list(range(1, 8))
    assert "OK: 14 events verified" in verify()


def test_the_beat_task_seals_and_verifies_daily_and_marks_failures(trail, caplog):
    """SEC-2: the minute task verifies when the last verification is a day old; a failure
    is logged as CRITICAL, recorded as an audit event and kept on the head row."""
    assert tasks.verify_audit_chain.delay().get() == "audit chain OK: 5 events"
    record_event("member.viewed")
    assert tasks.verify_audit_chain.delay().get() == "sealed 1 events"  # verified today already
    raw_sql("UPDATE {table} SET action = %s WHERE id = %s", ["tampered", trail[0].pk])
    AuditChainHead.objects.update(last_verified_at=timezone.now() - timedelta(days=1, minutes=1))
    with caplog.at_level(logging.CRITICAL, logger="dataprotection.audit_chain"):
        assert tasks.verify_audit_chain.delay().get() == "audit chain BROKEN: 1 problems"
    assert "AUDIT CHAIN VERIFICATION FAILED" in caplog.text
    head = AuditChainHead.objects.get()
    assert head.last_verification_ok is False and head.verifying_since is None
    assert head.problems == [
        f"event {trail[0].pk}: its content (time, action, actor kind, organization or target type) was altered"
    ]
    alert = AuditEvent.objects.get(action="audit_chain.verification_failed")
    assert alert.actor_kind == "system" and alert.metadata == {"problems": 1, "checked": 6}


def test_one_verification_at_a_time(trail):
    """SEC-2: the claim is a compare-and-set on the head row; a running verification is
    taken over only after its lease ran out."""
    now = timezone.now()
    assert audit_chain.claim_verification(now) is True
    assert audit_chain.claim_verification(now) is False
    assert audit_chain.claim_verification(now + audit_chain.VERIFY_LEASE + timedelta(seconds=1)) is True


def test_the_admin_list_shows_the_chain_status(client, trail):
    """SEC-2: operations staff see a broken chain on top of the audit event list."""
    staff = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(staff)
    url = reverse("admin:dataprotection_auditevent_changelist")
    assert "has not been verified yet" in client.get(url).content.decode()
    verify()
    assert "5 events intact" in client.get(url).content.decode()
    raw_sql("UPDATE {table} SET action = %s WHERE id = %s", ["tampered", trail[0].pk])
    with pytest.raises(CommandError):
        verify()
    page = client.get(url).content.decode()
    assert "AUDIT CHAIN BROKEN" in page and f"event {trail[0].pk}" in page
    detail = client.get(reverse("admin:dataprotection_auditevent_change", args=[trail[0].pk]))
    assert detail.status_code == 200
    assert trail[0].digest_salt not in detail.content.decode()  # the salt is shown to no one


def test_sealing_and_verifying_are_set_based_and_streamed(django_assert_max_num_queries):
    """SEC-2 performance: the sealer writes a batch in one UPDATE (never a statement per
    event, digested or not), and verification streams the chain in chunks instead of
    loading the table."""
    AuditEvent.objects.bulk_create([AuditEvent(action="bulk", metadata={"n": n}) for n in range(1200)])
    for n in range(1300):
        AuditEvent.objects.create(action="member.viewed", metadata={"n": n})
    with django_assert_max_num_queries(40):  # 3 batches of ~8 statements, plus savepoints
        assert audit_chain.seal_audit_chain(batch_size=1000) == 2500
    with django_assert_max_num_queries(6):
        result = audit_chain.verify_audit_chain(chunk_size=100)
    assert result.ok and result.checked == 2500
