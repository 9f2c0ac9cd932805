"""SMS one-time codes and their delivery (ACC-1, with ORG-10 for data at rest).

A code proves a mobile number: it is stored only as a keyed hash, lives five minutes,
works once, survives a limited number of wrong guesses, is rate-limited per number and
per address, and belongs to one purpose. The SMS that carries it sits encrypted in the
outbox until a Celery task delivers it, and its body is erased once it has been sent or
has failed for good.
"""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from unittest.mock import patch

import pytest
from django.conf import settings as django_settings
from django.db import connection, connections, transaction
from django.utils import timezone

from accounts import tasks
from accounts.models import CodePurpose, OneTimeCode, SMSMessage, SMSStatus, User
from accounts.services import codes, retention, sign_in, sms_delivery
from accounts.services.codes import CodeRejected, RateLimited
from accounts.services.sms_gateway import BaseBackend, SMSDeliveryError
from config.celery import app
from dataprotection.models import AuditEvent
from dataprotection.tasks import recover_jobs
from tests.conftest import last_code
from tests.dataprotection.test_anonymization_recovery import connection_lost
from tests.factories import TEST_PASSWORD, UserFactory

PHONE = "+8613912345678"
OTHER_PHONE = "+8613912345679"
NEW_PASSWORD = "Fresh-Start-2024"


def wrong(code: str) -> str:
    """A six-digit code that is certainly not ``code``."""
    return f"{(int(code) + 1) % 1_000_000:06d}"


def fixed_codes(*numbers: int):
    """Make ``send_code`` draw these codes, in order, instead of random ones."""
    return patch("accounts.services.codes.secrets.randbelow", side_effect=list(numbers))


