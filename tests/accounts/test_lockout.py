"""Brute-force protection (SEC-1): sign-in failures counted per account and per address
in a sliding window, the lock that follows (with its audit event and the SMS to the
account's owner), its end, SMS codes counting too, and concurrent failures."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone, translation

from accounts.models import CodePurpose, SignInFailure, SignInLockout
from accounts.services import codes, lockout, sign_in
from accounts.services.codes import CodeRejected
from accounts.tasks import purge_spent_codes
from dataprotection import anonymization
from dataprotection.models import AuditEvent, JobKind, JobStatus
from tests.factories import TEST_PASSWORD, UserFactory

PHONE = "+8613800138000"
UNKNOWN = "+8613900139000"
IP = "203.0.113.7"


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def person(db):
    return UserFactory(phone=PHONE, name="Locked Person")


def fail(identifier, times, *, ip=IP, kind="password", now=None):
    for _ in range(times):
        lockout.record_failure(identifier, ip, kind=kind, now=now)


def lock_message(identifier, ip=IP, *, now=None) -> str:
    with pytest.raises(lockout.LockedOut) as caught:
        lockout.ensure_not_locked(identifier, ip, now=now)
    return caught.value.messages[0]


# --------------------------------------------------------------------------- thresholds


def test_the_account_locks_at_the_threshold_and_not_before(person, settings):
    """SEC-1: SIGN_IN_LOCKOUT_THRESHOLD failures within the window lock the account for
    SIGN_IN_LOCKOUT_SECONDS, with a message saying when to try again."""
    fail(PHONE, settings.SIGN_IN_LOCKOUT_THRESHOLD - 1)
    lockout.ensure_not_locked(PHONE, IP)
    fail(PHONE, 1)
    assert (
        lock_message(PHONE) == "Too many failed attempts. This account is locked for security; try again in 15 minutes."
    )
    # The lock is on the account: another address is refused too.
    assert lock_message(PHONE, "198.51.100.1").endswith("try again in 15 minutes.")


def test_failures_older_than_the_window_do_not_count(person, settings):
    """SEC-1: the window slides: failures from long ago are not added to today's."""
    start = timezone.now() - timedelta(hours=1)
    fail(PHONE, settings.SIGN_IN_LOCKOUT_THRESHOLD - 1, now=start)
    later = start + timedelta(seconds=settings.SIGN_IN_LOCKOUT_WINDOW_SECONDS + 1)
    fail(PHONE, settings.SIGN_IN_LOCKOUT_THRESHOLD - 1, now=later)
    lockout.ensure_not_locked(PHONE, IP, now=later)
    fail(PHONE, 1, now=later)
    lock_message(PHONE, now=later)


def test_the_lock_ends_and_is_not_renewed_by_the_old_failures(person, settings):
    """SEC-1: after SIGN_IN_LOCKOUT_SECONDS the account may try again; the minutes are
    rounded up; the failures that caused the lock do not count again."""
    start = timezone.now() - timedelta(hours=2)
    fail(PHONE, settings.SIGN_IN_LOCKOUT_THRESHOLD, now=start)
    assert lock_message(PHONE, now=start + timedelta(minutes=14, seconds=30)).endswith("try again in 1 minute.")
    assert lock_message(PHONE, now=start + timedelta(minutes=3)).endswith("try again in 12 minutes.")
    ended = start + timedelta(seconds=settings.SIGN_IN_LOCKOUT_SECONDS)
    lockout.ensure_not_locked(PHONE, IP, now=ended)
    fail(PHONE, 1, now=ended + timedelta(seconds=1))
    lockout.ensure_not_locked(PHONE, IP, now=ended + timedelta(seconds=2))
    # A fresh series after the lock locks again, with one more audit event.
    fail(PHONE, settings.SIGN_IN_LOCKOUT_THRESHOLD - 1, now=ended + timedelta(seconds=3))
    lock_message(PHONE, now=ended + timedelta(seconds=4))
    assert AuditEvent.objects.filter(action="account.locked_out").count() == 2
    assert SignInLockout.objects.count() == 1  # renewed, not duplicated


