"""The handlers' side of data-subject requests (REQ-4 to REQ-6): routing, the state
machine, pauses, extensions, refusals, completion, assignment and notes.

Every write here is atomic, locks the request row first (two handlers acting at once see
each other's result, never a lost update), appends one ``RequestEvent`` and writes one
audit event. None of these functions checks who the actor is: callers go through the
permission gate (organization pages) or the staff permissions (the console) first.
"""

from __future__ import annotations

from datetime import date, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from accounts.services.sms import queue_sms
from dataprotection import deferred_text
from dataprotection.audit import record_event
from dataprotection.deferred_text import DeferredText, deferred
from organizations.models import (
    AdministratorRole,
    Edition,
    Member,
    MemberStatus,
    Organization,
    OrganizationStatus,
    OrganizationUserObjectPermission,
    Right,
)
from requests.models import (
    CLOSED_STATUSES,
    OPEN_STATUSES,
    DataSubjectRequest,
    EventKind,
    RefusalGround,
    RequestEvent,
    RequestKind,
    RequestStatus,
)
from requests.services import deadlines

S = RequestStatus

# The longest texts a handler writes on a request: a note or message, the reason of a
# pause or an extension, the explanation of a refusal and the answer. Forms and
# serializers use the same numbers; the services enforce them.
NOTE_MAX_LENGTH = 4000
REASON_MAX_LENGTH = 2000
ANSWER_MAX_LENGTH = 4000

# REQ-6: the state machine. A status not listed as a key (completed, refused,
# withdrawn) is final. Leaving ``paused`` restarts the clock (the due date moves by the
# days paused); entering a closed status sets ``closed_at``.
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    S.RECEIVED: frozenset({S.VERIFYING, S.IN_PROGRESS, S.PAUSED, S.EXTENDED, S.COMPLETED, S.REFUSED, S.WITHDRAWN}),
    S.VERIFYING: frozenset({S.RECEIVED, S.IN_PROGRESS, S.REFUSED, S.WITHDRAWN}),
    S.IN_PROGRESS: frozenset({S.PAUSED, S.EXTENDED, S.COMPLETED, S.REFUSED, S.WITHDRAWN}),
    S.PAUSED: frozenset({S.IN_PROGRESS, S.REFUSED, S.WITHDRAWN}),
    S.EXTENDED: frozenset({S.IN_PROGRESS, S.PAUSED, S.COMPLETED, S.REFUSED, S.WITHDRAWN}),
    S.COMPLETED: frozenset(),
    S.REFUSED: frozenset(),
    S.WITHDRAWN: frozenset(),
}

# Statuses that need more than a status change: they go through their own function,
# which records what the law asks for (a reason, a ground).
_DEDICATED_FUNCTIONS = {
    S.PAUSED: "pause_request",
    S.EXTENDED: "extend_request",
    S.REFUSED: "refuse_request",
}


def can_transition(from_status: str, to_status: str) -> bool:
    return to_status in ALLOWED_TRANSITIONS.get(from_status, frozenset())


# --------------------------------------------------------------------------- REQ-5


def route(subject, kind: str, *, member: Member | None = None, field: str = "") -> Organization | None:
    """REQ-5: who answers a request. About a roster entry: that entry's organization
    (the controller of organization-control data). A correction or supplement of the
    person's profile while they belong to a dedicated-edition organization: that
    organization, which provides their basic information (ACC-6). Anything else: None,
    operations staff."""
    if member is not None:
        return member.organization
    if kind in (RequestKind.CORRECTION, RequestKind.SUPPLEMENT) and subject is not None:
        # Several dedicated-edition memberships are rare; the first by name is stable.
        return (
            Organization.objects.filter(
                edition=Edition.DEDICATED,
                status=OrganizationStatus.ACTIVE,
                members__user=subject,
                members__status__in=[MemberStatus.ACTIVE, MemberStatus.INVITED],
            )
            .order_by("name", "pk")
            .first()
        )
    return None


# --------------------------------------------------------------------------- helpers


def _lock(request: DataSubjectRequest) -> DataSubjectRequest:
    """The row as it is now, locked until the transaction ends."""
    return DataSubjectRequest.objects.select_for_update().get(pk=request.pk)


