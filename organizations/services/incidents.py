"""Security incidents (SEC-4): registering and editing in the console, the notices to
every affected person, the person's reading of them, the deadline watch and the
regulator report.

Notices are unique per (incident, person, channel), so ``send_incident_notices`` can
be run again at any time: it tells only the people not told yet (members who joined
an affected organization since, people added to the incident) and retries SMS notices
whose delivery failed, up to ``MAX_SMS_ATTEMPTS``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, Exists, F, OuterRef, Q, Subquery
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.models import SMSMessage, SMSStatus
from accounts.services.sms import queue_sms
from dataprotection.anonymization import StageSpec
from dataprotection.audit import record_event
from organizations.models import Member, MemberStatus
from organizations.models.incidents import (
    AWAITING_NOTICE,
    DEADLINE_ALERT_DAYS,
    NOTICE_DEADLINE,
    IncidentAffectedPerson,
    IncidentNotice,
    IncidentStatus,
    NoticeChannel,
    NoticeStatus,
    SecurityIncident,
)

logger = logging.getLogger(__name__)

MAX_SMS_ATTEMPTS = 3
BATCH = 1000


class IncidentRefused(Exception):
    """The notices cannot be sent (closed incident, nobody affected)."""


# --------------------------------------------------------------------------- console edits


def save_incident(incident: SecurityIncident, *, actor, created: bool) -> SecurityIncident:
    """Save the incident row from the console form (validated by the model's ``clean``).
    Publishing the announcement stamps when (it counts as telling people, SEC-4)."""
    if created:
        incident.created_by = actor
    if incident.announcement_published and incident.announced_at is None:
        incident.announced_at = timezone.now()
    incident.save()
    return incident


@transaction.atomic
def record_incident_saved(incident: SecurityIncident, *, actor, created: bool, changes, ip=None) -> None:
    """The audit event of a console save, written once the affected organizations and
    people are saved too (the console's change view is one transaction)."""
    record_event(
        "incident.registered" if created else "incident.updated",
        actor=actor,
        target=incident,
        ip=ip,
        changes=changes,
        metadata={
            "reference": incident.reference,
            "organizations": incident.organizations.count(),
            "people": incident.affected_people.count(),
            "published": incident.announcement_published,
        },
    )


# --------------------------------------------------------------------------- notices


def affected_users(incident: SecurityIncident):
    """SEC-4: the people to tell, deduplicated by the database: the people named on the
    incident and the active members with an active account in its organizations."""
    members = Member.objects.filter(
        organization__in=incident.organizations.values("pk"), status=MemberStatus.ACTIVE, user__isnull=False
    ).values("user_id")
    named = incident.affected_people.values("user_id")
    return get_user_model().objects.filter(Q(pk__in=members) | Q(pk__in=named), is_active=True)


@dataclass
class NoticeRun:
    in_app: int = 0
    sms: int = 0
    sms_retried: int = 0

    @property
    def total(self) -> int:
        return self.in_app + self.sms + self.sms_retried


def notice_path() -> str:
    return reverse("organizations:security_notices")


def _sms_body(incident: SecurityIncident, link: str) -> str:
    # Names the incident only: what happened stays behind the person's sign-in.
    return _(
        "[Custodia] Security notice %(reference)s: a security incident may concern your data. "
        "Read what happened and what to do at %(link)s"
    ) % {"reference": incident.reference, "link": link}


def send_incident_notices(incident: SecurityIncident, actor, *, base_url: str = "", ip=None) -> NoticeRun:
    """SEC-4: one in-app notice and one SMS per affected person not told yet; failed SMS
    notices are sent again. The incident row is locked, so two runs at the same time
    queue nothing twice; the unique (incident, person, channel) keeps it so."""
    link = base_url.rstrip("/") + notice_path()
    run = NoticeRun()
    with transaction.atomic():
        locked = SecurityIncident.objects.select_for_update().get(pk=incident.pk)
        if locked.status == IncidentStatus.CLOSED:
            raise IncidentRefused(_("The incident is closed: no notices are sent."))
        users = affected_users(locked)
        if not (locked.organizations.exists() or locked.affected_people.exists()):
            raise IncidentRefused(_("Name the affected organizations or people first."))
        now = timezone.now()
        run.in_app = _create_in_app(locked, users, now)
        run.sms = _create_sms(locked, users, link, now)
        run.sms_retried = _retry_sms(locked, link)
        if locked.notified_at is None:
            locked.notified_at = now
        if locked.status in AWAITING_NOTICE:
            locked.status = IncidentStatus.NOTIFIED
        locked.save(update_fields=["status", "notified_at"])
        record_event(
            "incident.notices_sent",
            actor=actor,
            target=locked,
            ip=ip,
            metadata={
                "reference": locked.reference,
                "in_app": run.in_app,
                "sms": run.sms,
                "sms_retried": run.sms_retried,
            },
        )
    incident.status, incident.notified_at = locked.status, locked.notified_at
    return run


def _untold(incident: SecurityIncident, users, channel: str):
    told = IncidentNotice.objects.filter(incident=incident, channel=channel, user__isnull=False).values("user_id")
    return users.exclude(pk__in=told).order_by("pk")


def _bulk_create(notices: Iterable[IncidentNotice]) -> int:
    """Insert ``notices`` as they come, ``BATCH`` rows per statement: the affected people
    are streamed, never all held in memory."""
    created = 0
    batch: list[IncidentNotice] = []
    for notice in notices:
        batch.append(notice)
        if len(batch) >= BATCH:
            created += len(IncidentNotice.objects.bulk_create(batch))
            batch = []
    if batch:
        created += len(IncidentNotice.objects.bulk_create(batch))
    return created


def _create_in_app(incident: SecurityIncident, users, now: datetime) -> int:
    user_ids = _untold(incident, users, NoticeChannel.IN_APP).values_list("pk", flat=True)
    return _bulk_create(
        IncidentNotice(
            incident=incident,
            user_id=user_id,
            channel=NoticeChannel.IN_APP,
            status=NoticeStatus.SENT,
            attempts=1,
            created_at=now,
            sent_at=now,
        )
        for user_id in user_ids.iterator(BATCH)
    )


def _create_sms(incident: SecurityIncident, users, link: str, now: datetime) -> int:
    rows = _untold(incident, users, NoticeChannel.SMS).values_list("pk", "phone", "preferred_language")

    def notices():
        for user_id, phone, language in rows.iterator(BATCH):
            with translation.override(language or settings.LANGUAGE_CODE):
                message = queue_sms(phone, _sms_body(incident, link))
            yield IncidentNotice(
                incident=incident,
                user_id=user_id,
                channel=NoticeChannel.SMS,
                status=NoticeStatus.PENDING,
                attempts=1,
                sms_message_id=message.pk,
                created_at=now,
            )

    return _bulk_create(notices())


def _retry_sms(incident: SecurityIncident, link: str) -> int:
    """Failed SMS notices of people still on record get another message."""
    failed = (
        IncidentNotice.objects.filter(
            incident=incident,
            channel=NoticeChannel.SMS,
            status=NoticeStatus.FAILED,
            attempts__lt=MAX_SMS_ATTEMPTS,
            user__is_active=True,
        )
        .select_related("user")
        .only("pk", "user__phone", "user__preferred_language")
    )
    retried = 0
    for notice in failed.iterator(BATCH):
        with translation.override(notice.user.preferred_language or settings.LANGUAGE_CODE):
            message = queue_sms(notice.user.phone, _sms_body(incident, link))
        retried += IncidentNotice.objects.filter(pk=notice.pk, status=NoticeStatus.FAILED).update(
            status=NoticeStatus.PENDING, attempts=F("attempts") + 1, sms_message_id=message.pk
        )
    return retried


def refresh_sms_notices() -> tuple[int, int]:
    """Carry the SMS outbox's outcome over to pending SMS notices, set-based: (sent,
    failed). Runs from the beat task, well within the day delivered messages are kept."""
    pending = IncidentNotice.objects.filter(channel=NoticeChannel.SMS, status=NoticeStatus.PENDING)
    sent = pending.filter(sms_message_id__in=SMSMessage.objects.filter(status=SMSStatus.SENT).values("pk")).update(
        status=NoticeStatus.SENT,
        sent_at=Subquery(SMSMessage.objects.filter(pk=OuterRef("sms_message_id")).values("sent_at")[:1]),
    )
    failed = pending.filter(sms_message_id__in=SMSMessage.objects.filter(status=SMSStatus.FAILED).values("pk")).update(
        status=NoticeStatus.FAILED
    )
    return sent, failed


# --------------------------------------------------------------------------- the person


def person_notices(user) -> list[IncidentNotice]:
    """The person's in-app notices with their incidents, newest first (one query)."""
    return list(
        IncidentNotice.objects.for_person(user)
        .select_related("incident")
        .defer("incident__announcement", "incident__created_by_id", "incident__regulator_reported_at")
        .order_by("-created_at", "-pk")
    )


def mark_notices_read(user, notices: list[IncidentNotice]) -> int:
    """Record when the person first saw each notice shown to them (SEC-4). Nothing is
    written (no transaction either) once all are read."""
    unread = [notice for notice in notices if notice.read_at is None]
    if not unread:
        return 0
    now = timezone.now()
    with transaction.atomic():
        updated = IncidentNotice.objects.filter(
            pk__in=[notice.pk for notice in unread], user=user, read_at__isnull=True
        ).update(read_at=now)
        if updated:
            record_event(
                "incident.notices_read",
                actor=user,
                subject=user,
                metadata={"incidents": sorted({notice.incident.reference for notice in unread})},
            )
    for notice in unread:
        notice.read_at = now
    return updated


# --------------------------------------------------------------------------- deadline watch


def incidents_at_risk(now: datetime | None = None) -> list[SecurityIncident]:
    """Incidents whose deadline is within ``DEADLINE_ALERT_DAYS`` (or passed) and whose
    notices are not all sent: nobody told yet, or notices pending or failed."""
    now = now or timezone.now()
    horizon = now + timedelta(days=DEADLINE_ALERT_DAYS)
    near = SecurityIncident.objects.exclude(status=IncidentStatus.CLOSED).filter(
        discovered_at__lte=horizon - NOTICE_DEADLINE
    )
    unsent = IncidentNotice.objects.filter(incident=OuterRef("pk")).exclude(status=NoticeStatus.SENT)
    return list(
        near.filter(Q(notified_at__isnull=True, announced_at__isnull=True) | Exists(unsent)).order_by("discovered_at")
    )


def check_incident_deadlines(now: datetime | None = None) -> list[str]:
    """SEC-4: refresh SMS outcomes, then log a critical warning per incident at risk of
    missing (or past) its 30-day deadline. Returns the references warned about."""
    refresh_sms_notices()
    now = now or timezone.now()
    warned = []
    for incident in incidents_at_risk(now):
        logger.critical(
            "security incident %s: notices not all sent; the notification deadline %s is %s",
            incident.reference,
            incident.notify_by.isoformat(),
            "past" if now > incident.notify_by else f"within {DEADLINE_ALERT_DAYS} days",
        )
        warned.append(incident.reference)
    return warned


# --------------------------------------------------------------------------- regulator report


def regulator_report(incident: SecurityIncident, now: datetime | None = None) -> dict:
    """SEC-4: the incident and its handling as a structured document: facts, timeline,
    notice counts by channel and status, measures, remedies, deadline met or not. Counts
    only; no person is named."""
    now = now or timezone.now()
    counts = {channel: dict.fromkeys(NoticeStatus.values, 0) for channel in NoticeChannel.values}
    for row in incident.notices.values("channel", "status").annotate(n=Count("pk")).order_by():
        counts[row["channel"]][row["status"]] = row["n"]
    read = incident.notices.filter(channel=NoticeChannel.IN_APP, read_at__isnull=False).count()
    first_sent = incident.notices.filter(status=NoticeStatus.SENT).order_by("sent_at").values_list("sent_at", flat=True)
    last_sent = first_sent.order_by("-sent_at")

    def iso(moment):
        return moment.isoformat() if moment else None

    state = incident.deadline_state(now)
    return {
        "reference": incident.reference,
        "title": incident.title,
        "generated_at": iso(now),
        "facts": {
            "what_happened": incident.description,
            "discovered_at": iso(incident.discovered_at),
            "occurred_from": iso(incident.occurred_from),
            "occurred_to": iso(incident.occurred_to),
            "data_categories": list(incident.data_categories or []),
            "data_category_labels": incident.category_labels(),
            "affected_organizations": list(incident.organizations.order_by("name").values_list("name", flat=True)),
            "people_named": incident.affected_people.count(),
            # Everyone told gets exactly one in-app notice (also after their account is gone).
            "people_notified": sum(counts[NoticeChannel.IN_APP].values()),
        },
        "measures": incident.measures,
        "advice": incident.advice,
        "remedies": incident.remedies,
        "status": incident.status,
        "deadline": {
            "notify_by": iso(incident.notify_by),
            "first_told_at": iso(incident.first_told_at),
            "state": state,
            "met": state == "met",
        },
        "timeline": {
            "registered_at": iso(incident.created_at),
            "notices_started_at": iso(incident.notified_at),
            "first_notice_delivered_at": iso(first_sent.first()),
            "last_notice_delivered_at": iso(last_sent.first()),
            "announcement_published_at": iso(incident.announced_at) if incident.announcement_published else None,
            "regulator_reported_at": iso(incident.regulator_reported_at),
        },
        "notices": {"by_channel_and_status": counts, "in_app_read": read},
        "announcement": {
            "published": incident.announcement_published,
            "text": incident.announcement,
        },
    }


def export_regulator_report(incident: SecurityIncident, actor, *, fmt: str, ip=None) -> dict:
    """The report, with the audit event of its export (SEC-2)."""
    report = regulator_report(incident)
    with transaction.atomic():
        record_event(
            "incident.report_exported",
            actor=actor,
            target=incident,
            ip=ip,
            metadata={"reference": incident.reference, "format": fmt},
        )
    return report


def plan_incident_rows_of_person(job) -> list[StageSpec]:
    """Account deletion (ACC-5, ANON-3): the person's notices are de-linked (they stay
    counted), the rows naming them as affected go."""
    return [
        StageSpec(IncidentNotice._meta.label, {"user_id": job.subject_id}, phase=0),
        StageSpec(IncidentAffectedPerson._meta.label, {"user_id": job.subject_id}, phase=1),
    ]
