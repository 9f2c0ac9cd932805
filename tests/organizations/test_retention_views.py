"""The retention settings page (ANON-5): who sees and who changes it (the collection
page's gate, ORG-5), saving through the service with an audit event, refusing bad
months without writing anything, the explanation of what the daily sweep does read
from each table's personal-data declaration, and a pinned query count."""

from __future__ import annotations

import pytest
from django.urls import reverse

from dataprotection import anonymization
from dataprotection.models import AuditEvent, StageAction
from organizations.context_processors import cached_shutdown_notices
from organizations.models import RecordKind, RetentionSetting
from organizations.services.retention import retention_settings

pytestmark = pytest.mark.django_db


def url(cast) -> str:
    return reverse("organizations:retention", args=[cast.organization.pk])


def form_data(**months) -> dict:
    """The form as the page posts it: every kind, empty unless given."""
    return {f"months_{kind}": months.get(kind, "") for kind in RecordKind.values}


# --------------------------------------------------------------------------- permission matrix

MATRIX = {  # GET, POST -- as the collection settings page (ORG-5)
    "owner": (200, 302),
    "org_editor": (200, 403),  # edit_roster on the whole organization: read-only
    "sub_admin": (403, 403),  # edit_roster on Sales only
    "out_of_scope_sub_admin": (403, 403),  # edit_roster on Engineering only
    "other_org_admin": (404, 404),
    "member_user": (404, 404),
    "anonymous": (302, 302),
}


@pytest.mark.parametrize("role", MATRIX)
def test_permission_matrix(client, cast, org_editor, role):
    """ANON-5: only the owner sets retention; an administrator with edit_roster on the
    whole organization sees it read-only; scoped sub-administrators get 403, anyone
    outside the organization 404, an anonymous visitor the sign-in page."""
    if role == "org_editor":
        client.force_login(org_editor)
    elif role != "anonymous":
        client.force_login(getattr(cast, role))
    get = client.get(url(cast))
    post = client.post(url(cast), form_data(attendance="6"))
    assert (get.status_code, post.status_code) == MATRIX[role]
    if role == "anonymous":
        assert get["Location"].startswith(reverse("accounts:login"))
        assert post["Location"].startswith(reverse("accounts:login"))
    if role == "owner":
        assert post["Location"] == url(cast)
        assert retention_settings(cast.organization)["attendance"] == 6
        content = get.content.decode()
        assert 'name="months_attendance"' in content and "Save</button>" in content
        assert "Only the owner can change" not in content
    else:
        assert not RetentionSetting.objects.exists()
        assert not AuditEvent.objects.filter(action="organization.retention_changed").exists()
    if role == "org_editor":
        content = get.content.decode()
        assert "Only the owner can change the retention settings." in content
        assert 'name="months_attendance"' in content and "disabled" in content
        assert "Save</button>" not in content


def test_menu_links_the_page_where_the_collection_page_is_linked(client, cast, org_editor):
    """ANON-5: the organization menu shows the retention link to the owner and to a
    whole-organization roster editor, next to the collection settings; not to a scoped
    sub-administrator."""
    link = f'href="{url(cast)}"'
    roster = reverse("organizations:roster", args=[cast.organization.pk])
    for user, shown in ((cast.owner, True), (org_editor, True), (cast.sub_admin, False)):
        client.force_login(user)
        page = client.get(roster).content.decode()
        assert (link in page) is shown
        if shown:
            collection = page.index(f'href="{reverse("organizations:collection", args=[cast.organization.pk])}"')
            assert page.index(link) > collection


# --------------------------------------------------------------------------- saving


