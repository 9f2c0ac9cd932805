"""Security incidents (SEC-4): the 30-natural-day deadline and its flags, notices to
exactly the affected people (idempotent, SMS queued, audited), the person's notices
page, the public announcements page, the regulator report and the console's gate."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from accounts.models import SMSMessage, SMSStatus
from dataprotection import anonymization
from dataprotection.models import AnonymizationJob, AuditEvent
from organizations.models.incidents import (
    DeadlineState,
    IncidentAffectedPerson,
    IncidentNotice,
    IncidentStatus,
    SecurityIncident,
)
from organizations.services import incidents as services
from tests.factories import MemberFactory, OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db

NOTICES_URL = "/orgs/my-data/security-notices/"
PUBLIC_URL = "/security-notices/"
CHANGELIST = "admin:organizations_securityincident_changelist"


def make_incident(*, days_ago: float = 1, organizations=(), people=(), **fields) -> SecurityIncident:
    defaults = {
        "title": "Exposed attendance export",
        "description": "An attendance export was readable by anyone with its link for two days.",
        "discovered_at": timezone.now() - timedelta(days=days_ago),
        "data_categories": ["contact", "activity"],
        "measures": "The link was revoked and the export deleted.",
        "advice": "Watch out for calls quoting your attendance.",
        "remedies": "Contact the privacy office for support.",
    }
    incident = SecurityIncident.objects.create(**{**defaults, **fields})
    incident.organizations.set(organizations)
    for user in people:
        IncidentAffectedPerson.objects.create(incident=incident, user=user)
    return incident


def notified(incident, channel="in_app") -> set[int]:
    return set(IncidentNotice.objects.filter(incident=incident, channel=channel).values_list("user_id", flat=True))


# --------------------------------------------------------------------------- the deadline


def test_notify_by_is_thirty_natural_days_after_discovery():
    """SEC-4 (EN IV(VI)): the deadline is discovery + 30 natural days, to the minute;
    weekends and holidays count."""
    discovered = timezone.now().replace(microsecond=0) - timedelta(days=3, hours=5)
    incident = make_incident(discovered_at=discovered)
    assert incident.notify_by == discovered + timedelta(days=30)
    assert (incident.notify_by - incident.discovered_at).days == 30


@pytest.mark.parametrize(
    ("days_ago", "state"),
    [(1, DeadlineState.ON_TRACK), (22.9, DeadlineState.ON_TRACK), (23.1, DeadlineState.DUE_SOON), (30.1, "overdue")],
)
def test_deadline_state_before_anyone_is_told(days_ago, state):
    """SEC-4: on track, due within 7 days, or overdue once the 30 days have passed."""
    assert make_incident(days_ago=days_ago).deadline_state() == state


def test_deadline_met_or_missed_by_notices_or_announcement():
    """SEC-4: the deadline is met when notices went out (or the announcement was
    published) by the deadline, missed when later."""
    now = timezone.now()
    in_time = make_incident(days_ago=40, notified_at=now - timedelta(days=15))
    late = make_incident(days_ago=40, notified_at=now - timedelta(days=5))
    announced = make_incident(days_ago=40, announced_at=now - timedelta(days=12), announcement_published=True)
    assert in_time.deadline_state() == DeadlineState.MET
    assert late.deadline_state() == DeadlineState.MISSED
    assert announced.deadline_state() == DeadlineState.MET


def test_deadline_querysets_flag_only_incidents_nobody_was_told_of():
    """SEC-4: ``deadline_within(7)`` and ``overdue()`` select incidents awaiting notice."""
    fresh = make_incident(days_ago=1)
    soon = make_incident(days_ago=25)
    overdue = make_incident(days_ago=31)
    make_incident(days_ago=25, notified_at=timezone.now(), status=IncidentStatus.NOTIFIED)
    make_incident(days_ago=31, announced_at=timezone.now(), announcement_published=True, announcement="x")
    assert list(SecurityIncident.objects.deadline_within(7)) == [soon]
    assert list(SecurityIncident.objects.overdue()) == [overdue]
    assert fresh not in SecurityIncident.objects.deadline_within(7)


def test_console_lists_the_deadline_with_a_flag_and_filters_it(client, cast):
    """SEC-4: the console's list shows each incident's notify-by date and a flag; the
    deadline filter shows those due within 7 days, or overdue."""
    soon = make_incident(days_ago=25, title="Due soon incident")
    make_incident(days_ago=31, title="Overdue incident")
    make_incident(days_ago=1, title="Fresh incident")
    client.force_login(cast.staff)
    listing = client.get(reverse(CHANGELIST)).content.decode()
    assert timezone.localtime(soon.notify_by).strftime("%Y-%m-%d %H:%M") in listing
    assert 'data-state="due_soon">⏰ Due soon' in listing and 'data-state="overdue">⚠ Overdue' in listing
    due = client.get(reverse(CHANGELIST), {"deadline": "soon"}).content.decode()
    assert "Due soon incident" in due and "Overdue incident" not in due and "Fresh incident" not in due
    late = client.get(reverse(CHANGELIST), {"deadline": "overdue"}).content.decode()
    assert "Overdue incident" in late and "Due soon incident" not in late


def test_beat_task_warns_about_incidents_near_the_deadline(caplog, settings):
    """SEC-4: the hourly task logs a critical warning for incidents whose deadline is
    within 3 days (or past) and whose notices are not all sent; not for others."""
    from organizations.tasks import check_incident_deadlines

    entry = settings.CELERY_BEAT_SCHEDULE["check-incident-deadlines"]
    assert entry["task"] == "organizations.tasks.check_incident_deadlines"

    at_risk = make_incident(days_ago=28)
    overdue = make_incident(days_ago=35)
    make_incident(days_ago=20)  # deadline 10 days away
    make_incident(days_ago=28, status=IncidentStatus.CLOSED)
    done = make_incident(days_ago=28, notified_at=timezone.now(), status=IncidentStatus.NOTIFIED)
    pending_sms = make_incident(days_ago=28, notified_at=timezone.now(), status=IncidentStatus.NOTIFIED)
    user = UserFactory()
    IncidentNotice.objects.create(incident=done, user=user, channel="in_app", status="sent")
    IncidentNotice.objects.create(incident=pending_sms, user=user, channel="sms", status="pending")
    with caplog.at_level(logging.CRITICAL, logger="organizations.services.incidents"):
        warned = check_incident_deadlines()
    assert sorted(warned) == sorted([at_risk.reference, overdue.reference, pending_sms.reference])
    critical = [r for r in caplog.records if r.levelno == logging.CRITICAL]
    assert len(critical) == 3
    assert any(overdue.reference in r.getMessage() and "past" in r.getMessage() for r in critical)


# --------------------------------------------------------------------------- notices


@pytest.fixture
def affected(cast):
    """The cast's organization plus: an active member with an account, an invited one,
    one who left, one without an account, one whose account is deactivated; a member
    of an unaffected organization; a person named individually."""
    org = cast.organization
    colleague = UserFactory(name="Colleague")
    MemberFactory(organization=org, user=colleague, name="Colleague")
    invited = UserFactory(name="Invited")
    MemberFactory(organization=org, user=invited, status="invited")
    left = UserFactory(name="Left")
    MemberFactory(organization=org, user=left, status="left")
    MemberFactory(organization=org, user=None, name="No account")
    inactive = UserFactory(name="Inactive", is_active=False)
    MemberFactory(organization=org, user=inactive)
    outsider = UserFactory(name="Outsider")
    MemberFactory(organization=OrganizationFactory(), user=outsider)
    named = UserFactory(name="Named person")
    incident = make_incident(organizations=[org], people=[named, cast.member_user])  # member named twice over
    return {
        "incident": incident,
        "expected": {cast.member_user.pk, colleague.pk, named.pk},
        "excluded": {invited.pk, left.pk, inactive.pk, outsider.pk},
        "named": named,
    }


def test_notices_go_to_exactly_the_affected_people(cast, affected):
    """SEC-4: one in-app notice and one SMS notice per active member with an account of
    each affected organization and per person named, deduplicated; nobody else."""
    run = services.send_incident_notices(affected["incident"], cast.staff)
    assert (run.in_app, run.sms, run.sms_retried) == (3, 3, 0)
    assert notified(affected["incident"], "in_app") == affected["expected"]
    assert notified(affected["incident"], "sms") == affected["expected"]
    assert IncidentNotice.objects.count() == 6
    incident = SecurityIncident.objects.get(pk=affected["incident"].pk)
    assert incident.status == IncidentStatus.NOTIFIED and incident.notified_at is not None


def test_sending_again_tells_nobody_twice_but_reaches_newcomers(cast, affected):
    """SEC-4: a second run sends nothing; a member who joined since gets theirs on the
    next run, alone."""
    incident = affected["incident"]
    services.send_incident_notices(incident, cast.staff)
    messages = SMSMessage.objects.count()
    again = services.send_incident_notices(incident, cast.staff)
    assert again.total == 0 and SMSMessage.objects.count() == messages
    newcomer = UserFactory(name="Newcomer")
    MemberFactory(organization=cast.organization, user=newcomer)
    third = services.send_incident_notices(incident, cast.staff)
    assert (third.in_app, third.sms) == (1, 1)
    assert SMSMessage.objects.count() == messages + 1
    assert IncidentNotice.objects.filter(user=newcomer).count() == 2


def test_sms_is_queued_per_person_naming_only_the_reference_and_the_page(
    cast, affected, django_capture_on_commit_callbacks, sms_outbox
):
    """SEC-4: each person gets one SMS through the outbox with the incident reference
    and the path of the notice page; no one else's data, no incident details."""
    incident = affected["incident"]
    with django_capture_on_commit_callbacks(execute=True):
        services.send_incident_notices(incident, cast.staff, base_url="https://custodia.example/")
    phones = sorted(message["to"] for message in sms_outbox)
    users = {cast.member_user.pk: cast.member_user, affected["named"].pk: affected["named"]}
    assert len(phones) == 3 and set(phones) >= {user.phone for user in users.values()}
    for message in sms_outbox:
        assert incident.reference in message["body"]
        assert f"https://custodia.example{NOTICES_URL}" in message["body"]
        assert "Colleague" not in message["body"] and "attendance export" not in message["body"]


