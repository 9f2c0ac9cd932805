"""Reads for the person's request pages (REQ-1, REQ-9, REQ-11): their requests page by
page, the timeline a requester may read, the fields a correction can be about, and the
automated decisions made about them. Each is a fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.db.models import Exists, OuterRef, QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import DataRegion, User
from consent.models import Purpose
from organizations.models import Member, MemberStatus, OrganizationStatus
from organizations.services.collection import collected_fields
from requests.models import (
    AutomatedDecision,
    DataSubjectRequest,
    Jurisdiction,
    RequestEvent,
    RequestKind,
    RequestStatus,
)
from requests.permissions import own_requests

PAGE_SIZE = 25

# ACC-2: the profile fields a person can ask to have corrected or supplemented. The
# avatar is left out: a picture is changed on the profile page, not proposed as text.
CORRECTABLE_PROFILE_FIELDS = ("name", "nickname", "gender", "birthday", "work_region", "company_email")

PROFILE_TARGET = "profile"
MEMBER_TARGET = "member"


def default_jurisdiction() -> str:
    """The jurisdiction a filing starts from: the deployment's data region (SEC-6)."""
    if settings.DATA_REGION == DataRegion.MAINLAND_CHINA:
        return Jurisdiction.MAINLAND
    return Jurisdiction.INTERNATIONAL


def listed_requests(user) -> QuerySet[DataSubjectRequest]:
    """REQ-4, REQ-9: the requests about ``user`` or filed by them as an agent, newest
    first, with the columns their lists show (the pages and the API)."""
    return (
        own_requests(user)
        .only(
            "pk",
            "reference",
            "kind",
            "jurisdiction",
            "status",
            "due_on",
            "received_at",
            "closed_at",
            "subject_id",
            "agent_id",
        )
        .order_by("-received_at", "-pk")
    )


def page_of_requests(user, page: int, size: int = PAGE_SIZE) -> tuple[list[DataSubjectRequest], bool]:
    """REQ-4, REQ-9: one page of ``listed_requests`` and whether another page follows.
    One query: a row more than the page is fetched instead of counting."""
    offset = (page - 1) * size
    rows = list(listed_requests(user)[offset : offset + size + 1])
    return rows[:size], len(rows) > size


def awaiting_confirmation(user) -> QuerySet[DataSubjectRequest]:
    """REQ-9: requests an agent filed about ``user`` that wait for them to confirm."""
    return (
        DataSubjectRequest.objects.filter(subject=user, status=RequestStatus.VERIFYING, agent__isnull=False)
        .select_related("agent")
        .only("pk", "reference", "kind", "received_at", "agent__phone", "agent__name", "agent__nickname")
        .order_by("received_at", "pk")
    )


def public_timeline(request: DataSubjectRequest) -> QuerySet[RequestEvent]:
    """REQ-6: what the requester reads: every event that is not a handlers' note."""
    return request.events.filter(internal=False).order_by("at", "pk")


def roster_entries(user) -> list[Member]:
    """The user's current roster entries in organizations that still exist."""
    return list(
        Member.objects.filter(user=user)
        .exclude(status=MemberStatus.LEFT)
        .exclude(organization__status=OrganizationStatus.DISBANDED)
        .select_related("organization")
        .order_by("organization__name", "pk")
    )


@dataclass(frozen=True)
class Target:
    """What a correction or supplement is about: a profile field, or a control-data
    field of one roster entry (REQ-5 routes the latter to its organization)."""

    value: str
    label: str
    field: str
    member: Member | None = None


def profile_field_label(name: str) -> str:
    return str(User._meta.get_field(name).verbose_name)


def member_field_label(name: str) -> str:
    return str(Member._meta.get_field(name).verbose_name)


def request_field_label(request_obj) -> str:
    """What a request's ``field`` names, in the reader's words: a consent's purpose, a
    roster field of the organization, or a profile field."""
    if not request_obj.field:
        return ""
    if request_obj.kind == RequestKind.CONSENT_WITHDRAWAL:
        return str(Purpose(request_obj.field).label) if request_obj.field in Purpose.values else request_obj.field
    try:
        if request_obj.member_id:
            return _("Organization data in %(organization)s: %(field)s") % {
                "organization": request_obj.member.organization.name,
                "field": member_field_label(request_obj.field),
            }
        return _("My profile: %(field)s") % {"field": profile_field_label(request_obj.field)}
    except FieldDoesNotExist:  # a field renamed since: show the stored name
        return request_obj.field


# How the identity behind a request was verified (``DataSubjectRequest.verification_method``).
VERIFICATION_LABELS = {
    "sms_code": gettext_lazy("SMS code to the person's own number"),
    "agent_confirmed": gettext_lazy("Confirmed by the person (filed by an authorized agent)"),
    "escalation": gettext_lazy("Escalated from an organization (verified there)"),
}


def verification_label(method: str) -> str:
    return str(VERIFICATION_LABELS.get(method, method)) if method else "—"


def correction_targets(user, *, include_roster: bool = True) -> list[Target]:
    """The fields a correction or supplement can be about: the person's profile fields,
    then the control-data fields each of their organizations collects (ORG-5). One
    query for the roster entries and one per organization for its collection settings."""
    targets = [
        Target(f"{PROFILE_TARGET}:{name}", _("My profile: %(field)s") % {"field": profile_field_label(name)}, name)
        for name in CORRECTABLE_PROFILE_FIELDS
    ]
    if not include_roster:
        return targets
    for member in roster_entries(user):
        collected = collected_fields(member.organization)
        for field in Member._meta.concrete_fields:
            if field.name not in collected:
                continue
            targets.append(
                Target(
                    f"{MEMBER_TARGET}:{member.pk}:{field.name}",
                    _("Organization data in %(organization)s: %(field)s")
                    % {"organization": member.organization.name, "field": field.verbose_name},
                    field.name,
                    member,
                )
            )
    return targets


def decisions_of(user) -> QuerySet[AutomatedDecision]:
    """REQ-11: the automated decisions made about ``user``, newest first, each with
    whether an explanation or appeal about it is already open."""
    open_request = DataSubjectRequest.objects.open().filter(
        automated_decision=OuterRef("pk"), kind=RequestKind.AUTOMATED_DECISION, subject=user
    )
    return (
        AutomatedDecision.objects.filter(subject=user)
        .select_related("organization")
        .annotate(has_open_request=Exists(open_request))
        .order_by("-made_at", "-pk")
    )