def _save(request: DataSubjectRequest, locked: DataSubjectRequest, fields: list[str]) -> None:
    locked.save(update_fields=fields)
    # The caller's instance reflects what was written (it may have been stale).
    for name in {*fields, "status"}:
        setattr(request, name, getattr(locked, name))


def audit_request(action: str, request: DataSubjectRequest, *, actor, ip=None, changes=(), **metadata) -> None:
    """The audit event of an action on a request: about its subject, in its
    organization's trail, with its reference (and ``metadata``)."""
    record_event(
        action,
        actor=actor,
        subject=request.subject,
        target=request,
        organization=request.organization_id,
        ip=ip,
        changes=changes,
        metadata={"reference": request.reference, **metadata},
    )


def _require_text(value: str | DeferredText, message: str, *, max_length: int) -> str | DeferredText:
    if isinstance(value, DeferredText):  # written by the portal, never empty
        return value
    value = (value or "").strip()
    if not value:
        raise ValidationError(message, code="required")
    _check_length(value, max_length)
    return value


def _check_length(value: str, max_length: int) -> None:
    """The text limits hold whichever channel the text came through (the organization's
    pages, the console, the API or a direct call): refused before anything is written."""
    if len(value) > max_length:
        raise ValidationError(
            _("This text is too long: write at most %(limit)d characters (it has %(length)d).")
            % {"limit": max_length, "length": len(value)},
            code="too_long",
        )


def _check_transition(locked: DataSubjectRequest, to_status: str) -> None:
    if to_status not in S.values:
        raise ValidationError(_("Unknown status: %(status)s.") % {"status": to_status})
    if not can_transition(locked.status, to_status):
        raise ValidationError(
            _("A request that is %(current)s cannot become %(target)s.")
            % {"current": S(locked.status).label, "target": S(to_status).label}
        )


def _move(locked: DataSubjectRequest, to_status: str, now) -> list[str]:
    """Apply a checked transition to the locked row; returns the changed fields."""
    changed = ["status"]
    if locked.status == S.PAUSED and locked.paused_since is not None:
        # REQ-4: the clock was stopped; the due date moves by the time it stood still.
        calendar = (
            deadlines.HolidayCalendar.load(locked.jurisdiction)
            if deadlines.counts_working_days(locked.jurisdiction)
            else deadlines.WEEKDAYS
        )
        days = deadlines.paused_days_between(
            deadlines.local_date(locked.paused_since),
            deadlines.local_date(now),
            locked.jurisdiction,
            calendar=calendar,
        )
        locked.paused_days += days
        locked.due_on = deadlines.due_on_after_pause(locked.due_on, days, locked.jurisdiction, calendar=calendar)
        locked.paused_since = None
        changed += ["paused_days", "due_on", "paused_since"]
    if to_status == S.PAUSED:
        locked.paused_since = now
        changed.append("paused_since")
    if to_status in CLOSED_STATUSES:
        locked.closed_at = now
        changed.append("closed_at")
    locked.status = to_status
    return sorted(set(changed))


def _transition(
    request: DataSubjectRequest,
    to_status: str,
    *,
    actor,
    text: str | DeferredText,
    internal: bool,
    ip,
    action: str,
    extra: dict | None = None,
    check=None,
    metadata: dict | None = None,
) -> RequestEvent:
    now = timezone.now()
    locked = _lock(request)
    _check_transition(locked, to_status)
    if check is not None:
        check(locked)
    from_status = locked.status
    changed = _move(locked, to_status, now)
    for name, value in (extra or {}).items():
        setattr(locked, name, value)
        changed.append(name)
    _save(request, locked, sorted(set(changed)))
    free_text, message = deferred_text.as_columns(text)
    event = RequestEvent.objects.create(
        request=locked,
        kind=EventKind.TRANSITION,
        at=now,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        from_status=from_status,
        to_status=to_status,
        text=free_text,
        message=message,
        internal=internal,
    )
    audit_request(
        action,
        locked,
        actor=actor,
        ip=ip,
        changes=[c for c in changed if c != "status"] + ["status"],
        **{"from": from_status, "to": to_status, **(metadata or {})},
    )
    if not internal and to_status in PERSON_IS_TOLD:
        _tell_person(locked, to_status)
    return event