def test_owner_saves_months_and_it_is_audited(client, cast):
    """ANON-5: the owner's months are stored per kind, an empty field removes the
    limit, and each change is one audit event with before and after."""
    client.force_login(cast.owner)
    response = client.post(url(cast), form_data(attendance="6", drive="24"), REMOTE_ADDR="203.0.113.9", follow=True)
    assert "The retention settings were saved." in response.content.decode()
    assert retention_settings(cast.organization) == {
        "attendance": 6,
        "approvals": None,
        "work_logs": None,
        "schedule": None,
        "drive": 24,
    }
    event = AuditEvent.objects.get(action="organization.retention_changed")
    assert (event.actor, event.organization_id, event.ip_address) == (cast.owner, cast.organization.pk, "203.0.113.9")
    assert event.metadata == {"attendance": {"before": None, "after": 6}, "drive": {"before": None, "after": 24}}

    page = client.get(url(cast)).content.decode()
    assert 'name="months_attendance" value="6"' in page

    response = client.post(url(cast), form_data(drive="24"), follow=True)  # attendance: keep again
    assert retention_settings(cast.organization)["attendance"] is None
    assert AuditEvent.objects.filter(action="organization.retention_changed").latest("pk").metadata == {
        "attendance": {"before": 6, "after": None}
    }
    client.post(url(cast), form_data(drive="24"))  # nothing changes, nothing is audited
    assert AuditEvent.objects.filter(action="organization.retention_changed").count() == 2


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("six", "Enter a whole number of months, or leave it empty."),
        ("1.5", "Enter a whole number of months, or leave it empty."),
        ("0", "Ensure this value is greater than or equal to 1."),
        ("-3", "Ensure this value is greater than or equal to 1."),
        ("601", "Ensure this value is less than or equal to 600."),
    ],
)
def test_bad_months_re_render_with_errors_and_write_nothing(client, cast, value, message):
    """ANON-5: months are a whole number from 1 to 600 (or empty); anything else shows
    the error next to the field and nothing is stored or audited, not even the valid
    fields of the same form."""
    RetentionSetting.objects.create(organization=cast.organization, kind="drive", months=36)
    client.force_login(cast.owner)
    response = client.post(url(cast), form_data(attendance="12", work_logs=value, drive="24"))
    assert response.status_code == 200
    assert response.context["form"].errors == {"months_work_logs": [message]}
    content = response.content.decode()
    assert message in content and 'id="id_months_work_logs-errors"' in content
    assert retention_settings(cast.organization) == {
        "attendance": None,
        "approvals": None,
        "work_logs": None,
        "schedule": None,
        "drive": 36,
    }
    assert not AuditEvent.objects.filter(action="organization.retention_changed").exists()


# --------------------------------------------------------------------------- the explanation


def row(content: str, kind: str) -> str:
    start = content.index(f'data-kind="{kind}"')
    return content[start : content.index("</tr>", start)]


def test_page_explains_what_the_sweep_does_to_each_kind(client, cast):
    """ANON-5: punches, approvals, work logs and schedule entries are anonymized in
    place (the date kept); drive files are deleted with their stored files."""
    client.force_login(cast.owner)
    content = client.get(url(cast)).content.decode()
    assert "Every day a sweep anonymizes or deletes" in content
    assert "kept as long as the organization exists" in content
    for kind in ("attendance", "approvals", "work_logs", "schedule"):
        assert 'data-action="anonymize"' in row(content, kind)
        assert "the date is kept for statistics" in row(content, kind)
    assert 'data-action="delete"' in row(content, "drive")
    assert "Deleted, together with their stored files." in row(content, "drive")


def test_explanation_follows_the_tables_declaration(client, cast, monkeypatch):
    """ANON-5: the page reads the action from the personal-data declaration (the one
    the sweep applies), so it cannot drift from what happens."""
    declared = anonymization.default_action

    def approvals_deleted(model):
        return StageAction.DELETE if model._meta.label == "organizations.ApprovalRecord" else declared(model)

    monkeypatch.setattr(anonymization, "default_action", approvals_deleted)
    client.force_login(cast.owner)
    content = client.get(url(cast)).content.decode()
    assert 'data-action="delete"' in row(content, "approvals")
    assert 'data-action="anonymize"' in row(content, "attendance")


# --------------------------------------------------------------------------- query count


@pytest.mark.parametrize(("role", "queries"), [("owner", 4), ("org_editor", 5)])
def test_get_query_count_is_pinned(client, cast, org_editor, django_assert_num_queries, role, queries):
    """ANON-5: 1 session, 2 user, 3 the gate's administrator row with its organization,
    [4 the grants -- sub-administrators only], then one query for the settings; the
    service notices come from the cache (warm in steady state)."""
    for kind in ("attendance", "approvals", "drive"):
        RetentionSetting.objects.create(organization=cast.organization, kind=kind, months=12)
    client.force_login(org_editor if role == "org_editor" else cast.owner)
    cached_shutdown_notices()
    with django_assert_num_queries(queries):
        response = client.get(url(cast))
    assert response.status_code == 200