def test_sms_outcome_is_carried_over_and_failed_ones_are_retried(cast, affected):
    """SEC-4: an SMS notice is sent once the outbox delivered it; a failed one is sent
    again by the next run (attempts counted in the row)."""
    incident = affected["incident"]
    services.send_incident_notices(incident, cast.staff)
    sms = list(IncidentNotice.objects.filter(incident=incident, channel="sms").order_by("pk"))
    delivered_at = timezone.now()
    SMSMessage.objects.filter(pk=sms[0].sms_message_id).update(status=SMSStatus.SENT, sent_at=delivered_at)
    SMSMessage.objects.filter(pk=sms[1].sms_message_id).update(status=SMSStatus.FAILED)
    assert services.refresh_sms_notices() == (1, 1)
    first, second, third = (IncidentNotice.objects.get(pk=n.pk) for n in sms)
    assert (first.status, first.sent_at) == ("sent", delivered_at)
    assert second.status == "failed" and third.status == "pending"
    run = services.send_incident_notices(incident, cast.staff)
    assert (run.in_app, run.sms, run.sms_retried) == (0, 0, 1)
    second.refresh_from_db()
    assert (second.status, second.attempts) == ("pending", 2) and second.sms_message_id != sms[1].sms_message_id


def test_sending_is_audited(cast, affected):
    """SEC-2, SEC-4: the run is one audit event with the counts, by the staff member."""
    services.send_incident_notices(affected["incident"], cast.staff, ip="10.0.0.9")
    event = AuditEvent.objects.get(action="incident.notices_sent")
    assert (event.actor, event.target_id, event.ip_address) == (cast.staff, str(affected["incident"].pk), "10.0.0.9")
    assert (event.metadata["in_app"], event.metadata["sms"]) == (3, 3)