# The answers the person hears of without having to look (REQ-6: the requester gets
# the reason of a refusal; REQ-4: a pause or an extension of the clock).
PERSON_IS_TOLD = frozenset({S.PAUSED, S.EXTENDED, S.COMPLETED, S.REFUSED})


def _tell_person(request: DataSubjectRequest, to_status: str) -> None:
    """An SMS naming only the reference and the new status, in the person's language:
    the reason or the answer itself stays behind their sign-in, on the request page."""
    subject = request.subject
    if subject is None or not subject.is_active:
        return
    with translation.override(subject.preferred_language or settings.LANGUAGE_CODE):
        queue_sms(
            subject.phone,
            _("Custodia: your data-subject request %(reference)s is now %(status)s. Read why under My requests.")
            % {"reference": request.reference, "status": S(to_status).label},
        )


# --------------------------------------------------------------------------- REQ-6


@transaction.atomic
def transition(
    request: DataSubjectRequest,
    to_status: str,
    *,
    actor,
    text: str | DeferredText = "",
    internal: bool = False,
    ip=None,
) -> RequestEvent:
    """REQ-6: move a request along the state machine (``ALLOWED_TRANSITIONS``); a
    refused move raises ValidationError and writes nothing. Pausing, extending and
    refusing record a reason or ground the law asks for, so they go through
    ``pause_request``, ``extend_request`` and ``refuse_request``."""
    if isinstance(text, str):
        _check_length(text, NOTE_MAX_LENGTH)
    if to_status in _DEDICATED_FUNCTIONS:
        raise ValidationError(
            _("Use %(function)s to make a request %(status)s: it records the reason.")
            % {"function": _DEDICATED_FUNCTIONS[to_status], "status": S(to_status).label}
        )
    return _transition(
        request, to_status, actor=actor, text=text, internal=internal, ip=ip, action=f"request.{to_status}"
    )


@transaction.atomic
def pause_request(request: DataSubjectRequest, *, actor, reason: str, ip=None) -> RequestEvent:
    """REQ-4: stop the clock while waiting for the person (e.g. for a missing document).
    The reason is required, recorded and shown to the person."""
    reason = _require_text(
        reason, _("Say why the request is paused: the person is told."), max_length=REASON_MAX_LENGTH
    )
    return _transition(request, S.PAUSED, actor=actor, text=reason, internal=False, ip=ip, action="request.paused")


@transaction.atomic
def resume_request(request: DataSubjectRequest, *, actor, ip=None) -> RequestEvent:
    """REQ-4: restart the clock; the due date moves later by the days paused
    (calendar days, or working days where the deadline is counted in working days)."""
    locked = _lock(request)
    if locked.status != S.PAUSED:
        raise ValidationError(_("Only a paused request can be resumed."))
    return _transition(request, S.IN_PROGRESS, actor=actor, text="", internal=False, ip=ip, action="request.resumed")


@transaction.atomic
def extend_request(request: DataSubjectRequest, *, actor, reason: str, ip=None) -> RequestEvent:
    """REQ-4: the one recorded extension the person's jurisdiction allows (EEA: up to two
    more months after the first due date; California: 45 more days); refused elsewhere,
    and refused a second time. The due date becomes the legal limit, still later by the
    days the clock was paused before. The reason is required and the person is told."""
    reason = _require_text(
        reason, _("Say why the request needs more time: the person is told."), max_length=REASON_MAX_LENGTH
    )

    def check(locked: DataSubjectRequest) -> None:
        if deadlines.extension_limit_on(locked) is None:
            raise ValidationError(
                _("The law of %(jurisdiction)s allows no extension of the deadline.")
                % {"jurisdiction": locked.get_jurisdiction_display()}
            )
        if locked.extended_at is not None:
            raise ValidationError(_("This request was already extended once."))

    locked = _lock(request)
    check(locked)
    limit = deadlines.extension_limit_on(locked)
    new_due = deadlines.due_on_after_pause(limit, locked.paused_days, locked.jurisdiction)
    new_due = max(new_due, locked.due_on)
    return _transition(
        request,
        S.EXTENDED,
        actor=actor,
        text=reason,
        internal=False,
        ip=ip,
        action="request.extended",
        extra={"due_on": new_due, "extended_at": timezone.now(), "extension_reason": reason},
        check=check,
        metadata={"due_on": new_due.isoformat()},
    )


