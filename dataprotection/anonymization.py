"""The anonymization engine (ANON-1 to ANON-3, ANON-7): it applies the personal-data
declarations (``dataprotection.personal_data``) to the rows a cascade covers.

A cascade is an ``AnonymizationJob`` with one ``AnonymizationStage`` per table (which
rows: a JSON lookup such as ``{"organization_id": 7}``; what: anonymize in place or
delete) and the stage's rows cut into ``AnonymizationChunk`` key ranges of at most
``ANONYMIZATION_CHUNK_ROWS`` rows. Who builds the stages is the caller's business (the
organizations app builds a disband); this module only knows declarations.

Why it is shaped like this (see ``../shared/reference/perf-anchors.md``):

- **Set-based.** Each chunk is one ``UPDATE … WHERE lookup AND id BETWEEN low AND high``
  (or ``DELETE``) with constant values from the declarations, never a per-row ``save()``
  loop. Values computed from a key (pseudonyms) are the one exception: the database does
  not hold the key.
- **Keyset chunks planned up front.** One ``ROW_NUMBER()`` pass per table finds the
  chunk boundaries, so chunk k costs the same as chunk 1 (no OFFSET) and the total is
  known for the progress bar before the first row changes.
- **Resumable, idempotent, parallel.** A chunk is claimed by compare-and-set (a
  committed write), then applied and marked done, on its claim, in one transaction. A
  worker killed mid-chunk loses its transaction and stops beating its heartbeat; within
  ``JOB_STALE_SECONDS`` any worker takes the chunk again (``dataprotection.liveness``).
  The values are constants, so applying a range twice changes nothing. Any number of
  workers drive one job; phases order the deletes (children before parents).
- **Verified.** When every chunk is done, every stage is checked in SQL: no row left
  to delete, no personal column holding anything but its anonymized value. A value scan
  covers the columns declared non-personal: a copy of an original personal value found
  in them when the job was planned and still there fails the job (see "value scan").
  The result is the job's deletion report.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import reduce
from operator import or_

from django.apps import apps
from django.conf import settings
from django.db import connection, models, transaction
from django.db.models import F, Q
from django.db.models.functions import Lower, Trim
from django.utils import timezone

from dataprotection import crypto, files, liveness
from dataprotection.fields import EncryptedTextField
from dataprotection.models import (
    LIVE_JOB_STATUSES,
    AnonymizationChunk,
    AnonymizationFingerprints,
    AnonymizationJob,
    AnonymizationStage,
    ChunkStatus,
    JobKind,
    JobStatus,
    StageAction,
)
from dataprotection.personal_data import FieldPolicy, Strategy, declaration_for, declared_models

logger = logging.getLogger(__name__)

MAX_CHUNK_ATTEMPTS = 5
MAX_JOB_ATTEMPTS = 5
FINGERPRINT_PURPOSE = "anonymization.value-scan"
# Shorter values ("M", "CN", "2024") identify no one and recur in every table.
FINGERPRINT_MIN_LENGTH = 4


# --------------------------------------------------------------------------- specs


@dataclass(frozen=True)
class StageSpec:
    """What a caller asks for: the rows of ``model`` matching ``lookup``.

    ``action`` defaults to the declaration (``row=DELETE_ROW`` or any field whose
    policy is ``DELETE_ROW`` means delete, else anonymize in place). ``only`` limits the
    stage to some declared fields and applies what follows their legal hold (the
    retention sweep, ANON-4). ``lookup`` may hold ``"__exclude__": {...}``. ``extra`` sets
    non-personal columns too (a roster entry's status becomes "left"). ``phase``: stages
    of a lower phase finish before any chunk of a higher phase starts.
    """

    model: str
    lookup: dict
    phase: int = 0
    action: str | None = None
    extra: dict = field(default_factory=dict)
    only: tuple[str, ...] = ()


def model_of(label: str) -> type[models.Model]:
    return apps.get_model(label)


def default_action(model: type[models.Model]) -> str:
    declaration = declaration_for(model)
    if declaration is None:
        raise ValueError(f"{model._meta.label} declares no personal data (ANON-1)")
    if declaration.row is not None and declaration.row.strategy is Strategy.DELETE_ROW:
        return StageAction.DELETE
    if any(policy.strategy is Strategy.DELETE_ROW for policy in declaration.fields.values()):
        return StageAction.DELETE
    return StageAction.ANONYMIZE


def has_personal_data(model: type[models.Model]) -> bool:
    declaration = declaration_for(model)
    return bool(declaration and (declaration.fields or declaration.row is not None))


def _policy_now(policy: FieldPolicy) -> FieldPolicy | None:
    """The policy applied by a cascade today: a legal hold keeps the value (ANON-4; the
    retention sweep applies ``after`` when the hold ends)."""
    if policy.strategy is Strategy.LEGAL_HOLD:
        return None
    return policy


@dataclass(frozen=True)
class Treatment:
    """How a stage changes each row of a chunk, worked out once per stage."""

    constants: dict[str, object]
    pseudonyms: dict[str, str]  # field name -> keyed-hash purpose
    file_fields: tuple[str, ...]
    held: tuple[str, ...]


def treatment(model: type[models.Model], extra: dict | None = None, only: Iterable[str] = ()) -> Treatment:
    declaration = declaration_for(model)
    constants: dict[str, object] = {}
    pseudonyms: dict[str, str] = {}
    file_fields: list[str] = []
    held: list[str] = []
    only = tuple(only)
    for name, declared in declaration.fields.items():
        if only and name not in only:
            continue
        model_field = model._meta.get_field(name)
        if model_field.many_to_many or model_field.one_to_many:
            continue  # relation rows are their own tables with their own declarations
        # A stage limited to some fields releases ended holds: what follows the hold applies.
        releasing = only and declared.strategy is Strategy.LEGAL_HOLD
        policy = declared.after if releasing else _policy_now(declared)
        if policy is None:
            held.append(name)
            continue
        if policy.strategy is Strategy.SET_NULL:
            constants[name] = None
        elif policy.strategy is Strategy.REDACT:
            constants[name] = policy.value
        elif policy.strategy is Strategy.ERASE_FILE:
            file_fields.append(name)
            constants[name] = None if model_field.null else ""
        elif policy.strategy is Strategy.PSEUDONYMIZE:
            pseudonyms[name] = policy.purpose
        # DELETE_ROW fields: the stage deletes the rows.
    constants.update(extra or {})
    return Treatment(constants, pseudonyms, tuple(file_fields), tuple(held))


def pseudonym(pk: int, purpose: str, max_length: int | None) -> str:
    """A keyed pseudonym of the row's key: stable while the row exists, unique, and
    unrelated to the value it replaces."""
    value = "~" + crypto.keyed_hash(str(pk), f"pseudonym:{purpose}")
    return value[:max_length] if max_length else value


# --------------------------------------------------------------------------- querysets


def base_queryset(model: type[models.Model]) -> models.QuerySet:
    # The engine is the one sanctioned writer of anonymized values: it goes past
    # managers that refuse bulk updates (the audit trail's) on purpose.
    return models.QuerySet(model=model)


def lookup_queryset(
    model: type[models.Model], lookup: dict, *, action: str = "", extra: dict | None = None, only=()
) -> models.QuerySet:
    """The rows a lookup names. Two keys are not field lookups: ``"__exclude__"`` (rows
    to leave out) and ``"__pending__"`` (for stages that anonymize in place: only rows
    not anonymized yet, so a daily sweep never rewrites what it already did)."""
    lookup = dict(lookup)
    exclude = lookup.pop("__exclude__", None)
    pending = lookup.pop("__pending__", False)
    queryset = base_queryset(model).filter(**lookup)
    if exclude:
        queryset = queryset.exclude(**exclude)
    if pending and (action or default_action(model)) == StageAction.ANONYMIZE:
        condition = residue_filter(model, treatment(model, extra, only))
        queryset = queryset.filter(condition) if condition is not None else queryset.none()
    return queryset


def stage_queryset(stage: AnonymizationStage) -> models.QuerySet:
    return lookup_queryset(
        model_of(stage.model_label), stage.lookup, action=stage.action, extra=stage.extra, only=stage.only
    )


def _update(queryset: models.QuerySet, values: dict) -> int:
    return models.QuerySet.update(queryset, **values)


def _erase_files(model: type[models.Model], queryset: models.QuerySet, names: Iterable[str]) -> int:
    """Erase the stored files a chunk's rows reference. Only references that can be our
    files are read back (other references, e.g. a vendor's photo ids, are just blanked
    by the UPDATE). A file missing already counts as erased: a retried chunk may have
    removed it before its transaction rolled back."""
    erased = 0
    for name in names:
        model_field = model._meta.get_field(name)
        if isinstance(model_field, models.FileField):
            refs = queryset.exclude(**{name: ""}).exclude(**{f"{name}__isnull": True})
        else:
            refs = queryset.filter(**{f"{name}__endswith": files.STORED_SUFFIX})
        for ref in refs.values_list(name, flat=True).iterator():
            ref = str(ref)
            if isinstance(model_field, models.FileField):
                model_field.storage.delete(ref)
            elif files.is_stored_name(ref):
                files.delete_stored(ref)
            else:
                continue
            erased += 1
    return erased


def apply_range(stage: AnonymizationStage, low: int, high: int) -> tuple[int, int]:
    """Anonymize or delete the stage's rows with keys in ``[low, high]``; returns (rows
    changed, files erased). Idempotent."""
    model = model_of(stage.model_label)
    queryset = stage_queryset(stage).filter(pk__gte=low, pk__lte=high)
    how = treatment(model, stage.extra, stage.only)
    erased = _erase_files(model, queryset, how.file_fields)
    if stage.action == StageAction.DELETE:
        # Tables others point at go through Django's collector (it removes auto-created
        # many-to-many rows and honours on_delete; small tables: administrators); leaf
        # tables get one plain DELETE.
        if _has_incoming_relations(model):
            # Count this table's rows only, not the many-to-many rows that went with them.
            changed = queryset.delete()[1].get(model._meta.label, 0)
        else:
            changed = queryset._raw_delete(queryset.db)
        return changed, erased
    changed = _update(queryset, how.constants) if how.constants else queryset.count()
    for name, purpose in how.pseudonyms.items():
        max_length = model._meta.get_field(name).max_length
        for pk in queryset.values_list("pk", flat=True).iterator():
            _update(base_queryset(model).filter(pk=pk), {name: pseudonym(pk, purpose, max_length)})
    return changed, erased


def _has_incoming_relations(model: type[models.Model]) -> bool:
    return any(
        (rel.one_to_many or rel.one_to_one or rel.many_to_many) and rel.auto_created and not rel.concrete
        for rel in model._meta.get_fields(include_hidden=True)
    )


# --------------------------------------------------------------------------- planning


def chunk_bounds(queryset: models.QuerySet, size: int) -> list[tuple[int, int, int]]:
    """(low, high, rows) key ranges of at most ``size`` rows covering ``queryset``, from
    one ordered pass with ``ROW_NUMBER()`` (no OFFSET, no id list in Python): the key of
    every ``size``-th row starts a range that ends just before the next one starts."""
    inner_sql, params = queryset.order_by().values(anon_key=F("pk")).query.sql_with_params()
    sql = (
        "SELECT k, n, t FROM (SELECT q.k AS k, ROW_NUMBER() OVER (ORDER BY q.k) AS n, COUNT(*) OVER () AS t "
        f"FROM (SELECT inner_q.anon_key AS k FROM ({inner_sql}) inner_q) q) w "
        "WHERE (n - 1) %% %s = 0 OR n = t ORDER BY k"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, size])
        marks = cursor.fetchall()
    starts = [(key, number) for key, number, _total in marks if (number - 1) % size == 0]
    if not starts:
        return []
    last_key, total = marks[-1][0], marks[-1][2]
    bounds = []
    for index, (key, number) in enumerate(starts):
        high = starts[index + 1][0] - 1 if index + 1 < len(starts) else last_key
        bounds.append((key, high, min(size, total - number + 1)))
    return bounds


def create_job(
    kind: str,
    *,
    organization_id: int | None = None,
    subject_id: int | None = None,
    requested_by=None,
    label: str = "",
    not_before=None,
    preview: dict | None = None,
) -> AnonymizationJob:
    return AnonymizationJob.objects.create(
        kind=kind,
        organization_id=organization_id,
        subject_id=subject_id,
        requested_by=requested_by,
        label=label,
        not_before=not_before or timezone.now(),
        preview=preview or {},
        heartbeat_at=None,  # nobody works on it before it is due (``needs_worker``)
    )


# Planners and finishers per job kind, registered by the apps that own the data (from
# their AppConfig.ready): this package imports no app. A kind may have several planners
# (account deletion: each app plans its own tables); the stages are concatenated.
_planners: dict[str, list[Callable[[AnonymizationJob], list[StageSpec]]]] = defaultdict(list)
_finishers: dict[str, list[Callable[[AnonymizationJob], None]]] = defaultdict(list)


def register_kind(
    kind: str,
    planner: Callable[[AnonymizationJob], list[StageSpec]] | None = None,
    finisher: Callable[[AnonymizationJob], None] | None = None,
) -> None:
    if planner is not None and planner not in _planners[kind]:
        _planners[kind].append(planner)
    if finisher is not None and finisher not in _finishers[kind]:
        _finishers[kind].append(finisher)


def stages_for(job: AnonymizationJob) -> list[StageSpec]:
    if not _planners[job.kind]:
        raise ValueError(f"no planner for {job.kind!r} jobs")
    specs = [spec for planner in _planners[job.kind] for spec in planner(job)]
    return sorted(specs, key=lambda spec: spec.phase)


def count_stages(specs: Iterable[StageSpec]) -> list[dict]:
    """Rows each stage would touch, for the preview the owner confirms."""
    rows = []
    for spec in specs:
        model = model_of(spec.model)
        rows.append(
            {
                "model": spec.model,
                "name": str(model._meta.verbose_name_plural),
                "action": spec.action or default_action(model),
                "rows": lookup_queryset(
                    model, spec.lookup, action=spec.action or "", extra=spec.extra, only=spec.only
                ).count(),
            }
        )
    return rows


def plan(job: AnonymizationJob, specs: list[StageSpec]) -> None:
    """Write the stages and chunks of ``job`` (inside the caller's transaction)."""
    size = settings.ANONYMIZATION_CHUNK_ROWS
    chunks = []
    stages = []
    for position, spec in enumerate(specs):
        model = model_of(spec.model)
        action = spec.action or default_action(model)
        treatment(model, spec.extra, spec.only)  # fail now on a declaration the engine cannot apply
        stage = AnonymizationStage.objects.create(
            job=job, position=position, phase=spec.phase, model_label=spec.model, action=action,
            lookup=spec.lookup, extra=spec.extra, only=list(spec.only),
        )  # fmt: skip
        total = 0
        for low, high, rows in chunk_bounds(stage_queryset(stage), size):
            chunks.append(AnonymizationChunk(job=job, stage=stage, phase=spec.phase, low=low, high=high, planned=rows))
            total += rows
        stage.total = total
        stage.save(update_fields=["total"])
        stages.append(stage)
    AnonymizationChunk.objects.bulk_create(chunks, batch_size=1000)
    kept = kept_values(stages)
    copies = find_copies(stages, kept)
    fingerprint = crypto.keyed_fingerprinter(FINGERPRINT_PURPOSE)
    AnonymizationFingerprints.objects.update_or_create(
        job=job, defaults={"digests": b"".join(sorted(fingerprint(v) for v in copies)), "values": len(kept)}
    )


# --------------------------------------------------------------------------- value scan
#
# ANON-7 asks for proof that none of the subject's original values is left. The
# conformance check proves it for every column declared personal. The value scan covers
# the rest: a column declared non-personal (kept as it is) that holds a copy of a name,
# number, email or address. When the job is planned, the distinct values of the kept
# free-text columns on the rows the cascade covers (few: an organization's name, a token's
# label, ...) are compared in SQL with every original personal free-text value (one scan
# per table, no value leaves the database); the copies found are remembered as keyed
# digests. Verification reads the kept columns again and reports each copy still there.


def _free_text(model_field) -> bool:
    """Columns that can hold a copy of a name, number, email or address as typed:
    ciphertext never equals a value, and choice columns hold codes."""
    return (
        isinstance(model_field, (models.CharField, models.TextField))
        and not isinstance(model_field, EncryptedTextField)
        and not model_field.choices
        and not model_field.primary_key
    )


def _normalized(value) -> str | None:
    # ``lower`` (not ``casefold``) so Python and SQL's LOWER(TRIM(...)) agree.
    text = str(value).strip().lower()
    if len(text) < FINGERPRINT_MIN_LENGTH or _DIGEST.fullmatch(text):
        return None  # too short to identify anyone, or a digest the portal computed
    return text


_DIGEST = re.compile(r"[0-9a-f]{32,}")


def fingerprinted_columns(stage: AnonymizationStage) -> list[str]:
    """The personal free-text columns whose original values a stage removes."""
    model = model_of(stage.model_label)
    declaration = declaration_for(model)
    held = set(treatment(model, stage.extra, stage.only).held)
    return [
        name
        for name in declaration.fields
        if name not in held
        and (not stage.only or name in stage.only)
        and model._meta.get_field(name).concrete
        and _free_text(model._meta.get_field(name))
    ]


def scanned_columns(stage: AnonymizationStage) -> list[str]:
    """The free-text columns a stage leaves as they are (declared non-personal)."""
    if stage.action == StageAction.DELETE:
        return []
    model = model_of(stage.model_label)
    declared = declaration_for(model).fields
    return [f.name for f in model._meta.concrete_fields if f.name not in declared and _free_text(f)]


def _kept_values_by_column(scanned: Iterable[tuple[AnonymizationStage, list[str]]]):
    """(stage, column, value, normalized) for each distinct kept value; ``scanned``
    pairs each stage with its ``scanned_columns``."""
    for stage, names in scanned:
        for name in names:
            values = stage_queryset(stage).exclude(**{f"{name}__isnull": True}).order_by().values_list(name, flat=True)
            for value in values.distinct().iterator(chunk_size=5000):
                text = _normalized(value)
                if text:
                    yield stage, name, value, text


def kept_values(stages: Iterable[AnonymizationStage]) -> set[str]:
    """Distinct normalized values of the kept free-text columns on the covered rows,
    minus the constants the cascade writes on purpose."""
    stages = list(stages)
    written = {
        text
        for stage in stages
        for value in treatment(model_of(stage.model_label), stage.extra, stage.only).constants.values()
        if isinstance(value, str) and (text := _normalized(value))
    }
    scanned = ((stage, scanned_columns(stage)) for stage in stages)
    return {text for _stage, _name, _value, text in _kept_values_by_column(scanned)} - written


def find_copies(stages: Iterable[AnonymizationStage], kept: set[str], batch: int = 500) -> set[str]:
    """The kept values that are also an original personal value somewhere in the
    cascade: per table one scan comparing every personal free-text column with them."""
    if not kept:
        return set()
    candidates = sorted(kept)
    copies: set[str] = set()
    for stage in stages:
        columns = fingerprinted_columns(stage)
        if not columns:
            continue
        lowered = {f"_scan{i}": Lower(Trim(name)) for i, name in enumerate(columns)}
        queryset = stage_queryset(stage).order_by().annotate(**lowered)
        for start in range(0, len(candidates), batch):
            part = candidates[start : start + batch]
            condition = reduce(or_, (Q(**{f"{alias}__in": part}) for alias in lowered))
            for row in queryset.filter(condition).values_list(*lowered).distinct():
                copies.update(text for value in row if value is not None and (text := _normalized(value)) in kept)
    return copies


def _stored_copies(job: AnonymizationJob) -> tuple[frozenset[bytes], int] | None:
    row = AnonymizationFingerprints.objects.filter(job=job).values_list("digests", "values").first()
    if row is None:
        return None
    blob = bytes(row[0])
    return frozenset(blob[i : i + 8] for i in range(0, len(blob), 8)), row[1]


def scan_values(job: AnonymizationJob, stages: Iterable[AnonymizationStage]) -> dict:
    """ANON-7: the kept columns of the covered rows, read again after the cascade; each
    copy of an original personal value still there is reported as a column and a count."""
    stored = _stored_copies(job)
    if stored is None:
        return {"values": 0, "columns": 0, "matches": [], "skipped": True}
    copies, compared = stored
    scanned = [(stage, scanned_columns(stage)) for stage in stages]
    fingerprint = crypto.keyed_fingerprinter(FINGERPRINT_PURPOSE)
    found: dict[tuple[AnonymizationStage, str], list] = defaultdict(list)
    if copies:
        for stage, name, value, text in _kept_values_by_column(scanned):
            if fingerprint(text) in copies:
                found[(stage, name)].append(value)
    matches = [
        {
            "model": stage.model_label,
            "field": name,
            "rows": stage_queryset(stage).filter(**{f"{name}__in": values}).count(),
        }
        for (stage, name), values in found.items()
    ]
    columns = sum(len(names) for _stage, names in scanned)
    return {"values": compared, "columns": columns, "matches": matches}


# --------------------------------------------------------------------------- driving
#
# Liveness (``dataprotection.liveness``): a driver beats the job's heartbeat (and the
# chunk it holds) from a thread while it works. A chunk whose heartbeat is stale is taken
# over by the next claim; the steps one worker does alone (planning, verifying) are
# claimed on the job's ``worker`` and taken over the same way. Every write that finishes
# a step is conditioned on the claim, so two drivers never both apply a chunk or both
# complete a job. A lost database connection is waited out inside the driver and the
# chunk it held given back with its attempt.


def _step_claim(job_id: int, status: str, token: str) -> bool:
    """Claim a step one worker does alone (planning a scheduled job, verifying) by
    compare-and-set on ``worker``: free, or held by a worker that stopped beating. Taking
    the step over from such a worker counts a failed attempt, so that a plan or a
    verification that kills its worker every time ends (failed) at the attempt cap."""
    now = timezone.now()
    job = AnonymizationJob.objects.filter(pk=job_id, status=status)
    if job.filter(worker="").update(worker=token, heartbeat_at=now):
        return True
    taken = (
        job.exclude(worker="")
        .filter(liveness.no_live_worker(now))
        .update(
            worker=token,
            heartbeat_at=now,
            attempts=F("attempts") + 1,
            last_error=f"the worker {status} this job stopped (no heartbeat); taken over",
        )
    )
    if not taken:
        return False
    if AnonymizationJob.objects.filter(pk=job_id, worker=token, attempts__gte=MAX_JOB_ATTEMPTS).update(
        status=JobStatus.FAILED, finished_at=now, worker=""
    ):
        logger.error("anonymization job %s failed: its workers kept stopping while %s", job_id, status)
        return False
    return True


def _release_step(job_id: int, token: str) -> None:
    AnonymizationJob.objects.filter(pk=job_id, worker=token).update(worker="")


def start(job_id: int, token: str | None = None) -> bool:
    """Plan a due scheduled job and mark it running. The planning is claimed first
    (``_step_claim``, committed, so the sweep sees a live planner), then the stages and
    chunks are written and the job moved to running in one transaction that commits only
    while the claim holds. False when the job is not scheduled, not due, or another
    worker is planning it."""
    token = token or liveness.worker_token()
    job = AnonymizationJob.objects.filter(pk=job_id).first()
    if job is None or job.status != JobStatus.SCHEDULED or job.not_before > timezone.now():
        return False
    if not _step_claim(job_id, JobStatus.SCHEDULED, token):
        return False
    try:
        with transaction.atomic():
            plan(job, stages_for(job))
            liveness.checkpoint("anonymization.planning")
            now = timezone.now()
            started = AnonymizationJob.objects.filter(pk=job_id, status=JobStatus.SCHEDULED, worker=token).update(
                status=JobStatus.RUNNING, started_at=now, heartbeat_at=now, worker=""
            )
            if not started:  # taken over meanwhile: the other planner's plan counts
                transaction.set_rollback(True)
                return False
    except Exception as exc:  # the plan rolled back: the job is still scheduled
        if liveness.is_database_outage(exc):
            raise  # not the plan's fault: the driver waits for the database
        _release_step(job_id, token)
        _attempt_failed(job_id, f"planning failed: {type(exc).__name__}: {exc}")
        return False
    return True


def _attempt_failed(job_id: int, error: str) -> None:
    """Count a failed attempt at a job step (planning, verifying) and fail the job once
    it has had ``MAX_JOB_ATTEMPTS``: the sweep retries it until then, never forever, and
    a job that fails is never marked done."""
    logger.warning("anonymization job %s: %s", job_id, error)
    AnonymizationJob.objects.filter(pk=job_id).update(attempts=F("attempts") + 1, last_error=error[:4000])
    AnonymizationJob.objects.filter(
        pk=job_id,
        attempts__gte=MAX_JOB_ATTEMPTS,
        status__in=LIVE_JOB_STATUSES,
    ).update(status=JobStatus.FAILED, finished_at=timezone.now())


def _claim(job_id: int, stages: dict[int, AnonymizationStage] | None = None) -> AnonymizationChunk | None:
    """Take the next chunk of the lowest unfinished phase: a pending one, or a running
    one whose heartbeat is stale (its worker died). One read and one compare-and-set,
    committed at once; ``stages`` caches the job's stage rows between claims."""
    now = timezone.now()
    lowest_open_phase = (
        AnonymizationChunk.objects.filter(job_id=job_id)
        .exclude(status=ChunkStatus.DONE)
        .order_by()
        .values("job_id")
        .annotate(phase=models.Min("phase"))
        .values("phase")
    )
    candidates = (
        AnonymizationChunk.objects.filter(job_id=job_id, phase=models.Subquery(lowest_open_phase))
        .filter(Q(status=ChunkStatus.PENDING) | Q(status=ChunkStatus.RUNNING) & liveness.no_live_worker(now))
        .order_by("id")
        .values_list("id", "status", "claim", "stage_id", "phase", "low", "high", "planned", "attempts")[:8]
    )
    for chunk_id, status, old_claim, stage_id, phase, low, high, planned, attempts in candidates:
        token = secrets.token_hex(8)
        claimed = AnonymizationChunk.objects.filter(pk=chunk_id, status=status, claim=old_claim).update(
            status=ChunkStatus.RUNNING, claim=token, heartbeat_at=now, attempts=F("attempts") + 1
        )
        if not claimed:
            continue  # another worker was faster: try the next candidate
        if stages is None:
            stages = {}
        if stage_id not in stages:
            stages.update({stage.pk: stage for stage in AnonymizationStage.objects.filter(job_id=job_id)})
        chunk = AnonymizationChunk(
            pk=chunk_id,
            job_id=job_id,
            stage_id=stage_id,
            phase=phase,
            low=low,
            high=high,
            planned=planned,
            status=ChunkStatus.RUNNING,
            claim=token,
            attempts=attempts + 1,
        )
        chunk.stage = stages[stage_id]
        return chunk
    return None


def _run_chunk(chunk: AnonymizationChunk) -> bool:
    """Apply a claimed chunk and mark it done, in one transaction. False if the claim
    was lost (its heartbeat went stale and another worker took the chunk): then nothing
    of this transaction is kept, neither the rows nor the counters."""
    with transaction.atomic():
        changed, erased = apply_range(chunk.stage, chunk.low, chunk.high)
        liveness.checkpoint("anonymization.chunk")
        now = timezone.now()
        done = AnonymizationChunk.objects.filter(pk=chunk.pk, claim=chunk.claim, status=ChunkStatus.RUNNING).update(
            status=ChunkStatus.DONE, rows=changed, done_at=now, heartbeat_at=None
        )
        if not done:
            transaction.set_rollback(True)
            return False
        AnonymizationStage.objects.filter(pk=chunk.stage_id).update(
            processed=F("processed") + chunk.planned,
            changed=F("changed") + changed,
            files_erased=F("files_erased") + erased,
        )
    return True


def _chunk_failed(chunk: AnonymizationChunk, error: str) -> None:
    """Give the chunk back (or fail the job once the chunk has used its attempts)."""
    AnonymizationChunk.objects.filter(pk=chunk.pk, claim=chunk.claim).update(
        status=ChunkStatus.PENDING, claim="", heartbeat_at=None, last_error=error[:2000]
    )
    if chunk.attempts >= MAX_CHUNK_ATTEMPTS:
        fail(chunk.job_id, f"chunk {chunk.pk} of {chunk.stage.model_label} failed {chunk.attempts} times: {error}")


def fail(job_id: int, error: str) -> None:
    AnonymizationJob.objects.filter(pk=job_id, status__in=[JobStatus.RUNNING, JobStatus.VERIFYING]).update(
        status=JobStatus.FAILED, last_error=error[:4000], finished_at=timezone.now(), worker=""
    )
    logger.error("anonymization job %s failed: %s", job_id, error)


def _status(job_id: int) -> str | None:
    return AnonymizationJob.objects.filter(pk=job_id).values_list("status", flat=True).first()


def drive(job_id: int, budget_seconds: float | None = None) -> str:
    """Work on a job until it is finished or ``budget_seconds`` have passed.

    Returns ``"finished"`` (completed, failed or cancelled), ``"waiting"`` (not due, or
    another worker holds the step or the remaining chunks), or ``"more"`` (budget used
    up, work left: the caller enqueues another drive). While it works, a thread beats the
    job's heartbeat and the held chunk's. When the database goes away the driver waits
    for it (``liveness.outage_tolerant``), gives the chunk and the step it held back with
    their attempts, and goes on.
    """
    budget = settings.ANONYMIZATION_TASK_BUDGET_SECONDS if budget_seconds is None else budget_seconds
    deadline = time.monotonic() + budget
    token = liveness.worker_token()
    held: dict[str, AnonymizationChunk | None] = {"chunk": None}

    def beat(now) -> int:
        # Any driver of a running job keeps it alive; a scheduled or verifying job only
        # its planner or verifier (the one holding the step), so that a dead one shows.
        beaten = (
            AnonymizationJob.objects.filter(pk=job_id)
            .filter(Q(status=JobStatus.RUNNING) | Q(worker=token))
            .update(heartbeat_at=now)
        )
        chunk = held["chunk"]
        if chunk is not None:
            AnonymizationChunk.objects.filter(pk=chunk.pk, claim=chunk.claim, status=ChunkStatus.RUNNING).update(
                heartbeat_at=now
            )
        return beaten

    def give_back() -> None:
        # An outage is nobody's failure: the chunk goes back with its attempt.
        chunk, held["chunk"] = held["chunk"], None
        if chunk is not None:
            AnonymizationChunk.objects.filter(pk=chunk.pk, claim=chunk.claim, status=ChunkStatus.RUNNING).update(
                status=ChunkStatus.PENDING, claim="", heartbeat_at=None, attempts=F("attempts") - 1
            )
        _release_step(job_id, token)

    with liveness.heartbeat(beat):
        return liveness.outage_tolerant(
            lambda: _drive(job_id, deadline, token, held),
            recover=give_back,
            what=f"anonymization job {job_id}",
        )


def _drive(job_id: int, deadline: float, token: str, held: dict) -> str:
    stages: dict[int, AnonymizationStage] = {}
    status_checked = 0.0
    status = None
    while True:
        # Between chunks the job's status is read at most once a second (a failure or
        # completion by another worker stops this one), not once per chunk.
        if status != JobStatus.RUNNING or time.monotonic() - status_checked >= 1:
            status, status_checked = _status(job_id), time.monotonic()
        if status is None or status in {JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED}:
            return "finished"
        if status == JobStatus.SCHEDULED:
            if not start(job_id, token) and _status(job_id) == JobStatus.SCHEDULED:
                return "waiting"
            status = None
            continue
        if status == JobStatus.VERIFYING:
            if finish(job_id, token) or _status(job_id) == JobStatus.RUNNING:
                status = None
                continue  # finished, or a sweep-up pass was planned
            return "waiting"  # another worker is verifying
        chunk = _claim(job_id, stages)
        if chunk is None:
            if AnonymizationChunk.objects.filter(job_id=job_id).exclude(status=ChunkStatus.DONE).exists():
                return "waiting"  # the remaining chunks are held by other workers
            if finish(job_id, token) or _status(job_id) == JobStatus.RUNNING:
                status = None
                continue
            return "waiting"
        if chunk.attempts > MAX_CHUNK_ATTEMPTS:
            # Its workers keep dying (a poison range): stop instead of looping forever.
            fail(job_id, f"chunk {chunk.pk} of {chunk.stage.model_label} was attempted {chunk.attempts} times")
            return "finished"
        held["chunk"] = chunk
        try:
            _run_chunk(chunk)
        except Exception as exc:  # recorded on the chunk, retried by the next claim
            if liveness.is_database_outage(exc):
                raise  # ``drive`` waits for the database and gives the chunk back
            logger.warning("anonymization chunk %s failed: %s", chunk.pk, exc)
            _chunk_failed(chunk, f"{type(exc).__name__}: {exc}")
            status = None
        held["chunk"] = None
        if time.monotonic() >= deadline:
            return "more"


# --------------------------------------------------------------------------- verifying


def finish(job_id: int, token: str | None = None) -> bool:
    """Verify a job whose chunks are all done and complete it (ANON-7). The running ->
    verifying step is a compare-and-set that also claims the verification; a worker that
    dies while verifying leaves the job ``verifying`` with a stale heartbeat, and the next
    driver the sweep sends takes the verification over (``_step_claim``)."""
    token = token or liveness.worker_token()
    took = AnonymizationJob.objects.filter(pk=job_id, status=JobStatus.RUNNING).update(
        status=JobStatus.VERIFYING, heartbeat_at=timezone.now(), worker=token
    )
    if not took and not _step_claim(job_id, JobStatus.VERIFYING, token):
        return False
    liveness.checkpoint("anonymization.verifying")
    job = AnonymizationJob.objects.get(pk=job_id)
    try:
        return _verify_and_complete(job, token)
    except Exception as exc:  # stays verifying; the sweep sends a driver to verify again
        if liveness.is_database_outage(exc):
            raise  # not the verification's fault: the driver waits for the database
        _release_step(job_id, token)
        _attempt_failed(job_id, f"verification failed: {type(exc).__name__}: {exc}")
        return False


def _verify_and_complete(job: AnonymizationJob, token: str) -> bool:
    """Verify, then in one transaction that holds the job row (and only while this
    worker's claim holds): complete it and run the kind's finishers, or plan a sweep-up
    pass, or fail it. Returns whether the job finished."""
    job_id = job.pk
    report = verify(job)
    with transaction.atomic():
        # The row lock keeps a takeover out until this commits; without the claim the
        # verification belongs to another worker now, and this one writes nothing.
        mine = AnonymizationJob.objects.select_for_update().filter(pk=job_id, status=JobStatus.VERIFYING, worker=token)
        if not mine.exists():
            return False
        if report["verified"]:
            for finisher in _finishers[job.kind]:
                finisher(job)
            mine.update(status=JobStatus.COMPLETED, finished_at=timezone.now(), report=report, worker="")
            # The digests served their one purpose; they are data about the subjects.
            AnonymizationFingerprints.objects.filter(job_id=job_id).delete()
        elif job.attempts < MAX_JOB_ATTEMPTS and not report["value_scan"]["matches"] and _plan_sweep_up(job):
            # Rows that appeared or changed after planning: one more pass over them.
            mine.update(
                status=JobStatus.RUNNING,
                attempts=F("attempts") + 1,
                heartbeat_at=timezone.now(),
                report=report,
                worker="",
            )
            return False
        else:
            mine.update(
                status=JobStatus.FAILED,
                finished_at=timezone.now(),
                report=report,
                worker="",
                last_error=(
                    "verification found original personal values in columns declared non-personal: "
                    + ", ".join(f"{m['model']}.{m['field']}" for m in report["value_scan"]["matches"])
                    if report["value_scan"]["matches"]
                    else "verification found personal data left after the cascade"
                ),
            )
    return True


def _leftover(stage: AnonymizationStage) -> models.QuerySet:
    queryset = stage_queryset(stage)
    if stage.action == StageAction.DELETE:
        return queryset
    model = model_of(stage.model_label)
    condition = residue_filter(model, treatment(model, stage.extra, stage.only))
    return queryset.filter(condition) if condition is not None else queryset.none()


def _plan_sweep_up(job: AnonymizationJob) -> bool:
    """New chunks over the rows verification found (inside the caller's transaction)."""
    size = settings.ANONYMIZATION_CHUNK_ROWS
    planned = False
    for stage in job.stages.all():
        bounds = chunk_bounds(_leftover(stage), size)
        if not bounds:
            continue
        AnonymizationChunk.objects.bulk_create(
            AnonymizationChunk(job=job, stage=stage, phase=stage.phase, low=low, high=high, planned=rows)
            for low, high, rows in bounds
        )
        AnonymizationStage.objects.filter(pk=stage.pk).update(total=F("total") + sum(b[2] for b in bounds))
        planned = True
    return planned


def residue_filter(model: type[models.Model], how: Treatment) -> Q | None:
    """Rows whose personal columns hold anything but their anonymized values."""
    conditions = []
    for name, value in how.constants.items():
        model_field = model._meta.get_field(name)
        not_null = Q(**{f"{model_field.name}__isnull": False})
        conditions.append(not_null if value is None else not_null & ~Q(**{name: value}))
    for name in how.pseudonyms:
        conditions.append(~Q(**{f"{name}__startswith": "~"}))
    return reduce(or_, conditions) if conditions else None


def verify(job: AnonymizationJob) -> dict:
    """The deletion report: per stage, rows planned, rows changed, files erased, and
    what the scan of the live table still finds (must be zero)."""
    stages = []
    left_total = 0
    job_stages = list(job.stages.order_by("position"))
    for stage in job_stages:
        model = model_of(stage.model_label)
        how = treatment(model, stage.extra, stage.only)
        left = _leftover(stage).count()
        left_total += left
        stages.append(
            {
                "model": stage.model_label,
                "name": str(model._meta.verbose_name_plural),
                "action": stage.action,
                "planned": stage.total,
                "changed": stage.changed,
                "files_erased": stage.files_erased,
                "held_fields": list(how.held),
                "left": left,
            }
        )
    value_scan = scan_values(job, job_stages)
    return {
        "verified": left_total == 0 and not value_scan["matches"],
        "verified_at": timezone.now().isoformat(),
        "rows_left": left_total,
        "stages": stages,
        "value_scan": value_scan,
    }


# --------------------------------------------------------------------------- reading


def localized_report(report: dict | None) -> dict:
    """The deletion report as the reader should see it: a worker wrote each stage's
    table name in its own language, so the names are given again in the active one."""
    report = dict(report or {})
    if report.get("stages"):
        report["stages"] = [{**stage, "name": _table_name(stage)} for stage in report["stages"]]
    return report


def _table_name(stage: dict) -> str:
    try:
        return str(model_of(stage["model"])._meta.verbose_name_plural)
    except (KeyError, LookupError, ValueError):
        return stage.get("name") or stage.get("model", "")


def progress(job: AnonymizationJob) -> dict:
    """Processed of total per stage and overall, for progress bars (one query)."""
    rows = list(job.stages.order_by("position").values("model_label", "action", "phase", "total", "processed"))
    total = sum(row["total"] for row in rows)
    processed = sum(row["processed"] for row in rows)
    current = next((row for row in rows if row["processed"] < row["total"]), None)
    for row in rows:
        row["name"] = str(model_of(row["model_label"])._meta.verbose_name_plural)
    return {
        "status": job.status,
        "total": total,
        "processed": processed,
        "percent": 100 if job.status == JobStatus.COMPLETED else (int(processed * 100 / total) if total else 0),
        "current_stage": current["name"] if current and job.status == JobStatus.RUNNING else "",
        "stages": rows,
        "errors": job.last_error,
    }


def needs_worker(now=None) -> models.QuerySet:
    """Jobs that should be driven now and have no live driver (the recovery sweep's
    query, ``dataprotection.liveness``): scheduled, running or verifying, due for
    longer than ``JOB_STALE_SECONDS`` and with a heartbeat older than that -- their
    grace window ended, their workers died or their messages were lost. (A job that has
    just become due, or was just started, has its first driver's message on its way.)"""
    now = now or timezone.now()
    return AnonymizationJob.objects.filter(
        status__in=LIVE_JOB_STATUSES, not_before__lt=liveness.stale_before(now)
    ).filter(liveness.no_live_worker(now))


def waiting_since(job: AnonymizationJob, now=None):
    """Since when a job that should be running has had no live driver (``None`` while
    one works on it, and for jobs not due or over)."""
    now = now or timezone.now()
    if job.status not in LIVE_JOB_STATUSES or job.not_before > now:
        return None
    return liveness.waiting_since(job.heartbeat_at, now=now, not_before=job.not_before)


def plan_audit_trail_of_subject(job: AnonymizationJob) -> list[StageSpec]:
    """Account deletion: the events about the person, up to the start of the cascade
    (later events are about the cascade and name no one). Events the person caused as
    an actor lose the link when the account row goes (``on_delete=SET_NULL``)."""
    from dataprotection.models import AuditEvent

    last_event = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    return [StageSpec(AuditEvent._meta.label, {"subject_user_id": job.subject_id, "pk__lte": last_event}, phase=0)]


# --------------------------------------------------------------------------- retention (ANON-4, ANON-5)


def months_before(moment, months: int):
    """The same wall-clock moment ``months`` calendar months earlier (the day clipped to
    the month's length): a hold of "six months" is six calendar months, never 180 days."""
    import calendar

    month_index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(month_index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def plan_ended_holds(job: AnonymizationJob) -> list[StageSpec]:
    """ANON-4: every value kept under a legal hold whose period has run out (counted
    from the field the declaration names) gets the policy that follows the hold."""
    now = timezone.now()
    specs = []
    for model in sorted(declared_models(), key=lambda m: m._meta.label):
        for name, policy in declaration_for(model).fields.items():
            if policy.strategy is not Strategy.LEGAL_HOLD:
                continue
            since_field = model._meta.get_field(policy.since)
            cutoff = months_before(now, policy.hold.months)
            if not isinstance(since_field, models.DateTimeField):
                cutoff = cutoff.date()
            lookup: dict = {f"{policy.since}__lt": cutoff.isoformat()}
            if policy.after.strategy is Strategy.SET_NULL:
                lookup[f"{name}__isnull"] = False
            else:
                lookup["__exclude__"] = {name: policy.after.value}
            specs.append(StageSpec(model._meta.label, lookup, action=StageAction.ANONYMIZE, only=(name,)))
    return specs


def start_retention_sweep() -> AnonymizationJob | None:
    """The daily sweep (ANON-4, ANON-5): one retention job at a time, planned from every
    registered retention planner when it starts. ``None`` while one is still live."""
    if AnonymizationJob.objects.filter(kind=JobKind.RETENTION, status__in=LIVE_JOB_STATUSES).exists():
        return None
    return create_job(JobKind.RETENTION, label="retention sweep")