def test_closed_incident_or_nobody_affected_is_refused_and_nothing_written(cast):
    """SEC-4: a closed incident sends nothing; an incident with no organization and no
    person asks for them first."""
    closed = make_incident(organizations=[cast.organization], status=IncidentStatus.CLOSED)
    empty = make_incident()
    with pytest.raises(services.IncidentRefused, match="closed"):
        services.send_incident_notices(closed, cast.staff)
    with pytest.raises(services.IncidentRefused, match="affected organizations or people"):
        services.send_incident_notices(empty, cast.staff)
    assert not IncidentNotice.objects.exists() and not SMSMessage.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="incident.").exists()
    assert SecurityIncident.objects.get(pk=empty.pk).status == IncidentStatus.OPEN


def test_account_deletion_plan_covers_the_incident_tables(cast):
    """ACC-5, ANON-3: the person's notices are de-linked and their affected rows go."""
    job = AnonymizationJob(kind="account_deletion", subject_id=cast.member_user.pk, created_at=timezone.now())
    planned = [(spec.model, spec.lookup) for spec in anonymization.stages_for(job)]
    assert ("organizations.IncidentNotice", {"user_id": cast.member_user.pk}) in planned
    assert ("organizations.IncidentAffectedPerson", {"user_id": cast.member_user.pk}) in planned


