"""Service shutdowns as people see them (ANON-6): a banner on every page while one is
announced, the public notices page with what happens to the data, and the operations
console that announces and cancels them only through the service."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from dataprotection.models import AuditEvent
from organizations.models import ServiceShutdown, ShutdownStatus
from organizations.services.retention import announce_shutdown, cancel_shutdown

pytestmark = pytest.mark.django_db

ANNOUNCEMENT = "Attendance moves to the new time clock; punches are anonymized on the day it stops."


def announce(cast, kind: str = "attendance", days: int = 45, announcement: str = ANNOUNCEMENT) -> ServiceShutdown:
    return announce_shutdown(
        cast.staff, kind=kind, announcement=announcement, effective_at=timezone.now() + timedelta(days=days)
    )


def banners(response) -> list[str]:
    content = response.content.decode()
    found, start = [], 0
    while (start := content.find('data-testid="shutdown-notice"', start)) != -1:
        found.append(content[start : content.index("</p>", start)])
        start += 1
    return found


# --------------------------------------------------------------------------- the banner


def test_banner_on_every_page_while_announced(client, cast):
    """ANON-6: while a shutdown is announced, the home page (signed out) and an
    organization page (signed in) say which service stops, when, the announcement and
    where to read what happens to the data."""
    shutdown = announce(cast)
    date = timezone.localtime(shutdown.effective_at).strftime("%Y-%m-%d")
    (banner,) = banners(client.get(reverse("home")))
    assert f"<strong>Attendance punches</strong> stops on {date}:" in banner
    assert ANNOUNCEMENT in banner and f'href="{reverse("service_notices")}"' in banner

    client.force_login(cast.owner)
    (banner,) = banners(client.get(reverse("organizations:dashboard", args=[cast.organization.pk])))
    assert "Attendance punches" in banner and ANNOUNCEMENT in banner


def test_no_banner_after_cancel_or_once_done(client, cast):
    """ANON-6: a cancelled shutdown, or one carried out, is no longer announced (the
    cached list is refreshed within a minute: the cache is cleared here for that)."""
    assert banners(client.get(reverse("home"))) == []
    shutdown = announce(cast)
    cache.clear()
    assert len(banners(client.get(reverse("home")))) == 1

    ServiceShutdown.objects.filter(pk=shutdown.pk).update(status=ShutdownStatus.RUNNING)
    cache.clear()
    assert len(banners(client.get(reverse("home")))) == 1  # still being carried out

    ServiceShutdown.objects.filter(pk=shutdown.pk).update(status=ShutdownStatus.DONE)
    cache.clear()
    assert banners(client.get(reverse("home"))) == []

    other = announce(cast, kind="drive")
    cache.clear()
    assert 'data-kind="drive"' in banners(client.get(reverse("home")))[0]
    assert cancel_shutdown(cast.staff, other)
    cache.clear()
    assert banners(client.get(reverse("home"))) == []


def test_banner_costs_one_query_when_the_cache_is_cold_and_none_when_warm(client, cast, django_assert_num_queries):
    """ANON-6: the banner list is read once per minute, not per page: one query when
    the cache is cold, whatever the number of notices, none when it is warm."""
    announce(cast)
    announce(cast, kind="drive")
    with django_assert_num_queries(1):
        assert len(banners(client.get(reverse("home")))) == 2
    with django_assert_num_queries(0):
        assert len(banners(client.get(reverse("home")))) == 2


# --------------------------------------------------------------------------- the public page


def test_notices_page_is_public_and_lists_current_and_past_shutdowns(client, cast):
    """ANON-6: without signing in, anyone reads the current and past shutdowns with
    their dates and what happens to the service's data; cancelled ones are not
    listed."""
    current = announce(cast, kind="drive", announcement="Drive closes; files are deleted.")
    past = ServiceShutdown.objects.create(
        kind="schedule",
        announcement="Scheduling was retired.",
        announced_at=timezone.now() - timedelta(days=90),
        effective_at=timezone.now() - timedelta(days=40),
        status=ShutdownStatus.DONE,
    )
    cancelled = announce(cast, kind="approvals", announcement="Approvals will close (called off).")
    ServiceShutdown.objects.filter(pk=cancelled.pk).update(status=ShutdownStatus.CANCELLED)

    response = client.get(reverse("service_notices"))
    assert response.status_code == 200
    content = response.content.decode()
    current_part = content[content.index('id="current-notices"') : content.index("Past notices")]
    past_part = content[content.index('id="past-notices"') :]
    assert "Drive closes; files are deleted." in current_part
    assert timezone.localtime(current.effective_at).strftime("%Y-%m-%d %H:%M") in current_part
    assert "Deleted, together with their stored files." in current_part
    assert "Scheduling was retired." in past_part and "Data erased" in past_part
    assert timezone.localtime(past.effective_at).strftime("%Y-%m-%d") in past_part
    assert "the date is kept for statistics" in past_part
    assert "called off" not in content
    assert client.post(reverse("service_notices")).status_code == 405


def test_notices_page_with_nothing_announced(client, db):
    """ANON-6: the page says when no service is scheduled to stop."""
    content = client.get(reverse("service_notices")).content.decode()
    assert "No service is scheduled to stop." in content and 'data-testid="shutdown-notice"' not in content


# --------------------------------------------------------------------------- the operations console


def add_data(effective_at, kind: str = "attendance", announcement: str = ANNOUNCEMENT) -> dict:
    local = timezone.localtime(effective_at)
    return {
        "kind": kind,
        "announcement": announcement,
        "effective_at_0": local.strftime("%Y-%m-%d"),
        "effective_at_1": local.strftime("%H:%M:%S"),
    }


ADD_URL = "admin:organizations_serviceshutdown_add"


def test_admin_refuses_too_short_notice_on_the_form_and_writes_nothing(client, cast, settings):
    """ANON-6: with less notice than the policy promises, the add form shows the
    service's error on the date field; no shutdown and no audit event are written."""
    client.force_login(cast.staff)
    response = client.post(reverse(ADD_URL), add_data(timezone.now() + timedelta(days=10)))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["effective_at"]
    assert f"at least {settings.SERVICE_SHUTDOWN_NOTICE_DAYS} days before it takes effect" in errors["effective_at"][0]
    assert "at least 30 days before it takes effect" in response.content.decode()
    assert not ServiceShutdown.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="service.").exists()