@transaction.atomic
def refuse_request(request: DataSubjectRequest, *, actor, ground: str, explanation: str, ip=None) -> RequestEvent:
    """REQ-6: refuse only on a recorded ground (``RefusalGround``) with an explanation
    the person reads (Japan addendum: the requester gets the reason)."""
    if ground not in RefusalGround.values:
        raise ValidationError(_("Choose one of the grounds on which a request may be refused."))
    explanation = _require_text(
        explanation, _("Explain the refusal: the person reads it."), max_length=ANSWER_MAX_LENGTH
    )
    return _transition(
        request,
        S.REFUSED,
        actor=actor,
        text=explanation,
        internal=False,
        ip=ip,
        action="request.refused",
        extra={"refusal_ground": ground, "outcome": explanation},
        metadata={"ground": ground},
    )


@transaction.atomic
def complete_request(request: DataSubjectRequest, *, actor, outcome: str | DeferredText, ip=None) -> RequestEvent:
    """REQ-6: close a request as answered; the outcome is the answer the person reads:
    typed by a handler, or written by the portal as a message rendered in the reader's
    language (``DeferredText``)."""
    outcome = _require_text(outcome, _("Write the answer to the person."), max_length=ANSWER_MAX_LENGTH)
    free_text, message = deferred_text.as_columns(outcome)
    return _transition(
        request,
        S.COMPLETED,
        actor=actor,
        text=outcome,
        internal=False,
        ip=ip,
        action="request.completed",
        extra={"outcome": free_text, "outcome_message": message},
    )


# --------------------------------------------------------------------------- handling


@transaction.atomic
def assign_request(request: DataSubjectRequest, assignee, *, actor, ip=None) -> RequestEvent:
    """Give an open request to a handler (``assignee=None``: nobody). Internal."""
    locked = _lock(request)
    if locked.status not in OPEN_STATUSES:
        raise ValidationError(_("A closed request cannot be assigned."))
    if assignee is not None and not assignee.is_active:
        raise ValidationError(_("Assign the request to an active account."))
    locked.assignee = assignee
    _save(request, locked, ["assignee"])
    event = RequestEvent.objects.create(
        request=locked,
        kind=EventKind.ASSIGNMENT,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        text=str(assignee) if assignee is not None else "",
        internal=True,
    )
    audit_request(
        "request.assigned",
        locked,
        actor=actor,
        ip=ip,
        changes=["assignee"],
        assignee=assignee.pk if assignee is not None else None,
    )
    return event


@transaction.atomic
def add_note(
    request: DataSubjectRequest, *, actor, text: str | DeferredText, internal: bool = True, ip=None
) -> RequestEvent:
    """An internal note for the handlers, or (``internal=False``) a message the person
    reads on their request page."""
    text = _require_text(text, _("Write the note."), max_length=NOTE_MAX_LENGTH)
    free_text, message = deferred_text.as_columns(text)
    locked = _lock(request)
    event = RequestEvent.objects.create(
        request=locked,
        kind=EventKind.NOTE if internal else EventKind.MESSAGE,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        text=free_text,
        message=message,
        internal=internal,
    )
    audit_request("request.note" if internal else "request.message", locked, actor=actor, ip=ip)
    return event


# --------------------------------------------------------------------------- ORG-11


def hand_over_on_disband(job) -> None:
    """Finisher of a disband job (REQ-5, ORG-11): the disbanded organization no longer
    answers anything, so its open requests go to operations staff, each with an event
    the person sees and an audit event. Closed requests keep their history as it was."""
    if not job.organization_id:
        return
    with transaction.atomic():
        requests = list(
            DataSubjectRequest.objects.select_for_update(of=("self",))
            .filter(organization_id=job.organization_id, status__in=OPEN_STATUSES)
            .select_related("subject")
        )
        for request in requests:
            DataSubjectRequest.objects.filter(pk=request.pk).update(organization=None, assignee=None)
            request.organization_id = request.assignee_id = None
            RequestEvent.objects.create(
                request=request,
                kind=EventKind.MESSAGE,
                message=deferred(
                    gettext_noop(
                        "The organization this request was filed with has been disbanded: "
                        "our operations staff answer it now."
                    )
                ).dumps(),
                internal=False,
            )
            # Not in the disbanded organization's trail, which the cascade has just
            # emptied of personal data: the organization is named in the metadata.
            audit_request(
                "request.handed_over",
                request,
                actor=None,
                ip=None,
                changes=["organization", "assignee"],
                disbanded_organization=job.organization_id,
            )


