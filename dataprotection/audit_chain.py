"""The tamper-evident audit trail (SEC-2): keyed digests of each event, a keyed hash
chain over the digests, the sealer that extends the chain and the verification.

The scheme, in five steps:

1. *Field digests.* At insert (``AuditEvent.save`` calls ``stamp``) each field that can
   hold personal data (actor, subject, target id, IP address, changes, metadata) gets a
   digest ``HMAC(key, salt, value)`` under the keyed-hash key of the key ring
   (``crypto.keyed_hasher``), with a random per-event ``digest_salt``.
2. *Content digest.* ``content_digest`` is the HMAC of a canonical JSON of the other
   fields (time, action, actor kind, organization, target type) and the field digests.
   Neither ever changes after the insert.
3. *Chain.* The sealer (``seal_audit_chain``, every minute from the beat task) takes the
   ``AuditChainHead`` row lock, numbers unsealed events in id order (``chain_seq``) and
   sets ``chain_hash = HMAC(key, previous chain_hash | content_digest | id | chain_seq)``
   in set-based batches. Writers never touch the chain, so they never wait for each
   other; an event that commits late (an older id) simply gets a later position.
4. *Anonymization.* The engine scrubs an event (ANON-2/3, ORG-11) by setting its personal
   fields to their declared anonymized values and blanking ``digest_salt`` in the same
   UPDATE: without the salt the field digests left behind cannot be tested against a
   guessed IP address or user id. Digests and chain are untouched, so verification stays
   green. A field that only becomes its anonymized value (an actor's account deleted:
   ``on_delete=SET_NULL``; an IP address whose legal hold ended) is accepted too.
5. *Verification* (``verify_audit_chain``) streams the sealed events in chain order and
   checks, per event: its position follows the previous one (a deleted event leaves a
   gap and the next link breaks), the link, the content digest recomputed from the
   current core fields and stored field digests, and each personal field: equal to its
   digest (salt present) or to its anonymized value. In a scrubbed event (salt blank)
   every personal field must hold its anonymized value, except those under a legal hold
   (the IP address, ANON-4), which are kept but can no longer be checked.

What it does not catch: an edit that *replaces* a personal value with its anonymized one
(it destroys, but cannot forge, information), and the loss of the newest events together
with a rewound head row (the daily task logs the head hash so logs kept elsewhere anchor
it). Digests are keyed: changing ``FIELD_HASH_KEY`` (or ``SECRET_KEY`` when it is unset)
breaks every digest, like every keyed lookup of the project.
"""

from __future__ import annotations

import json
import logging
import secrets
from dataclasses import dataclass, field
from datetime import UTC, timedelta
from functools import lru_cache

from django.db import connection, models, transaction
from django.db.models import Q
from django.utils import timezone

from dataprotection import crypto
from dataprotection.audit import record_event
from dataprotection.models import AuditChainHead, AuditEvent
from dataprotection.personal_data import Strategy

logger = logging.getLogger(__name__)

CORE_FIELDS = ("occurred_at", "action", "actor_kind", "organization_id", "target_type")
PERSONAL_FIELDS = ("actor_id", "subject_user_id", "target_id", "ip_address", "changes", "metadata")
STREAM_COLUMNS = (
    "id",
    "chain_seq",
    "chain_hash",
    "content_digest",
    "field_digests",
    "digest_salt",
    *CORE_FIELDS,
    *PERSONAL_FIELDS,
)
INTEGER_FIELDS = frozenset({"actor_id", "subject_user_id", "organization_id"})
FIELD_DIGEST_CHARS = 32  # 128 bits of HMAC-SHA256: plenty for a keyed digest
SEAL_BATCH = 1000
STREAM_CHUNK = 2000
PROBLEMS_KEPT = 100  # on the head row and in the admin; the command prints them all
VERIFY_EVERY = timedelta(days=1)
VERIFY_LEASE = timedelta(hours=6)  # a verification silent for longer died