def test_admin_refuses_a_second_announcement_of_the_same_service(client, cast):
    """ANON-6: one open shutdown per service; the second is refused on the form."""
    announce(cast)
    client.force_login(cast.staff)
    response = client.post(reverse(ADD_URL), add_data(timezone.now() + timedelta(days=60)))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["kind"] == ["A shutdown of this service is already announced."]
    assert ServiceShutdown.objects.count() == 1


def test_admin_announces_through_the_service(client, cast):
    """ANON-6: with enough notice the shutdown is created by ``announce_shutdown``:
    announced by the staff member, with its audit event."""
    client.force_login(cast.staff)
    effective_at = (timezone.now() + timedelta(days=45)).replace(microsecond=0)
    response = client.post(reverse(ADD_URL), add_data(effective_at, announcement=f"  {ANNOUNCEMENT}  "))
    assert response.status_code == 302
    shutdown = ServiceShutdown.objects.get()
    assert (shutdown.kind, shutdown.status, shutdown.announced_by) == ("attendance", "announced", cast.staff)
    assert shutdown.announcement == ANNOUNCEMENT and shutdown.effective_at == effective_at
    event = AuditEvent.objects.get(action="service.shutdown_announced")
    assert (event.actor, event.target_id, event.metadata["kind"]) == (cast.staff, str(shutdown.pk), "attendance")


def test_admin_lists_shows_read_only_rows_and_never_deletes(client, cast):
    """ANON-6: the list shows kind, status, dates and job; an existing row cannot be
    changed or deleted from the console."""
    shutdown = announce(cast)
    ServiceShutdown.objects.filter(pk=shutdown.pk).update(job_id=4242)
    client.force_login(cast.staff)
    listing = client.get(reverse("admin:organizations_serviceshutdown_changelist")).content.decode()
    assert "Attendance punches" in listing and "Announced" in listing and "4242" in listing
    change = reverse("admin:organizations_serviceshutdown_change", args=[shutdown.pk])
    page = client.get(change)
    assert page.status_code == 200 and 'name="announcement"' not in page.content.decode()
    assert client.post(change, {"kind": "drive", "announcement": "x"}).status_code == 403
    delete = reverse("admin:organizations_serviceshutdown_delete", args=[shutdown.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert ServiceShutdown.objects.get(pk=shutdown.pk).kind == "attendance"


def test_admin_cancel_action_goes_through_the_service(client, cast):
    """ANON-6: the console's cancel action calls off announced shutdowns (audited);
    one already being carried out is left alone and reported."""
    announced = announce(cast)
    running = announce(cast, kind="drive")
    ServiceShutdown.objects.filter(pk=running.pk).update(status=ShutdownStatus.RUNNING)
    client.force_login(cast.staff)
    response = client.post(
        reverse("admin:organizations_serviceshutdown_changelist"),
        {"action": "cancel_shutdowns", "_selected_action": [announced.pk, running.pk]},
        follow=True,
    )
    content = response.content.decode()
    assert "1 shutdown was cancelled." in content and "1 shutdown was not cancelled" in content
    assert ServiceShutdown.objects.get(pk=announced.pk).status == ShutdownStatus.CANCELLED
    assert ServiceShutdown.objects.get(pk=running.pk).status == ShutdownStatus.RUNNING
    event = AuditEvent.objects.get(action="service.shutdown_cancelled")
    assert (event.actor, event.target_id) == (cast.staff, str(announced.pk))


def test_banner_survives_a_cache_that_is_down(client, cast, monkeypatch):
    """ANON-6: the cache only saves a query; with it down every page still renders and
    still announces the shutdown."""
    announce(cast)

    def down(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(cache, "get", down)
    monkeypatch.setattr(cache, "set", down)
    response = client.get(reverse("home"))
    assert response.status_code == 200
    (banner,) = banners(response)
    assert ANNOUNCEMENT in banner