def test_short_durations_from_settings(person, settings):
    """SEC-1: thresholds and durations come from the settings."""
    settings.SIGN_IN_LOCKOUT_THRESHOLD = 2
    settings.SIGN_IN_LOCKOUT_SECONDS = 60
    start = timezone.now() - timedelta(minutes=10)
    fail(PHONE, 2, now=start)
    assert lock_message(PHONE, now=start).endswith("try again in 1 minute.")
    lockout.ensure_not_locked(PHONE, IP, now=start + timedelta(seconds=61))


def test_the_address_locks_at_its_own_higher_threshold(db, settings):
    """SEC-1: failures from one address count across numbers (per-address threshold,
    higher than the account's); the lock stops every number from that address only."""
    settings.SIGN_IN_LOCKOUT_PER_ADDRESS_THRESHOLD = 6
    numbers = [f"+86139001390{index:02d}" for index in range(6)]
    for number in numbers[:5]:
        fail(number, 1)
    lockout.ensure_not_locked("+8613700137000", IP)
    fail(numbers[5], 1)
    message = lock_message("+8613700137000")
    assert message == (
        "Too many failed attempts from your network. Sign-in is paused for security; try again in 15 minutes."
    )
    # The same numbers from another address are not locked: no account reached its threshold.
    lockout.ensure_not_locked(numbers[0], "198.51.100.1")
    assert AuditEvent.objects.filter(action="sign_in.address_locked").count() == 1
    assert not AuditEvent.objects.filter(action="account.locked_out").exists()


def test_no_address_counts_only_the_account(person, settings):
    fail(PHONE, settings.SIGN_IN_LOCKOUT_THRESHOLD, ip=None)
    lock_message(PHONE, None)
    assert SignInFailure.objects.filter(address_digest="").count() == settings.SIGN_IN_LOCKOUT_THRESHOLD


def test_success_clears_the_account_but_not_the_address(person, settings):
    """SEC-1: a successful proof clears the account's failures; the address keeps its
    count (one good account must not hide guessing at others)."""
    settings.SIGN_IN_LOCKOUT_PER_ADDRESS_THRESHOLD = 8
    fail(PHONE, settings.SIGN_IN_LOCKOUT_THRESHOLD - 1)
    lockout.record_success(PHONE, IP)
    fail(PHONE, settings.SIGN_IN_LOCKOUT_THRESHOLD - 1, ip="198.51.100.1")
    lockout.ensure_not_locked(PHONE, "198.51.100.1")
    # The first address still holds 4 failures: 4 more from it on other numbers lock it.
    fail("+8613700137000", 4)
    assert "from your network" in lock_message("+8613600136000")


def test_unknown_kinds_are_refused(db):
    with pytest.raises(ValueError):
        lockout.record_failure(PHONE, IP, kind="guess")


# --------------------------------------------------------------------------- lock: audit, SMS, privacy


def test_the_lock_writes_one_audit_event_and_texts_the_owner(person, settings, sms_outbox, deliver):
    """SEC-1/SEC-2: the failure that locks writes one audit event about the person and
    queues one SMS to them; failures while locked add neither."""
    with deliver():
        fail(PHONE, settings.SIGN_IN_LOCKOUT_THRESHOLD + 3)
    event = AuditEvent.objects.get(action="account.locked_out")
    assert event.subject_user == person and event.actor_kind == "system" and event.ip_address == IP
    assert event.metadata == {"scope": "account", "kind": "password", "failures": 5, "minutes": 15}
    assert [message["to"] for message in sms_outbox] == [PHONE]
    assert "your account is locked for 15 minutes" in sms_outbox[0]["body"]


def test_the_same_message_whether_the_number_exists_or_not(person, settings, sms_outbox, deliver):
    """SEC-1: the requester cannot tell a registered number from another by the lock:
    same refusal; only a real account's owner gets the SMS."""
    with deliver():
        fail(PHONE, settings.SIGN_IN_LOCKOUT_THRESHOLD)
        fail(UNKNOWN, settings.SIGN_IN_LOCKOUT_THRESHOLD)
    assert lock_message(PHONE) == lock_message(UNKNOWN)
    assert [message["to"] for message in sms_outbox] == [PHONE]
    unknown_event = AuditEvent.objects.filter(action="account.locked_out", subject_user=None).get()
    assert unknown_event.target_id == ""