def _events():

    # The plain queryset: the sealer is, with the anonymization engine, the one
    # sanctioned writer of existing rows (the manager refuses bulk updates on purpose).
    return models.QuerySet(model=AuditEvent)


# --------------------------------------------------------------------------- digests


def _canonical(name: str, value) -> str:
    if name == "occurred_at" and value is not None:
        value = value.astimezone(UTC).isoformat(timespec="microseconds")
    elif name == "ip_address":
        value = value or None  # "" is stored as NULL
    elif name in INTEGER_FIELDS and value is not None:
        value = int(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


@lru_cache(maxsize=1)
def scrub_rules() -> dict[str, tuple[str, bool]]:
    """Per personal column: the canonical anonymized value and whether the engine keeps
    the value under a legal hold when it scrubs the event -- read from the AuditEvent
    declaration, so the verification follows any change of it."""

    rules = {}
    for name, policy in AuditEvent.personal_data.fields.items():
        attname = AuditEvent._meta.get_field(name).attname
        if attname not in PERSONAL_FIELDS:
            continue
        held = policy.strategy is Strategy.LEGAL_HOLD
        final = policy.after if held else policy
        anonymized = None if final.strategy is Strategy.SET_NULL else final.value
        rules[attname] = (_canonical(attname, anonymized), held)
    missing = set(PERSONAL_FIELDS) - set(rules)
    if missing:
        raise RuntimeError(f"AuditEvent declares no anonymization for {sorted(missing)}")
    return rules


_bound: dict[str, tuple] = {}


def _hashers():
    # Bound once per key ring (which is cached itself), not once per value.
    ring = crypto.key_ring()
    cached = _bound.get("ring")
    if cached is None or cached[0] is not ring:
        cached = _bound["ring"] = (
            ring,
            (
                {name: crypto.keyed_hasher(f"audit-chain:field:{name}") for name in PERSONAL_FIELDS},
                crypto.keyed_hasher("audit-chain:content"),
                crypto.keyed_hasher("audit-chain:link"),
            ),
        )
    return cached[1]


def field_digest(name: str, canonical_value: str, salt: str) -> str:
    return _hashers()[0][name](f"{salt}\x00{canonical_value}")[:FIELD_DIGEST_CHARS]


def content_digest(values: dict, field_digests: dict) -> str:
    core = {name: _canonical(name, values[name]) for name in CORE_FIELDS}
    payload = json.dumps({"core": core, "fields": field_digests}, sort_keys=True, separators=(",", ":"))
    return _hashers()[1](payload)


def link(previous: str, digest: str, event_id: int, seq: int) -> str:
    return _hashers()[2](f"{previous}|{digest}|{event_id}|{seq}")


def stamp_before_save(sender, instance, **kwargs) -> None:
    """``pre_save`` of ``AuditEvent`` (connected in ``dataprotection/hooks.py``): a new
    event is stamped in Python, so recording it stays one INSERT."""
    if instance._state.adding:
        stamp(instance)


def stamp(event) -> None:
    """Set the salt, field digests and content digest of a new event from its values."""
    if event.occurred_at is None:
        event.occurred_at = timezone.now()
    event.digest_salt = secrets.token_hex(16)
    values = {name: getattr(event, name) for name in (*CORE_FIELDS, *PERSONAL_FIELDS)}
    event.field_digests = {
        name: field_digest(name, _canonical(name, values[name]), event.digest_salt) for name in PERSONAL_FIELDS
    }
    event.content_digest = content_digest(values, event.field_digests)


# --------------------------------------------------------------------------- sealing


def _set_columns(rows: list[tuple], columns: list[tuple[str, str]]) -> None:
    """One set-based UPDATE of many rows (``rows``: id first, then one value per column):
    ``UPDATE ... FROM (VALUES (id, ...), ...)``, which PostgreSQL and SQLite (3.33+), the
    project's two databases, run in linear time. Django's ``bulk_update`` builds a CASE
    WHEN per row and column and spends about a millisecond a row compiling it."""

    vendor = connection.vendor
    if vendor not in {"postgresql", "sqlite"}:  # pragma: no cover - any other database
        names = [name for name, _kind in columns]
        objects = [AuditEvent(pk=row[0], **dict(zip(names, row[1:], strict=True))) for row in rows]
        _events().bulk_update(objects, names, batch_size=100)
        return
    casts = ["BIGINT"] + [
        ("JSONB" if vendor == "postgresql" else "TEXT") if kind == "JSON" else kind for _n, kind in columns
    ]
    placeholder = "(" + ", ".join(f"CAST(%s AS {cast})" for cast in casts) + ")"
    quote = connection.ops.quote_name
    table = quote(AuditEvent._meta.db_table)
    assignments = ", ".join(f"{quote(name)} = v.column{index}" for index, (name, _k) in enumerate(columns, start=2))
    sql = (
        f"UPDATE {table} SET {assignments} FROM (VALUES {', '.join([placeholder] * len(rows))}) AS v "
        f"WHERE {table}.{quote('id')} = v.column1"
    )
    params = [
        json.dumps(value) if index and columns[index - 1][1] == "JSON" else value
        for row in rows
        for index, value in enumerate(row)
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def chain_head(*, lock: bool = False):

    heads = AuditChainHead.objects.filter(pk=1)
    if lock:
        heads = heads.select_for_update()
    head = heads.first()
    if head is None:  # only before the first seal: one query on every later call
        AuditChainHead.objects.get_or_create(pk=1)
        head = heads.get()
    return head


def seal_audit_chain(batch_size: int = SEAL_BATCH) -> int:
    """Link every unsealed event into the chain, oldest id first; returns how many.

    One transaction per batch: the head row lock makes concurrent sealers take turns;
    the batch's rows are locked too, so an anonymization chunk cannot scrub an event
    between our read and our write of its (missing) digests."""
    sealed = 0
    while True:
        with transaction.atomic():
            head = chain_head(lock=True)
            batch = list(_events().filter(chain_seq__isnull=True).order_by("id").select_for_update()[:batch_size])
            if not batch:
                break
            undigested = [event for event in batch if not event.content_digest]
            for event in undigested:
                # Written past ``save`` (bulk_create, SQL): digested now, and said so,
                # since nothing vouches for what happened to it before this moment.
                stamp(event)
            if undigested:
                logger.warning(
                    "audit chain: digested %d events at sealing: %s", len(undigested), [e.pk for e in undigested][:50]
                )
                _set_columns(
                    [(e.pk, e.digest_salt, e.field_digests, e.content_digest) for e in undigested],
                    [("digest_salt", "TEXT"), ("field_digests", "JSON"), ("content_digest", "TEXT")],
                )
            previous, seq = head.last_hash, head.last_seq
            for event in batch:
                seq += 1
                event.chain_seq = seq
                event.chain_hash = previous = link(previous, event.content_digest, event.pk, seq)
            _set_columns(
                [(e.pk, e.chain_seq, e.chain_hash) for e in batch], [("chain_seq", "BIGINT"), ("chain_hash", "TEXT")]
            )
            head.last_seq, head.last_hash, head.sealed_at = seq, previous, timezone.now()
            head.save(update_fields=["last_seq", "last_hash", "sealed_at"])
            sealed += len(batch)
    return sealed


# --------------------------------------------------------------------------- verifying


@dataclass
class Verification:
    checked: int = 0
    scrubbed: int = 0
    pending: int = 0
    head_seq: int = 0
    head_hash: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _event_problems(row: dict, rules: dict) -> tuple[list[str], bool]:
    """What is wrong with one event's content; and whether it is scrubbed."""
    problems = []
    salt = row["digest_salt"]
    stored = row["field_digests"] if isinstance(row["field_digests"], dict) else {}
    if set(stored) != set(PERSONAL_FIELDS):
        problems.append("its field digests are missing or altered")
    elif content_digest(row, stored) != row["content_digest"]:
        problems.append("its content (time, action, actor kind, organization or target type) was altered")
    for name in PERSONAL_FIELDS:
        value = _canonical(name, row[name])
        anonymized, held = rules[name]
        if value == anonymized:
            continue  # anonymized since, or empty from the start: nothing left to forge
        if salt:
            if field_digest(name, value, salt) != stored.get(name):
                problems.append(f"{name} was altered")
        elif not held:
            problems.append(f"{name} holds a value although the event was scrubbed")
    return problems, not salt


def verify_audit_chain(chunk_size: int = STREAM_CHUNK) -> Verification:
    """Walk the sealed events in chain order, streaming (``iterator``), and list every
    gap, broken link and altered event (SEC-2). Reads only; see ``run_verification``."""
    head = chain_head()
    rules = scrub_rules()
    result = Verification(head_seq=head.last_seq, head_hash=head.last_hash)
    previous, expected = "", 1
    rows = (
        _events()
        .filter(chain_seq__isnull=False, chain_seq__lte=head.last_seq)
        .order_by("chain_seq")
        .values(*STREAM_COLUMNS)
        .iterator(chunk_size=chunk_size)
    )
    for row in rows:
        event_id, seq = row["id"], row["chain_seq"]
        if seq != expected:
            result.problems.append(
                f"chain positions {expected}..{seq - 1} are missing: events were deleted before event {event_id}"
            )
        if link(previous, row["content_digest"], event_id, seq) != row["chain_hash"]:
            result.problems.append(
                f"broken link at event {event_id} (position {seq}): it or the event before it was "
                "deleted, moved or altered"
            )
        content_problems, scrubbed = _event_problems(row, rules)
        result.problems.extend(f"event {event_id}: {problem}" for problem in content_problems)
        result.scrubbed += scrubbed
        result.checked += 1
        previous, expected = row["chain_hash"], seq + 1
    if expected - 1 != head.last_seq:
        result.problems.append(
            f"chain positions {expected}..{head.last_seq} are missing: the newest events were deleted"
        )
    elif previous != head.last_hash:
        result.problems.append("the end of the chain does not match the chain head")
    result.pending = _events().filter(Q(chain_seq__isnull=True) | Q(chain_seq__gt=head.last_seq)).count()
    return result


def run_verification() -> Verification:
    """Seal what is waiting, verify, and keep the outcome on the head row (the admin's
    audit event list shows it). A failure is logged as CRITICAL for the operators'
    alerting and recorded as an audit event of its own."""

    seal_audit_chain()
    result = verify_audit_chain()
    AuditChainHead.objects.filter(pk=1).update(
        verifying_since=None,
        last_verified_at=timezone.now(),
        last_verification_ok=result.ok,
        verified_events=result.checked,
        problems=result.problems[:PROBLEMS_KEPT],
    )
    if result.ok:
        # The head hash in the logs anchors the chain outside the database.
        logger.info("audit chain verified: %d events, head %d %s", result.checked, result.head_seq, result.head_hash)
    else:
        logger.critical(
            "AUDIT CHAIN VERIFICATION FAILED (SEC-2): %d problems in %d events; first: %s",
            len(result.problems),
            result.checked,
            "; ".join(result.problems[:5]),
        )
        with transaction.atomic():
            record_event(
                "audit_chain.verification_failed",
                actor_kind="system",
                metadata={"problems": len(result.problems), "checked": result.checked},
            )
    return result


def claim_verification(now=None) -> bool:
    """Compare-and-set on the head row: true for the one caller that should verify now
    (the last verification is a day old and none is running, or the running one died)."""

    now = now or timezone.now()
    chain_head()  # make sure the row exists
    return bool(
        AuditChainHead.objects.filter(pk=1)
        .filter(Q(last_verified_at__isnull=True) | Q(last_verified_at__lte=now - VERIFY_EVERY))
        .filter(Q(verifying_since__isnull=True) | Q(verifying_since__lte=now - VERIFY_LEASE))
        .update(verifying_since=now)
    )