def raw_row(table: str, pk: int) -> dict:
    """A row exactly as the database holds it, bypassing the ORM's field decryption."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table} WHERE id = %s", [pk])  # table names are fixed strings
        columns = [column[0] for column in cursor.description]
        return dict(zip(columns, cursor.fetchone(), strict=True))


def rejection(phone: str, purpose: str, code: str) -> CodeRejected:
    with pytest.raises(CodeRejected) as caught:
        codes.check_code(phone, purpose, code)
    return caught.value


@pytest.fixture
def no_resend_wait(settings):
    settings.SMS_CODE_RESEND_INTERVAL = timedelta(0)


# --------------------------------------------------------------------------- storage


@pytest.mark.django_db
def test_code_is_stored_only_as_a_keyed_hash():
    """ACC-1/ORG-10: the OneTimeCode row holds no plaintext code, and its hash is keyed
    (not a bare SHA-256 that a 10^6 dictionary would reverse)."""
    with fixed_codes(402719):
        otc = codes.send_code(PHONE, CodePurpose.REGISTER, ip="203.0.113.5")
    row = raw_row("accounts_onetimecode", otc.pk)
    for column, value in row.items():
        assert "402719" not in str(value), f"plaintext code in column {column}"
    digest = row["code_hash"]
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    unkeyed = {
        hashlib.sha256(text.encode()).hexdigest()
        for text in ("402719", f"{PHONE}:register:402719", f"{PHONE}:{CodePurpose.REGISTER}:402719")
    }
    assert digest not in unkeyed
    # ...and yet the hash is what lets the right code through.
    assert codes.check_code(PHONE, CodePurpose.REGISTER, "402719").pk == otc.pk


@pytest.mark.django_db
def test_sms_body_is_encrypted_in_the_outbox_and_erased_after_delivery(deliver, sms_outbox):
    """ACC-1: the queued SMS body is AES-GCM ciphertext in the raw column (the code never
    rests in plaintext) and is blanked once the message has been delivered."""
    with deliver(), fixed_codes(402719):
        codes.send_code(PHONE, CodePurpose.REGISTER)
        message = SMSMessage.objects.get(phone=PHONE)
        raw_body = raw_row("accounts_smsmessage", message.pk)["body"]
        assert raw_body.startswith("enc1:")
        assert "402719" not in raw_body
        assert "402719" in message.body  # the ORM decrypts for the sender
        assert sms_outbox == []  # nothing leaves before the transaction commits
    assert [sms["to"] for sms in sms_outbox] == [PHONE]
    assert "402719" in sms_outbox[0]["body"]
    assert "5 minutes" in sms_outbox[0]["body"]
    message.refresh_from_db()
    assert message.status == SMSStatus.SENT
    assert message.sent_at is not None
    assert message.attempts == 1
    assert raw_row("accounts_smsmessage", message.pk)["body"] == ""


# --------------------------------------------------------------------------- expiry and single use


@pytest.mark.django_db
def test_code_expires_after_five_minutes(issue_code):
    """ACC-1: a code is good for SMS_CODE_TTL (five minutes) and not a moment longer."""
    start = timezone.now()
    with patch("django.utils.timezone.now", return_value=start):
        code = issue_code(PHONE, CodePurpose.REGISTER)
    otc = OneTimeCode.objects.get(phone=PHONE)
    assert otc.expires_at - otc.created_at == timedelta(minutes=5)

    with patch("django.utils.timezone.now", return_value=start + timedelta(minutes=4, seconds=59)):
        assert codes.check_code(PHONE, CodePurpose.REGISTER, code).pk == otc.pk
    with patch("django.utils.timezone.now", return_value=start + timedelta(minutes=5)):
        error = rejection(PHONE, CodePurpose.REGISTER, code)
        assert error.code == "expired"
        assert error.messages == ["This code has expired. Ask for a new code."]
        with pytest.raises(CodeRejected):
            sign_in.register_user(phone=PHONE, code=code, password=TEST_PASSWORD)
    assert not User.objects.filter(phone=PHONE).exists()


@pytest.mark.django_db
def test_wrong_guess_at_an_expired_code_says_so_and_is_not_counted(issue_code):
    """ACC-1: once the latest code has expired, a wrong guess is told to ask again."""
    code = issue_code(PHONE, CodePurpose.SIGN_IN)
    OneTimeCode.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    error = rejection(PHONE, CodePurpose.SIGN_IN, wrong(code))
    assert error.messages == ["The code is wrong, and the last one sent has expired. Ask for a new code."]
    assert OneTimeCode.objects.get().failed_attempts == 0


@pytest.mark.django_db
def test_code_works_only_once(issue_code):
    """ACC-1: a code is single-use; the second use is refused as "already been used"."""
    user = UserFactory(phone=PHONE)
    code = issue_code(PHONE, CodePurpose.SIGN_IN)
    assert sign_in.sign_in_with_code(phone=PHONE, code=code) == user
    assert OneTimeCode.objects.get().used_at is not None
    with pytest.raises(CodeRejected) as caught:
        sign_in.sign_in_with_code(phone=PHONE, code=code)
    assert caught.value.code == "used"
    assert caught.value.messages == ["This code has already been used. Ask for a new code."]
    assert rejection(PHONE, CodePurpose.SIGN_IN, code).code == "used"  # the check itself says so
    assert AuditEvent.objects.filter(action="account.signed_in").count() == 1


@pytest.mark.django_db
def test_registration_code_cannot_register_twice(issue_code):
    """ACC-1: after a successful registration its code is spent."""
    code = issue_code(PHONE, CodePurpose.REGISTER)
    sign_in.register_user(phone=PHONE, code=code, password=TEST_PASSWORD)
    with pytest.raises(CodeRejected) as caught:
        sign_in.register_user(phone=PHONE, code=code, password=NEW_PASSWORD)
    assert caught.value.code == "used"
    assert User.objects.get(phone=PHONE).check_password(TEST_PASSWORD)


@pytest.mark.django_db
def test_consuming_is_compare_and_set(issue_code):
    """ACC-1: of two submissions that both passed the check, only one can spend the code."""
    code = issue_code(PHONE, CodePurpose.SIGN_IN)
    first = codes.check_code(PHONE, CodePurpose.SIGN_IN, code)
    second = codes.check_code(PHONE, CodePurpose.SIGN_IN, code)
    codes.consume_code(first)
    with pytest.raises(CodeRejected) as caught:
        codes.consume_code(second)
    assert caught.value.code == "used"


@pytest.mark.django_db
def test_no_code_no_account():
    """ACC-1: without a code sent to the number there is no account."""
    with pytest.raises(CodeRejected) as caught:
        sign_in.register_user(phone=PHONE, code="123456", password=TEST_PASSWORD)
    assert caught.value.messages == ["No code was sent to this number. Ask for a code first."]
    assert not User.objects.exists()


# --------------------------------------------------------------------------- wrong guesses


@pytest.mark.django_db
def test_wrong_codes_count_down_and_exhaust_the_code(issue_code, settings):
    """ACC-1: each wrong guess uses up an attempt; after SMS_CODE_MAX_ATTEMPTS the code is
    dead even when the right code is entered next."""
    settings.SMS_CODE_MAX_ATTEMPTS = 3
    code = issue_code(PHONE, CodePurpose.REGISTER)
    bad = wrong(code)

    first = rejection(PHONE, CodePurpose.REGISTER, bad)
    assert first.code == "wrong"
    assert first.messages == ["The code is wrong. 2 attempts left."]
    assert rejection(PHONE, CodePurpose.REGISTER, bad).messages == ["The code is wrong. 1 attempt left."]
    last = rejection(PHONE, CodePurpose.REGISTER, bad)
    assert last.code == "exhausted"
    assert last.messages == ["Too many wrong codes were entered. Ask for a new code."]
    assert OneTimeCode.objects.get().failed_attempts == 3

    right = rejection(PHONE, CodePurpose.REGISTER, code)
    assert right.code == "exhausted"
    with pytest.raises(CodeRejected):
        sign_in.register_user(phone=PHONE, code=code, password=TEST_PASSWORD)
    assert not User.objects.exists()


@pytest.mark.django_db
def test_a_fresh_code_starts_with_a_full_set_of_attempts(issue_code, settings, no_resend_wait):
    """ACC-1: exhaustion belongs to one code; asking for a new one is the way out."""
    settings.SMS_CODE_MAX_ATTEMPTS = 1
    with fixed_codes(111111, 222222):
        issue_code(PHONE, CodePurpose.SIGN_IN)
        assert rejection(PHONE, CodePurpose.SIGN_IN, "999999").code == "exhausted"
        fresh = issue_code(PHONE, CodePurpose.SIGN_IN)
    assert fresh == "222222"
    assert codes.check_code(PHONE, CodePurpose.SIGN_IN, fresh).failed_attempts == 0


@pytest.mark.django_db(transaction=True)
def test_wrong_guess_is_committed_although_the_sign_up_fails(sms_outbox):
    """ACC-1: a failed sign-up must not take its wrong guess with it. The attempt is
    committed at once, visible to another database connection."""
    codes.send_code(PHONE, CodePurpose.REGISTER)  # commits; the eager task delivers
    code = last_code(sms_outbox, PHONE)
    with pytest.raises(CodeRejected):
        sign_in.register_user(phone=PHONE, code=wrong(code), password=TEST_PASSWORD)
    assert not User.objects.filter(phone=PHONE).exists()

    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT failed_attempts FROM accounts_onetimecode WHERE phone = %s", [PHONE])
            assert cursor.fetchone()[0] == 1
    finally:
        other.close()


@pytest.mark.django_db
def test_wrong_guess_cannot_be_rolled_back_by_a_surrounding_transaction(issue_code):
    """ACC-1: if a caller wrapped the check in its own transaction, rolling that back
    would silently undo the guess counter. The counter commits in a durable block, so
    such a caller fails loudly instead of granting unlimited guesses."""
    code = issue_code(PHONE, CodePurpose.REGISTER)
    with pytest.raises(RuntimeError, match="durable"), transaction.atomic():
        codes.check_code(PHONE, CodePurpose.REGISTER, wrong(code))
    # Outside a caller's transaction the same guess is counted.
    assert rejection(PHONE, CodePurpose.REGISTER, wrong(code)).code == "wrong"
    assert OneTimeCode.objects.get().failed_attempts == 1


@pytest.mark.django_db
def test_superseded_code_is_refused_with_its_own_message(issue_code, no_resend_wait):
    """ACC-1: only the newest code works; an older one says it was replaced."""
    with fixed_codes(111111, 222222):
        older = issue_code(PHONE, CodePurpose.SIGN_IN)
        newer = issue_code(PHONE, CodePurpose.SIGN_IN)
    error = rejection(PHONE, CodePurpose.SIGN_IN, older)
    assert error.code == "superseded"
    assert error.messages == ["This code was replaced by a newer one. Enter the latest code you received."]
    assert OneTimeCode.objects.filter(failed_attempts__gt=0).count() == 0  # not a wrong guess
    assert codes.check_code(PHONE, CodePurpose.SIGN_IN, newer).created_at == (
        OneTimeCode.objects.filter(phone=PHONE).latest("created_at").created_at
    )


@pytest.mark.django_db
def test_used_older_code_still_says_used(issue_code, no_resend_wait):
    """ACC-1: a spent code stays "already used" after a newer one has been sent."""
    UserFactory(phone=PHONE)
    with fixed_codes(111111, 222222):
        first = issue_code(PHONE, CodePurpose.SIGN_IN)
        sign_in.sign_in_with_code(phone=PHONE, code=first)
        issue_code(PHONE, CodePurpose.SIGN_IN)
    assert rejection(PHONE, CodePurpose.SIGN_IN, first).code == "used"


@pytest.mark.django_db
def test_a_code_works_only_for_its_purpose(issue_code, no_resend_wait):
    """ACC-1: a registration code cannot sign in, reset a password or confirm deletion."""
    UserFactory(phone=PHONE)
    with fixed_codes(111111, 222222):
        register_code = issue_code(PHONE, CodePurpose.REGISTER)
        sign_in_code = issue_code(PHONE, CodePurpose.SIGN_IN)

    for purpose in (CodePurpose.PASSWORD_RESET, CodePurpose.REVERIFY):
        assert rejection(PHONE, purpose, register_code).code == "no_code"
    error = rejection(PHONE, CodePurpose.SIGN_IN, register_code)
    assert error.code == "wrong"
    assert OneTimeCode.objects.get(purpose=CodePurpose.SIGN_IN).failed_attempts == 1
    assert OneTimeCode.objects.get(purpose=CodePurpose.REGISTER).failed_attempts == 0
    with pytest.raises(CodeRejected):
        sign_in.reset_password(phone=PHONE, code=sign_in_code, new_password=NEW_PASSWORD)
    assert User.objects.get(phone=PHONE).check_password(TEST_PASSWORD)


# --------------------------------------------------------------------------- rate limits


@pytest.mark.django_db
def test_resend_interval(issue_code, settings):
    """ACC-1: a second code for the same number and purpose must wait the resend interval."""
    settings.SMS_CODE_RESEND_INTERVAL = timedelta(seconds=60)
    issue_code(PHONE, CodePurpose.SIGN_IN)
    with pytest.raises(RateLimited) as caught:
        codes.send_code(PHONE, CodePurpose.SIGN_IN)
    assert caught.value.code == "resend_too_soon"
    seconds = int(re.fullmatch(r"A code was just sent\. Wait (\d+) seconds before asking for another\.",
                               caught.value.messages[0]).group(1))  # fmt: skip
    assert 50 <= seconds <= 60  # never more than the interval itself
    assert OneTimeCode.objects.count() == 1
    assert SMSMessage.objects.count() == 1

    # Another purpose is not held up by this number's sign-in code...
    issue_code(PHONE, CodePurpose.PASSWORD_RESET)
    # ...and once the interval has passed, the same purpose may ask again.
    OneTimeCode.objects.filter(purpose=CodePurpose.SIGN_IN).update(created_at=timezone.now() - timedelta(seconds=61))
    issue_code(PHONE, CodePurpose.SIGN_IN)
    assert OneTimeCode.objects.filter(purpose=CodePurpose.SIGN_IN).count() == 2


@pytest.mark.django_db
def test_codes_per_number_per_hour(issue_code, settings, no_resend_wait):
    """ACC-1: at most SMS_CODES_PER_NUMBER_PER_HOUR codes per number, across purposes."""
    settings.SMS_CODES_PER_NUMBER_PER_HOUR = 2
    settings.SMS_CODES_PER_IP_PER_HOUR = 100
    issue_code(PHONE, CodePurpose.REGISTER, ip="203.0.113.5")
    issue_code(PHONE, CodePurpose.SIGN_IN, ip="198.51.100.7")
    with pytest.raises(RateLimited) as caught:
        codes.send_code(PHONE, CodePurpose.PASSWORD_RESET, ip="192.0.2.9")
    assert caught.value.code == "number_rate"
    assert caught.value.messages == ["Too many codes were sent to this number in the last hour. Try again later."]
    assert OneTimeCode.objects.filter(phone=PHONE).count() == 2
    assert SMSMessage.objects.filter(phone=PHONE).count() == 2

    issue_code(OTHER_PHONE, CodePurpose.REGISTER, ip="203.0.113.5")  # other numbers are unaffected
    OneTimeCode.objects.filter(phone=PHONE).update(created_at=timezone.now() - timedelta(minutes=61))
    issue_code(PHONE, CodePurpose.PASSWORD_RESET, ip="192.0.2.9")  # the hour has passed


@pytest.mark.django_db
def test_codes_per_ip_per_hour(issue_code, settings, no_resend_wait):
    """ACC-1: at most SMS_CODES_PER_IP_PER_HOUR codes requested from one address."""
    settings.SMS_CODES_PER_IP_PER_HOUR = 2
    issue_code("+8613900000001", CodePurpose.REGISTER, ip="203.0.113.5")
    issue_code("+8613900000002", CodePurpose.REGISTER, ip="203.0.113.5")
    with pytest.raises(RateLimited) as caught:
        codes.send_code("+8613900000003", CodePurpose.REGISTER, ip="203.0.113.5")
    assert caught.value.code == "ip_rate"
    assert caught.value.messages == [
        "Too many codes were requested from your network in the last hour. Try again later."
    ]
    assert not OneTimeCode.objects.filter(phone="+8613900000003").exists()

    issue_code("+8613900000003", CodePurpose.REGISTER, ip="198.51.100.7")  # another address is fine
    OneTimeCode.objects.filter(requested_from="203.0.113.5").update(created_at=timezone.now() - timedelta(hours=2))
    issue_code("+8613900000004", CodePurpose.REGISTER, ip="203.0.113.5")


# --------------------------------------------------------------------------- purging


@pytest.mark.django_db
def test_purge_spent_codes_deletes_only_old_codes_and_finished_messages():
    """ACC-1: codes older than a day and delivered/failed messages older than a day go;
    recent codes (rate limits look back an hour) and undelivered messages stay."""
    now = timezone.now()
    old, recent = now - timedelta(hours=25), now - timedelta(hours=23)

    def code(created):
        return OneTimeCode.objects.create(
            phone=PHONE, purpose=CodePurpose.SIGN_IN, code_hash="0" * 64, created_at=created, expires_at=created
        )

    def message(status, created):
        return SMSMessage.objects.create(phone=PHONE, body="", status=status, created_at=created)

    old_code, recent_code = code(old), code(recent)
    old_sent, old_failed = message(SMSStatus.SENT, old), message(SMSStatus.FAILED, old)
    old_pending, old_sending = message(SMSStatus.PENDING, old), message(SMSStatus.SENDING, old)
    recent_sent = message(SMSStatus.SENT, recent)

    assert tasks.purge_spent_codes() == "purged 1 codes and 2 messages"
    assert list(OneTimeCode.objects.values_list("pk", flat=True)) == [recent_code.pk]
    assert set(SMSMessage.objects.values_list("pk", flat=True)) == {old_pending.pk, old_sending.pk, recent_sent.pk}
    assert not OneTimeCode.objects.filter(pk=old_code.pk).exists()
    assert not SMSMessage.objects.filter(pk__in=[old_sent.pk, old_failed.pk]).exists()
    assert retention.purge_spent_codes() == (0, 0)


# --------------------------------------------------------------------------- delivery


class FlakyBackend(BaseBackend):
    """A gateway that refuses the first ``failures`` messages with SMSDeliveryError."""

    failures = 0
    calls: list[str] = []
    sent: list[dict] = []

    def send(self, phone: str, body: str) -> None:
        type(self).calls.append(phone)
        if type(self).failures > 0:
            type(self).failures -= 1
            raise SMSDeliveryError("gateway busy")
        type(self).sent.append({"to": phone, "body": body})


@pytest.fixture
def flaky(settings):
    """Route SMS through FlakyBackend and let eager Celery run retries in place.

    The settings make eager tasks propagate exceptions, which would surface a retry as a
    ``celery.exceptions.Retry`` raised to the caller; with propagation off, ``apply``
    re-runs the task for each retry, as a worker would after the countdown."""
    # A path of its own: accounts.services.sms_gateway._backend_class caches the class by path.
    settings.SMS_BACKEND = f"{__name__}.FlakyBackend"
    FlakyBackend.failures = 0
    FlakyBackend.calls = []
    FlakyBackend.sent = []
    saved = app.conf.task_eager_propagates
    app.conf.task_eager_propagates = False
    yield FlakyBackend
    app.conf.task_eager_propagates = saved


@pytest.mark.django_db
def test_delivery_retries_after_a_gateway_failure(flaky, deliver, settings):
    """ACC-1: SMSDeliveryError is retried; the message goes out and its body is erased."""
    settings.SMS_DELIVERY_MAX_ATTEMPTS = 5
    flaky.failures = 2
    with deliver(), fixed_codes(402719):
        codes.send_code(PHONE, CodePurpose.REGISTER)
    assert flaky.calls == [PHONE, PHONE, PHONE]
    assert len(flaky.sent) == 1
    assert "402719" in flaky.sent[0]["body"]
    message = SMSMessage.objects.get()
    assert (message.status, message.attempts, message.last_error) == (SMSStatus.SENT, 3, "")
    assert raw_row("accounts_smsmessage", message.pk)["body"] == ""


@pytest.mark.django_db
def test_delivery_gives_up_after_max_attempts_and_erases_the_body(flaky, deliver, settings):
    """ACC-1: after SMS_DELIVERY_MAX_ATTEMPTS failures the message is marked failed and
    its body (carrying the code) is erased rather than kept for ever."""
    settings.SMS_DELIVERY_MAX_ATTEMPTS = 3
    flaky.failures = 100
    with deliver():
        codes.send_code(PHONE, CodePurpose.REGISTER)
    assert flaky.calls == [PHONE] * 3
    assert flaky.sent == []
    message = SMSMessage.objects.get()
    assert (message.status, message.attempts, message.last_error) == (SMSStatus.FAILED, 3, "gateway busy")
    assert raw_row("accounts_smsmessage", message.pk)["body"] == ""
    # A late redelivery of the task finds nothing left to do.
    assert tasks.deliver_sms.apply(args=[message.pk]).get() == "nothing to do"
    assert len(flaky.calls) == 3


@pytest.mark.django_db
def test_a_sent_message_is_not_sent_again(flaky, deliver):
    """ACC-1: the claim is compare-and-set on the row, so a redelivered task is a no-op."""
    with deliver():
        codes.send_code(PHONE, CodePurpose.SIGN_IN)
    message = SMSMessage.objects.get()
    assert tasks.deliver_sms.apply(args=[message.pk]).get() == "nothing to do"
    assert flaky.calls == [PHONE]


def _sending(heartbeat_at, attempts: int = 1) -> SMSMessage:
    return SMSMessage.objects.create(
        phone=PHONE,
        body="[Custodia] test",
        status=SMSStatus.SENDING,
        worker="dead-host:1:x",
        heartbeat_at=heartbeat_at,
        attempts=attempts,
    )


@pytest.mark.django_db
def test_stale_sending_claim_can_be_taken_over():
    """ACC-1: a worker that died mid-send leaves a SENDING row whose heartbeat goes
    stale; after ``JOB_STALE_SECONDS`` another worker may claim it again (and the
    attempt is counted)."""
    stale_at = timezone.now() - timedelta(seconds=django_settings.JOB_STALE_SECONDS + 1)
    message = _sending(stale_at)
    claimed = sms_delivery.claim_sms(message.pk, "taker:2:y")
    assert claimed is not None
    assert claimed.status == SMSStatus.SENDING
    assert claimed.attempts == 2
    assert claimed.worker == "taker:2:y" and claimed.heartbeat_at > stale_at


@pytest.mark.django_db
def test_fresh_sending_claim_cannot_be_taken(flaky):
    """ACC-1: while a worker beats its heartbeat, nobody else claims its message."""
    heartbeat_at = timezone.now() - timedelta(seconds=2)
    message = _sending(heartbeat_at)
    assert sms_delivery.claim_sms(message.pk) is None
    assert tasks.deliver_sms.apply(args=[message.pk]).get() == "nothing to do"
    assert flaky.calls == []
    message.refresh_from_db()
    assert (message.attempts, message.heartbeat_at) == (1, heartbeat_at)


@pytest.mark.django_db
def test_a_taken_over_delivery_records_nothing():
    """ACC-1: the worker that lost its claim (its heartbeat went stale) cannot mark the
    message sent or failed: only the holder of the claim records an outcome."""
    message = SMSMessage.objects.create(phone=PHONE, body="x")
    late = sms_delivery.claim_sms(message.pk, "late:1:a")
    SMSMessage.objects.filter(pk=message.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    taker = sms_delivery.claim_sms(message.pk, "taker:2:b")
    sms_delivery.mark_sms_sent(late)
    sms_delivery.mark_sms_failed(late, "gateway down", final=True)
    message.refresh_from_db()
    assert (message.status, message.worker, message.body) == (SMSStatus.SENDING, "taker:2:b", "x")
    sms_delivery.mark_sms_sent(taker)
    message.refresh_from_db()
    assert (message.status, message.worker, message.body) == (SMSStatus.SENT, "", "")


@pytest.mark.django_db
def test_the_sweep_sends_a_lost_message_and_waits_for_a_failed_ones_backoff(flaky, settings):
    """ACC-1: a message whose delivery task was lost (never claimed) is sent by the
    recovery sweep once its last sign of life is stale; a failed one only once its
    backoff has passed."""
    stale = timezone.now() - timedelta(seconds=settings.JOB_STALE_SECONDS + 1)
    lost = SMSMessage.objects.create(phone=PHONE, body="lost")
    assert recover_jobs() == "enqueued 0 jobs"  # its own task is on its way
    SMSMessage.objects.filter(pk=lost.pk).update(heartbeat_at=stale)
    backing_off = SMSMessage.objects.create(
        phone=PHONE, body="later", attempts=1, heartbeat_at=stale, next_attempt_at=timezone.now() + timedelta(minutes=1)
    )
    assert recover_jobs() == "enqueued 1 jobs, 1 sms"
    assert flaky.calls == [PHONE]
    assert SMSMessage.objects.get(pk=lost.pk).status == SMSStatus.SENT
    SMSMessage.objects.filter(pk=backing_off.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert recover_jobs() == "enqueued 1 jobs, 1 sms"
    assert SMSMessage.objects.get(pk=backing_off.pk).status == SMSStatus.SENT


@pytest.mark.django_db
def test_no_claim_beyond_the_attempt_cap(settings):
    """ACC-1: a message that used up its delivery attempts is never claimed again."""
    settings.SMS_DELIVERY_MAX_ATTEMPTS = 2
    stale = _sending(timezone.now() - timedelta(days=1), attempts=2)
    assert sms_delivery.claim_sms(stale.pk) is None
    pending = SMSMessage.objects.create(phone=PHONE, body="x", attempts=1)
    assert sms_delivery.claim_sms(pending.pk).attempts == 2
    assert sms_delivery.claim_sms(pending.pk) is None  # now SENDING and fresh


@pytest.mark.django_db(transaction=True)
def test_a_database_outage_before_the_send_costs_no_attempt(flaky, monkeypatch):
    """ACC-1: the database goes away while the message is claimed: the task waits for
    it and claims again; the message is sent once, with one attempt counted."""
    message = SMSMessage.objects.create(phone=PHONE, body="[Custodia] 123456")
    real = sms_delivery.claim_sms
    lost = []

    def flaky_claim(message_id, token=None):
        claimed = real(message_id, token)
        if not lost:
            lost.append(True)
            raise connection_lost()  # after the claim was written: it is given back
        return claimed

    monkeypatch.setattr(sms_delivery, "claim_sms", flaky_claim)
    assert tasks.deliver_sms.apply(args=[message.pk]).get() == "sent"
    message.refresh_from_db()
    assert lost and flaky.calls == [PHONE]
    assert (message.status, message.attempts, message.worker) == (SMSStatus.SENT, 1, "")