def test_only_keyed_hashes_are_stored(person, settings):
    """SEC-1/ANON-1: neither the number nor the address is stored in clear."""
    fail(PHONE, settings.SIGN_IN_LOCKOUT_THRESHOLD)
    for row in SignInFailure.objects.values("identifier_digest", "address_digest"):
        assert PHONE not in str(row) and IP not in str(row)
        assert row["identifier_digest"] == lockout.identifier_digest(PHONE)
    assert SignInLockout.objects.get().key_digest == lockout.identifier_digest(PHONE)


def test_second_factor_identifiers_lock_and_text_the_owner(person, settings, sms_outbox, deliver):
    """SEC-1: ``user:<id>`` identifiers (second-factor codes) lock that account."""
    with deliver():
        fail(f"user:{person.pk}", settings.SIGN_IN_LOCKOUT_THRESHOLD, kind="totp")
    lock_message(f"user:{person.pk}")
    lockout.ensure_not_locked(PHONE, "198.51.100.1")  # a separate count from the password's
    assert [message["to"] for message in sms_outbox] == [PHONE]


def test_old_rows_are_purged_by_the_hourly_cleanup(person, settings):
    """SEC-1/ANON-5: failures and ended locks are deleted after a day by the beat task
    that purges spent codes."""
    assert settings.CELERY_BEAT_SCHEDULE["purge-spent-sms-codes"]["task"] == "accounts.tasks.purge_spent_codes"
    long_ago = timezone.now() - timedelta(days=2)
    fail(PHONE, settings.SIGN_IN_LOCKOUT_THRESHOLD, now=long_ago)
    fail(UNKNOWN, 1)
    purge_spent_codes()
    assert SignInFailure.objects.count() == 1
    assert not SignInLockout.objects.exists()


# --------------------------------------------------------------------------- SMS codes


def test_wrong_sign_in_codes_count_and_a_locked_account_cannot_sign_in(person, settings, issue_code):
    """SEC-1: wrong SMS codes count toward the lockout (beside the per-code cap); the
    code that locks says so; while locked even the right code is refused, and no new
    code is sent."""
    settings.SMS_CODE_MAX_ATTEMPTS = 10
    code = issue_code(PHONE, CodePurpose.SIGN_IN, ip=IP)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(settings.SIGN_IN_LOCKOUT_THRESHOLD - 1):
        with pytest.raises(CodeRejected, match="The code is wrong"):
            sign_in.sign_in_with_code(phone=PHONE, code=wrong, ip=IP)
    with pytest.raises(lockout.LockedOut, match="This account is locked"):
        sign_in.sign_in_with_code(phone=PHONE, code=wrong, ip=IP)
    assert SignInFailure.objects.filter(kind="sms_code").count() == settings.SIGN_IN_LOCKOUT_THRESHOLD
    with pytest.raises(lockout.LockedOut):
        sign_in.sign_in_with_code(phone=PHONE, code=code, ip=IP)
    with pytest.raises(lockout.LockedOut):
        codes.send_code(PHONE, CodePurpose.SIGN_IN, ip="198.51.100.9")
    assert not AuditEvent.objects.filter(action="account.signed_in").exists()


def test_the_per_code_cap_stays(person, settings, issue_code):
    """ACC-1: the code's own attempt cap still ends the code before the lockout."""
    settings.SMS_CODE_MAX_ATTEMPTS = 2
    code = issue_code(PHONE, CodePurpose.SIGN_IN, ip=IP)
    wrong = "000000" if code != "000000" else "111111"
    with pytest.raises(CodeRejected, match="1 attempt left"):
        sign_in.sign_in_with_code(phone=PHONE, code=wrong, ip=IP)
    with pytest.raises(CodeRejected, match="Too many wrong codes"):
        sign_in.sign_in_with_code(phone=PHONE, code=wrong, ip=IP)
    with pytest.raises(CodeRejected, match="Too many wrong codes"):
        sign_in.sign_in_with_code(phone=PHONE, code=code, ip=IP)