# --------------------------------------------------------------------------- the person's page


def test_person_sees_only_their_own_notices_and_the_read_time_is_recorded(client, cast, affected):
    """SEC-4: the page shows the notices addressed to the signed-in person, with what
    happened, the data, the measures, the advice and the remedies; opening it records
    the read time (audited); others' notices are not shown."""
    incident = affected["incident"]
    services.send_incident_notices(incident, cast.staff)
    other = make_incident(title="Someone else's incident", people=[affected["named"]])
    services.send_incident_notices(other, cast.staff)
    client.force_login(cast.member_user)
    content = client.get(NOTICES_URL).content.decode()
    for text in (incident.title, incident.reference, incident.description, incident.measures, incident.advice):
        assert text in content
    assert incident.remedies in content and "Activity records (attendance, approvals, work logs)" in content
    assert "Someone else's incident" not in content
    mine = IncidentNotice.objects.get(incident=incident, user=cast.member_user, channel="in_app")
    assert mine.read_at is not None
    assert IncidentNotice.objects.get(incident=incident, user=affected["named"], channel="in_app").read_at is None
    event = AuditEvent.objects.get(action="incident.notices_read")
    assert (event.actor, event.subject_user, event.metadata["incidents"]) == (
        cast.member_user,
        cast.member_user,
        [incident.reference],
    )
    first_read = mine.read_at
    client.get(NOTICES_URL)
    mine.refresh_from_db()
    assert mine.read_at == first_read  # the first reading counts
    assert AuditEvent.objects.filter(action="incident.notices_read").count() == 1


def test_person_page_query_count_does_not_grow_with_notices(client, cast, django_assert_num_queries):
    """SEC-4: session, user, notices with their incidents, the layout's shutdown banner
    (ANON-6, cached); when unread, one savepoint pair, one update and one audit insert.
    Five notices cost what one costs."""
    client.force_login(cast.member_user)
    for index in range(5):
        services.send_incident_notices(make_incident(title=f"Incident {index}", people=[cast.member_user]), cast.staff)
    with django_assert_num_queries(8):
        response = client.get(NOTICES_URL)
    assert response.content.decode().count('data-testid="security-notice"') == 5
    with django_assert_num_queries(3):  # all read: nothing written; the banner is cached
        client.get(NOTICES_URL)


def test_person_page_needs_sign_in_and_says_when_there_is_nothing(client, cast):
    """SEC-4: visitors are sent to sign in; a person without notices reads so."""
    response = client.get(NOTICES_URL)
    assert response.status_code == 302 and "/accounts/sign-in/" in response["Location"]
    client.force_login(cast.owner)
    assert 'id="no-security-notices"' in client.get(NOTICES_URL).content.decode()


# --------------------------------------------------------------------------- the public page


def test_public_page_shows_only_published_announcements(client, cast):
    """SEC-4: without sign-in, the page lists published announcements (reference,
    title, text, categories) and nothing of unpublished incidents or of people."""
    published = make_incident(
        title="Public incident",
        announcement="Attendance exports were exposed; see the advice below.",
        announcement_published=True,
        announced_at=timezone.now(),
        organizations=[cast.organization],
    )
    make_incident(title="Draft announcement", announcement="Not ready yet", announcement_published=False)
    make_incident(title="Internal only")
    services.send_incident_notices(published, cast.staff)
    response = client.get(PUBLIC_URL)
    content = response.content.decode()
    assert response.status_code == 200
    assert content.count('data-testid="security-announcement"') == 1
    assert published.reference in content and "Attendance exports were exposed" in content
    assert "Draft announcement" not in content and "Not ready yet" not in content and "Internal only" not in content
    assert cast.member.name not in content and cast.organization.name not in content


