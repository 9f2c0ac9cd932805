"""The catalog in the operations console (SVC-1): staff add and change services
through ``save_catalog_service`` (validated, audited, the revision raised when scopes
are added), secrets are write-only, and the grant, token, disclosure and notice lists
are read-only with a "retry now" action for notices."""

from __future__ import annotations

import hashlib
import re

import pytest
from django.urls import reverse

from consent.models.sharing import DeletionNotice, NoticeReason, ProviderToken, Service
from consent.services import notices, tokens
from dataprotection.models import AuditEvent
from tests.consent.test_sharing import NOTICE_SECRET, open_for, third_party

pytestmark = pytest.mark.django_db


def form(**overrides) -> dict:
    data = {
        "code": "acme-hr",
        "name": "Acme HR",
        "kind": "third_party",
        "description": "",
        "provider_name": "Acme Ltd.",
        "privacy_policy_url": "https://acme.example/privacy",
        "data_scopes": ["name", "departments"],
        "notice_url": "https://acme.example/custodia/notices",
        "organization": "",
        "listed": "on",
        "rotate_client_secret": "on",
        "new_notice_secret": "a-long-notice-secret-value",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def test_staff_add_a_third_party_app_and_see_the_client_secret_once(client, cast):
    """SVC-1: the new client secret is shown once; only its digest is stored."""
    client.force_login(cast.staff)
    response = client.post(reverse("admin:consent_service_add"), form(), follow=True)
    assert response.status_code == 200
    service = Service.objects.get(code="acme-hr")
    page = response.content.decode()
    secret = re.search(r"shown only this once: (css_[\w-]+)", page).group(1)
    assert service.client_secret_digest == hashlib.sha256(secret.encode()).hexdigest()
    assert service.notice_secret == "a-long-notice-secret-value"
    assert (service.data_scopes, service.scopes_revision) == (["name", "departments"], 1)
    assert AuditEvent.objects.get(action="service.catalog_added").actor == cast.staff
    change = client.get(reverse("admin:consent_service_change", args=[service.pk])).content.decode()
    assert secret not in change and "a-long-notice-secret-value" not in change
    assert service.client_secret_digest not in change


@pytest.mark.parametrize("missing", ["provider_name", "privacy_policy_url", "notice_url"])
def test_a_third_party_app_needs_provider_policy_and_endpoint(client, cast, missing):
    client.force_login(cast.staff)
    response = client.post(reverse("admin:consent_service_add"), form(**{missing: ""}))
    assert response.status_code == 200
    assert missing in response.context["adminform"].form.errors
    assert not Service.objects.filter(code="acme-hr").exists()


def test_unknown_scopes_are_refused(client, cast):
    client.force_login(cast.staff)
    response = client.post(reverse("admin:consent_service_add"), form(data_scopes=["salary"]))
    assert "data_scopes" in response.context["adminform"].form.errors


def test_adding_scopes_raises_the_revision(client, cast):
    """SVC-1, SVC-2: organizations that opened the service are asked to confirm again."""
    service = third_party()
    client.force_login(cast.staff)
    response = client.post(
        reverse("admin:consent_service_change", args=[service.pk]),
        form(
            code=service.code,
            data_scopes=["name", "mobile", "office_phone"],
            rotate_client_secret=None,
            new_notice_secret="",
        ),
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    service.refresh_from_db()
    assert service.scopes_revision == 2
    assert service.notice_secret == NOTICE_SECRET  # kept: the field was left empty
    assert AuditEvent.objects.get(action="service.catalog_changed").metadata["added_scopes"] == ["office_phone"]


def test_read_only_lists_show_no_raw_token(client, cast):
    grant = open_for(cast, third_party())
    raw, token = tokens.issue_token(grant=grant)
    client.force_login(cast.staff)
    for name in ("sharinggrant", "providertoken", "disclosure", "deletionnotice"):
        assert client.get(reverse(f"admin:consent_{name}_changelist")).status_code == 200
        assert client.get(reverse(f"admin:consent_{name}_add")).status_code == 403
    page = client.get(reverse("admin:consent_providertoken_change", args=[token.pk])).content.decode()
    assert raw not in page and token.digest not in page and token.prefix in page


def test_retry_now_action(client, cast):
    """Operations: pending notices are tried now; acknowledged ones are left alone."""
    pending = notices.queue_deletion_notice(third_party(), NoticeReason.SERVICE_CLOSED)
    notices.deliver_notice(pending.pk)  # fails: the port is closed
    done = notices.queue_deletion_notice(third_party("done-app"), NoticeReason.SERVICE_CLOSED)
    DeletionNotice.objects.filter(pk=done.pk).update(status="acknowledged")
    client.force_login(cast.staff)
    response = client.post(
        reverse("admin:consent_deletionnotice_changelist"),
        {"action": "retry_now", "_selected_action": [pending.pk, done.pk]},
        follow=True,
    )
    page = response.content.decode()
    assert "1 notice will be sent now." in page and "1 notice was left alone" in page
    assert AuditEvent.objects.filter(action="service.deletion_notices_retried").count() == 1
    assert ProviderToken.objects.count() == 0


def test_a_notice_endpoint_without_a_signing_secret_is_refused(client, cast):
    """SVC-3: a deletion notice nobody can verify would wait forever: the console
    refuses the entry with a clear error on the secret, and nothing is saved."""
    client.force_login(cast.staff)
    response = client.post(reverse("admin:consent_service_add"), form(new_notice_secret=""))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "A deletion notice endpoint needs a signing secret" in str(errors["new_notice_secret"])
    assert not Service.objects.filter(code="acme-hr").exists()
    assert not AuditEvent.objects.filter(action="service.catalog_added").exists()


def test_setting_the_missing_secret_sends_the_waiting_notices_now(client, cast, django_capture_on_commit_callbacks):
    """A notice stuck on a service without a secret (entered before the check existed)
    is listed for operations as waiting on them, with the way to fix it; setting the
    secret sends it again at once instead of after its backoff."""
    service = third_party()
    Service.objects.filter(pk=service.pk).update(notice_secret="")
    service.refresh_from_db()
    stuck = notices.queue_deletion_notice(service, NoticeReason.SERVICE_CLOSED)
    notices.deliver_notice(stuck.pk)
    stuck.refresh_from_db()
    assert (stuck.status, stuck.attempts, stuck.last_error) == ("pending", 1, "no notice signing secret is configured")
    client.force_login(cast.staff)
    waiting = client.get(reverse("admin:consent_deletionnotice_changelist") + "?waiting_on=operations").content.decode()
    assert str(stuck.uuid) in waiting and "Set up the service" in waiting
    assert reverse("admin:consent_service_change", args=[service.pk]) in waiting

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:consent_service_change", args=[service.pk]),
            form(code=service.code, notice_url=service.notice_url, rotate_client_secret=None),
        )
    assert response.status_code == 302
    service.refresh_from_db()
    assert service.notice_secret == "a-long-notice-secret-value"
    stuck.refresh_from_db()
    # Sent again right away (the closed port refuses it: now a provider problem).
    assert stuck.attempts == 2 and stuck.last_error.startswith("connection failed")
    assert AuditEvent.objects.get(action="service.catalog_changed").metadata["notices_resent"] == [stuck.pk]
    assert (
        str(stuck.uuid)
        not in client.get(
            reverse("admin:consent_deletionnotice_changelist") + "?waiting_on=operations"
        ).content.decode()
    )