def test_wrong_reset_codes_count_and_a_locked_account_cannot_reset(person, settings, issue_code):
    """SEC-1: the password-reset page is no way around the lock."""
    settings.SMS_CODE_MAX_ATTEMPTS = 10
    code = issue_code(PHONE, CodePurpose.PASSWORD_RESET, ip=IP)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(settings.SIGN_IN_LOCKOUT_THRESHOLD - 1):
        with pytest.raises(CodeRejected):
            sign_in.reset_password(phone=PHONE, code=wrong, new_password="New-Password-2026", ip=IP)
    with pytest.raises(lockout.LockedOut):
        sign_in.reset_password(phone=PHONE, code=wrong, new_password="New-Password-2026", ip=IP)
    with pytest.raises(lockout.LockedOut):
        sign_in.reset_password(phone=PHONE, code=code, new_password="New-Password-2026", ip=IP)
    person.refresh_from_db()
    assert person.check_password(TEST_PASSWORD)


def test_a_successful_reset_clears_the_failures(person, settings, issue_code):
    code = issue_code(PHONE, CodePurpose.PASSWORD_RESET, ip=IP)
    fail(PHONE, settings.SIGN_IN_LOCKOUT_THRESHOLD - 1)
    sign_in.reset_password(phone=PHONE, code=code, new_password="New-Password-2026", ip=IP)
    assert not SignInFailure.objects.filter(identifier_digest=lockout.identifier_digest(PHONE)).exists()


def test_reverification_codes_do_not_lock_the_account(person, settings, issue_code):
    """Wrong re-verification codes (account deletion, ownership transfer) keep only the
    per-code cap: the person is signed in already."""
    code = issue_code(PHONE, CodePurpose.REVERIFY, ip=IP)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(3):
        with pytest.raises(CodeRejected):
            codes.check_code(PHONE, CodePurpose.REVERIFY, wrong)
    assert not SignInFailure.objects.exists()


def test_reauthentication_counts_wrong_passwords(person, settings):
    """SEC-1: re-entering the password before a dangerous action is a sign-in proof."""
    for _ in range(settings.SIGN_IN_LOCKOUT_THRESHOLD - 1):
        with pytest.raises(Exception, match="The password is wrong"):
            sign_in.reauthenticate(person, "wrong password", ip=IP)
    with pytest.raises(lockout.LockedOut):
        sign_in.reauthenticate(person, "wrong password", ip=IP)
    with pytest.raises(lockout.LockedOut):
        sign_in.reauthenticate(person, TEST_PASSWORD, ip=IP)


# --------------------------------------------------------------------------- concurrency


@pytest.mark.django_db(transaction=True)
def test_concurrent_failures_are_all_counted_and_lock_once(settings, sms_outbox):
    """SEC-1: failures arriving at the same moment are each counted (one INSERT each,
    counted after it commits): the threshold is reached, and exactly one of them locks,
    audits and texts. Run with --postgres for real concurrency."""
    person = UserFactory(phone=PHONE)
    threshold = settings.SIGN_IN_LOCKOUT_THRESHOLD
    barrier = threading.Barrier(threshold)
    errors = []

    def attempt(index):
        try:
            barrier.wait(timeout=10)
            lockout.record_failure(PHONE, f"198.51.100.{index}", kind="password")
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(index,)) for index in range(threshold)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors
    assert SignInFailure.objects.count() == threshold
    with pytest.raises(lockout.LockedOut):
        lockout.ensure_not_locked(PHONE, None)
    assert SignInLockout.objects.count() == 1
    assert AuditEvent.objects.filter(action="account.locked_out", subject_user=person).count() == 1
    assert [message["to"] for message in sms_outbox] == [PHONE]


@pytest.mark.django_db
def test_account_deletion_removes_the_persons_failures_and_locks(person, settings):
    """SEC-1, ACC-5: the keyed hashes of a deleted person's failed sign-ins and their
    account lock go with the account; another person's and the address's rows stay."""
    settings.SIGN_IN_LOCKOUT_THRESHOLD = 2
    other = UserFactory()
    fail(person.phone, 2)
    fail(f"user:{person.pk}", 1, kind="totp")
    fail(other.phone, 1)
    assert SignInLockout.objects.filter(scope="account").count() == 1
    job = anonymization.create_job(JobKind.ACCOUNT_DELETION, subject_id=person.pk)
    assert anonymization.drive(job.pk, budget_seconds=600) == "finished"
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED, job.report
    assert not SignInLockout.objects.filter(scope="account").exists()
    kept = SignInFailure.objects.values_list("identifier_digest", flat=True)
    assert set(kept) == {lockout.identifier_digest(other.phone)}