def test_public_page_when_nothing_is_published(client, django_assert_num_queries):
    """SEC-4: one query (and the layout's shutdown banner), and a plain statement when
    there is nothing to announce."""
    make_incident()
    with django_assert_num_queries(2):
        content = client.get(PUBLIC_URL).content.decode()
    assert 'id="no-security-announcements"' in content


# --------------------------------------------------------------------------- the regulator report


def test_regulator_report_json_holds_the_incident_and_its_handling(client, cast, affected):
    """SEC-4: facts, deadline (met), timeline, notice counts by channel and status,
    measures, remedies; exporting is audited; no person is named."""
    incident = affected["incident"]
    services.send_incident_notices(incident, cast.staff)
    sms = IncidentNotice.objects.filter(incident=incident, channel="sms").order_by("pk").first()
    SMSMessage.objects.filter(pk=sms.sms_message_id).update(status=SMSStatus.SENT, sent_at=timezone.now())
    services.refresh_sms_notices()
    client.force_login(cast.staff)
    response = client.get(reverse("admin:organizations_securityincident_report_json", args=[incident.pk]))
    assert response.status_code == 200 and "attachment" in response["Content-Disposition"]
    report = json.loads(response.content)
    assert report["reference"] == incident.reference
    assert report["facts"]["data_categories"] == ["contact", "activity"]
    assert report["facts"]["affected_organizations"] == [cast.organization.name]
    assert (report["facts"]["people_named"], report["facts"]["people_notified"]) == (2, 3)
    assert report["notices"]["by_channel_and_status"] == {
        "sms": {"pending": 2, "sent": 1, "failed": 0},
        "in_app": {"pending": 0, "sent": 3, "failed": 0},
    }
    assert report["deadline"]["met"] is True and report["deadline"]["state"] == "met"
    assert report["timeline"]["notices_started_at"] is not None
    assert report["measures"] == incident.measures and report["remedies"] == incident.remedies
    body = response.content.decode()
    assert cast.member_user.phone not in body and "Colleague" not in body
    event = AuditEvent.objects.get(action="incident.report_exported")
    assert (event.actor, event.metadata["format"]) == (cast.staff, "json")


def test_regulator_report_printable_page_shows_a_missed_deadline(client, cast):
    """SEC-4: the printable page of an incident told too late says the deadline was
    not met."""
    incident = make_incident(days_ago=40, notified_at=timezone.now(), status=IncidentStatus.NOTIFIED)
    client.force_login(cast.staff)
    content = client.get(reverse("admin:organizations_securityincident_report", args=[incident.pk])).content.decode()
    assert incident.reference in content and 'id="report-deadline-met">no<' in content
    assert AuditEvent.objects.get(action="incident.report_exported").metadata["format"] == "html"


# --------------------------------------------------------------------------- the console


def add_form(**overrides) -> dict:
    data = {
        "title": "Leaked payroll file",
        "description": "A payroll file was emailed to a wrong recipient.",
        "discovered_at_0": (timezone.localtime() - timedelta(days=2)).strftime("%Y-%m-%d"),
        "discovered_at_1": "09:30:00",
        "occurred_from_0": "",
        "occurred_from_1": "",
        "occurred_to_0": "",
        "occurred_to_1": "",
        "data_categories": ["payroll", "id_numbers"],
        "organizations": "",
        "measures": "Recipient confirmed deletion.",
        "advice": "",
        "remedies": "",
        "status": "open",
        "announcement": "",
        "regulator_reported_at_0": "",
        "regulator_reported_at_1": "",
        "affected_people-TOTAL_FORMS": "1",
        "affected_people-INITIAL_FORMS": "0",
        "affected_people-MIN_NUM_FORMS": "0",
        "affected_people-MAX_NUM_FORMS": "1000",
        "affected_people-0-user": "",
    }
    data.update(overrides)
    return data