# --------------------------------------------------------------------------- REQ-4 reminders


def reminder_recipients(request: DataSubjectRequest) -> list:
    """Who is reminded of a request due soon: its assignee; unassigned, those who may
    take it: for an organization's request its owner and the administrators holding
    "handle members' requests" on the whole organization (subtree holders may not see
    the request, so they are not told it exists); for operations, active staff who may
    change requests."""
    if request.assignee_id is not None:
        return [request.assignee] if request.assignee.is_active else []
    User = get_user_model()
    if request.organization_id is not None:
        holders = OrganizationUserObjectPermission.objects.filter(
            content_object_id=request.organization_id, permission__codename=Right.HANDLE_REQUESTS
        ).values("user_id")
        users = User.objects.filter(
            Q(administrations__organization_id=request.organization_id, administrations__role=AdministratorRole.OWNER)
            | Q(pk__in=holders, administrations__organization_id=request.organization_id),
            is_active=True,
        )
    else:
        codename = "change_datasubjectrequest"
        users = User.objects.filter(
            Q(is_superuser=True) | Q(user_permissions__codename=codename) | Q(groups__permissions__codename=codename),
            is_active=True,
            is_staff=True,
        )
    return list(users.distinct().order_by("pk"))


def remind_request(request_id: int, today: date) -> bool:
    """REQ-4: remind whoever should act on one open request due within
    ``REQUEST_DUE_SOON_DAYS`` (or overdue), at most once a day: ``last_reminded_on`` is
    claimed with a compare-and-set, so two workers or a rerun of the day's task send
    nothing twice. The reminder is an internal event on the request (the handlers'
    in-app notice, shown in their queues) and one SMS per recipient, queued on commit,
    naming only the reference and the due date."""
    horizon = today + timedelta(days=settings.REQUEST_DUE_SOON_DAYS)
    with transaction.atomic():
        claimed = (
            DataSubjectRequest.objects.filter(pk=request_id, status__in=OPEN_STATUSES, due_on__lte=horizon)
            .filter(Q(last_reminded_on__isnull=True) | Q(last_reminded_on__lt=today))
            .update(last_reminded_on=today)
        )
        if not claimed:
            return False
        request = DataSubjectRequest.objects.select_related("assignee", "subject").get(pk=request_id)
        recipients = reminder_recipients(request)
        late = (today - request.due_on).days
        if late > 0:
            when = deferred(gettext_noop("Overdue by %(days)d days (due on %(due)s)."), days=late, due=request.due_on)
        else:
            when = deferred(gettext_noop("Due on %(due)s."), due=request.due_on)
        names = ", ".join(str(user) for user in recipients) or deferred(gettext_noop("nobody can take it: assign it"))
        # Written on a worker: the note is rendered in each reader's language, each SMS
        # in its recipient's.
        RequestEvent.objects.create(
            request=request,
            kind=EventKind.NOTE,
            message=deferred(gettext_noop("Reminder: %(when)s Reminded: %(names)s."), when=when, names=names).dumps(),
            internal=True,
        )
        for user in recipients:
            with translation.override(user.preferred_language or settings.LANGUAGE_CODE):
                queue_sms(
                    user.phone,
                    _("Custodia: data-subject request %(reference)s needs an answer. %(when)s")
                    % {"reference": request.reference, "when": when},
                )
        audit_request(
            "request.reminded",
            request,
            actor=None,
            ip=None,
            recipients=[user.pk for user in recipients],
            overdue=late > 0,
        )
    return True


def requests_to_remind(today: date) -> list[int]:
    """Open requests due within ``REQUEST_DUE_SOON_DAYS`` or overdue, not yet reminded
    today."""
    horizon = today + timedelta(days=settings.REQUEST_DUE_SOON_DAYS)
    return list(
        DataSubjectRequest.objects.due_by(horizon)
        .filter(Q(last_reminded_on__isnull=True) | Q(last_reminded_on__lt=today))
        .order_by("due_on", "pk")
        .values_list("pk", flat=True)
    )
