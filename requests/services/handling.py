"""The handlers' actions on a request (REQ-4 to REQ-8), dispatched once for every
channel: an organization's request page and the operations console both validate the
action's form (``requests.forms.handling``) and call ``carry_out``, which calls the
workflow or fulfilment service and returns what to tell the handler. A refused action
raises ValidationError and writes nothing.

Who may act is the caller's gate (``requests.permissions`` for an organization's
handlers, the staff permissions in the console), as for every service of this app; each
channel also says which actions it offers (an organization's handlers apply
corrections, carry out deletions and prepare archives; operations staff start work)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext as _

from requests.models import DELETION_KINDS, EXPORT_KINDS, OPEN_STATUSES, DataSubjectRequest, RequestStatus
from requests.services import deadlines, fulfilment, workflow

S = RequestStatus


def _assign(request, data, *, actor, ip) -> str:
    workflow.assign_request(request, data["assignee"], actor=actor, ip=ip)
    return _("The assignment was saved.")


def _note(request, data, *, actor, ip) -> str:
    workflow.add_note(request, actor=actor, text=data["text"], internal=not data["to_person"], ip=ip)
    return _("The message was sent to the person.") if data["to_person"] else _("The note was added.")


def _start(request, data, *, actor, ip) -> str:
    workflow.transition(request, S.IN_PROGRESS, actor=actor, ip=ip)
    return _("The request is in progress.")


def _pause(request, data, *, actor, ip) -> str:
    workflow.pause_request(request, actor=actor, reason=data["reason"], ip=ip)
    return _("The request is paused: its clock stands still.")


def _resume(request, data, *, actor, ip) -> str:
    workflow.resume_request(request, actor=actor, ip=ip)
    return _("The request was resumed; its due date is now %(due)s.") % {"due": request.due_on}


def _extend(request, data, *, actor, ip) -> str:
    workflow.extend_request(request, actor=actor, reason=data["reason"], ip=ip)
    return _("The deadline was extended to %(due)s.") % {"due": request.due_on}


def _refuse(request, data, *, actor, ip) -> str:
    workflow.refuse_request(request, actor=actor, ground=data["ground"], explanation=data["explanation"], ip=ip)
    return _("The request was refused; the person was told why.")


def _complete(request, data, *, actor, ip) -> str:
    workflow.complete_request(request, actor=actor, outcome=data["outcome"], ip=ip)
    return _("The request was completed.")


def _apply(request, data, *, actor, ip) -> str:
    try:
        fulfilment.apply_correction(request, actor=actor, ip=ip)
    except PermissionDenied as exc:
        raise ValidationError(
            _("Applying it needs the edit roster right on this member (and view sensitive fields for a sensitive one).")
        ) from exc
    return _("The correction was applied and the request completed.")


def _delete(request, data, *, actor, ip) -> str:
    if fulfilment.carry_out_deletion(request, actor=actor, ip=ip) is None:
        return _("Nothing was left to delete; the request is completed.")
    return _("The deletion has started; the request completes when it is done.")


def _export(request, data, *, actor, ip) -> str:
    fulfilment.start_export(request, actor=actor)
    return _("The archive is being prepared; only the person can download it.")


@dataclass(frozen=True)
class Action:
    run: Callable[..., str]
    # The status the action leads to (None: the status stays), to offer it only where
    # the state machine allows it.
    leads_to: str | None = None


ACTIONS: dict[str, Action] = {
    "assign": Action(_assign),
    "note": Action(_note),
    "start": Action(_start, S.IN_PROGRESS),
    "pause": Action(_pause, S.PAUSED),
    "resume": Action(_resume, S.IN_PROGRESS),
    "extend": Action(_extend, S.EXTENDED),
    "refuse": Action(_refuse, S.REFUSED),
    "complete": Action(_complete, S.COMPLETED),
    "apply": Action(_apply),
    "delete": Action(_delete),
    "export": Action(_export),
}


def carry_out(action: str, request: DataSubjectRequest, data: dict, *, actor, ip=None) -> str:
    """Carry out ``action`` with its form's cleaned ``data``; returns the message for the
    handler. Raises ValidationError (nothing written) when a service refuses."""
    return ACTIONS[action].run(request, data, actor=actor, ip=ip)


def available_actions(request: DataSubjectRequest, offered) -> list[str]:
    """Of the actions a channel ``offered``, those that make sense for the request now
    (its status, its kind, whether its jurisdiction allows an extension), in order."""
    if request.status not in OPEN_STATUSES:
        return []
    names = ["assign", "note"]
    if request.status == S.PAUSED:
        names.append("resume")
    elif workflow.can_transition(request.status, S.IN_PROGRESS):
        names.append("start")
    for name in ("pause", "extend", "refuse", "complete"):
        if workflow.can_transition(request.status, ACTIONS[name].leads_to):
            names.append(name)
    if "extend" in names and (request.extended_at is not None or deadlines.extension_limit_on(request) is None):
        names.remove("extend")
    if request.kind in fulfilment.CORRECTION_KINDS and request.member_id is not None:
        names.append("apply")
    if request.kind in DELETION_KINDS:
        names.append("delete")
    if request.kind in EXPORT_KINDS:
        names.append("export")
    return [name for name in names if name in offered]