def test_staff_registers_an_incident_in_the_console(client, cast):
    """SEC-4: the add form saves the incident with its categories, organizations and
    people, by the staff member, audited."""
    client.force_login(cast.staff)
    data = add_form(organizations=str(cast.organization.pk), **{"affected_people-0-user": str(cast.owner.pk)})
    response = client.post(reverse("admin:organizations_securityincident_add"), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    incident = SecurityIncident.objects.get()
    assert incident.data_categories == ["payroll", "id_numbers"] and incident.created_by == cast.staff
    assert list(incident.organizations.all()) == [cast.organization]
    assert list(incident.affected_people.values_list("user_id", flat=True)) == [cast.owner.pk]
    assert incident.reference.startswith("SI-")
    event = AuditEvent.objects.get(action="incident.registered")
    assert event.actor == cast.staff and "affected_people" in event.changes and event.metadata["people"] == 1
    change = client.get(reverse("admin:organizations_securityincident_change", args=[incident.pk])).content.decode()
    assert incident.reference in change
    assert reverse("admin:organizations_securityincident_report", args=[incident.pk]) in change


def test_console_refuses_a_future_discovery_and_an_empty_published_announcement(client, cast):
    """SEC-4: bad input shows on the form and nothing is written."""
    client.force_login(cast.staff)
    future = (timezone.localtime() + timedelta(days=2)).strftime("%Y-%m-%d")
    response = client.post(
        reverse("admin:organizations_securityincident_add"),
        add_form(discovered_at_0=future, announcement_published="on"),
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["discovered_at"] == ["The discovery cannot lie in the future."]
    assert errors["announcement"] == ["Write the announcement before publishing it."]
    assert not SecurityIncident.objects.exists() and not AuditEvent.objects.exists()


def test_publishing_stamps_the_announcement_time(client, cast):
    """SEC-4: publishing the announcement records when (it counts as telling people)."""
    client.force_login(cast.staff)
    response = client.post(
        reverse("admin:organizations_securityincident_add"),
        add_form(announcement="Payroll data was exposed.", announcement_published="on"),
    )
    assert response.status_code == 302
    incident = SecurityIncident.objects.get()
    assert incident.announced_at is not None and incident.deadline_state() == DeadlineState.MET


def test_send_notices_action_in_the_console(client, cast, affected):
    """SEC-4: the console's action sends through the service and reports the counts;
    running it again reports nothing new."""
    client.force_login(cast.staff)
    data = {"action": "send_notices", "_selected_action": [affected["incident"].pk]}
    content = client.post(reverse(CHANGELIST), data, follow=True).content.decode()
    assert "3 in-app notices and 3 SMS sent, 0 SMS retried" in content
    content = client.post(reverse(CHANGELIST), data, follow=True).content.decode()
    assert "0 in-app notices and 0 SMS sent, 0 SMS retried" in content
    assert IncidentNotice.objects.count() == 6


@pytest.mark.parametrize(
    "url",
    [
        lambda pk: reverse(CHANGELIST),
        lambda pk: reverse("admin:organizations_securityincident_add"),
        lambda pk: reverse("admin:organizations_securityincident_change", args=[pk]),
        lambda pk: reverse("admin:organizations_securityincident_report", args=[pk]),
        lambda pk: reverse("admin:organizations_securityincident_report_json", args=[pk]),
    ],
)
def test_console_is_for_staff_only(client, cast, url):
    """SEC-1, SEC-4: anonymous people and members are sent to the console's sign-in;
    staff without the incident permissions get 403."""
    incident = make_incident()
    target = url(incident.pk)
    assert client.get(target).status_code == 302
    for person in (cast.member_user, cast.owner):
        client.force_login(person)
        response = client.get(target)
        assert response.status_code == 302 and "/ops/login/" in response["Location"]
    client.force_login(UserFactory(is_staff=True))
    assert client.get(target).status_code == 403
    assert not AuditEvent.objects.filter(action="incident.report_exported").exists()


def test_sending_needs_its_own_permission(client, cast, affected):
    """SEC-1: staff who may view and change incidents but lack "send incident notices"
    do not get the action; posting it anyway sends nothing."""
    clerk = UserFactory(is_staff=True)
    clerk.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="organizations",
            codename__in=["view_securityincident", "change_securityincident"],
        )
    )
    client.force_login(clerk)
    listing = client.get(reverse(CHANGELIST))
    assert listing.status_code == 200 and "send_notices" not in listing.content.decode()
    client.post(reverse(CHANGELIST), {"action": "send_notices", "_selected_action": [affected["incident"].pk]})
    assert not IncidentNotice.objects.exists()
    clerk.user_permissions.add(Permission.objects.get(codename="send_incident_notices"))
    clerk = type(clerk).objects.get(pk=clerk.pk)  # drop the permission cache
    client.force_login(clerk)
    assert "send_notices" in client.get(reverse(CHANGELIST)).content.decode()
