"""Roster list (ORG-7): total count, page numbers, whitelisted sorting with a stable
second order, the status filter; and the bulk actions on a selection -- move to a
department, remove from the roster, export -- through the permission gate (ORG-9: 404
out of scope, 403 without the right, refused as a whole when any selected entry is
outside the caller's rights, nothing written), the freeze of a pending disband (ORG-11)
and the children's rule (SEC-3: never exported in bulk)."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from dataprotection.models import AuditEvent
from organizations.models import Member, MemberDepartment, MemberStatus, Organization, OrganizationStatus, Right
from organizations.services import roster_bulk
from organizations.services.grants import grant_rights
from organizations.views.roster import page_numbers
from tests.factories import DepartmentFactory, MemberFactory

pytestmark = pytest.mark.django_db

ACTIONS = ("move", "remove", "export")


def roster_url(cast, **query) -> str:
    url = reverse("organizations:roster", args=[cast.organization.pk])
    if query:
        url += "?" + "&".join(f"{key}={value}" for key, value in query.items())
    return url


def bulk_url(cast, action: str) -> str:
    return reverse(f"organizations:roster_bulk_{action}", args=[cast.organization.pk])


def names(response) -> list[str]:
    return [member.name for member in response.context["members"]]


def primary_department(member: Member):
    return MemberDepartment.objects.get(member=member, is_primary=True).department


def flash(response) -> str:
    return " ".join(str(message) for message in get_messages(response.wsgi_request))


@pytest.fixture
def people(cast):
    """``cast.member`` (Sales East), a Sales lead (Sales), an engineer (Engineering)."""
    return {
        "member": cast.member,
        "lead": MemberFactory(organization=cast.organization, department=cast.sales, name="Sales Lead"),
        "engineer": MemberFactory(organization=cast.organization, department=cast.engineering, name="Engineer"),
    }


def post_action(client, cast, action: str, ids, **extra):
    data = {"members": [str(pk) for pk in ids], "return_query": "sort=-name", **extra}
    if action == "move":
        data.setdefault("target", str(cast.sales_east.pk))
    if action == "remove":
        data.setdefault("confirm", "1")
    return client.post(bulk_url(cast, action), data)


def snapshot(cast):
    return (
        sorted(MemberDepartment.objects.values_list("member_id", "department_id", "is_primary")),
        sorted(Member.objects.filter(organization=cast.organization).values_list("pk", "status")),
    )


# --------------------------------------------------------------------------- list: count, pages, sorting


def test_total_count_and_page_numbers(client, cast):
    MemberFactory.create_batch(120, organization=cast.organization, department=cast.sales)
    client.force_login(cast.owner)
    response = client.get(roster_url(cast, page=2))
    assert response.context["total"] == 121
    assert response.context["last_page"] == 3
    content = response.content.decode()
    assert "<strong>121</strong> members" in content and "Showing 51–100" in content
    assert '<span aria-current="page">2</span>' in content
    assert 'href="?page=3"' in content and 'href="?"' in content  # page 1 has no parameter
    # Past the end: the last page, not an empty one.
    beyond = client.get(roster_url(cast, page=99))
    assert beyond.context["page"] == 3 and len(beyond.context["members"]) == 21


def test_page_numbers_window():
    assert page_numbers(1, 1) == [1]
    assert page_numbers(1, 4) == [1, 2, 3, 4]
    assert page_numbers(6, 20) == [1, None, 4, 5, 6, 7, 8, None, 20]
    assert page_numbers(20, 20) == [1, None, 18, 19, 20]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("name", ["Anna", "Bo", "Cai", "Member"]),
        ("-name", ["Member", "Cai", "Bo", "Anna"]),
        ("employee_number", ["Member", "Cai", "Anna", "Bo"]),  # blank first
        ("-employee_number", ["Bo", "Anna", "Cai", "Member"]),
        ("position", ["Member", "Bo", "Anna", "Cai"]),
        ("department", ["Anna", "Cai", "Bo", "Member"]),  # Engineering, Sales, Sales East (by name, pk)
        ("status", ["Bo", "Member", "Anna", "Cai"]),  # invited, then joined (by pk), then left
        ("-status", ["Cai", "Anna", "Member", "Bo"]),
        ("password", ["Anna", "Bo", "Cai", "Member"]),  # not a sort key: the default
    ],
)
def test_sorting_by_whitelisted_columns(client, cast, sort, expected):
    MemberFactory(
        organization=cast.organization,
        department=cast.engineering,
        name="Anna",
        employee_number="E-1",
        position="Engineer",
        status="active",
    )
    MemberFactory(
        organization=cast.organization,
        department=cast.sales,
        name="Bo",
        employee_number="S-9",
        position="Assistant",
        status="invited",
    )
    MemberFactory(organization=cast.organization, department=cast.engineering, name="Cai", employee_number="A-1",
                  position="Manager", status="left")  # fmt: skip
    client.force_login(cast.owner)
    response = client.get(roster_url(cast, sort=sort, status="all"))
    assert response.status_code == 200
    assert names(response) == expected


def test_equal_sort_values_keep_a_stable_order_across_pages(client, cast):
    """The primary key orders ties the same way on every page: paging through a
    roster where every name is equal shows every entry exactly once."""
    created = [MemberFactory(organization=cast.organization, department=cast.sales, name="Same").pk for _ in range(60)]
    client.force_login(cast.owner)
    for sort, ordered in (("name", sorted(created)), ("-name", sorted(created, reverse=True))):
        seen = []
        for page in (1, 2):
            response = client.get(roster_url(cast, sort=sort, q="Same", page=page))
            seen += [member.pk for member in response.context["members"]]
        assert seen == ordered, sort


def test_sort_headers_link_to_the_other_direction_and_keep_the_filters(client, cast):
    client.force_login(cast.owner)
    content = client.get(roster_url(cast, sort="position", department=cast.sales.pk)).content.decode()
    assert f'aria-sort="ascending"><a class="sort" href="?department={cast.sales.pk}&amp;sort=-position"' in content
    assert f'aria-sort="none"><a class="sort" href="?department={cast.sales.pk}"' in content  # name: the default


def test_status_filter_shows_current_members_unless_asked(client, cast):
    left = MemberFactory(organization=cast.organization, department=cast.sales, name="Gone", status="left")
    client.force_login(cast.owner)
    assert "Gone" not in names(client.get(roster_url(cast)))
    assert names(client.get(roster_url(cast, status="left"))) == ["Gone"]
    assert "Gone" in names(client.get(roster_url(cast, status="all")))
    assert left.pk not in {m.pk for m in client.get(roster_url(cast, status="nonsense")).context["members"]}


# --------------------------------------------------------------------------- bulk actions: permission matrix

# Selecting ``cast.member`` (Sales East): expected status per role for move (to Sales
# East), remove (confirmed) and export. A refused action redirects back with an error.
MATRIX = {
    "owner": (302, 302, 200),
    "sub_admin": (302, 302, 200),  # edit/view roster on Sales
    "out_of_scope_sub_admin": (302, 302, 302),  # Engineering only: refused, nothing written
    "member_user": (404, 404, 404),
    "other_org_admin": (404, 404, 404),
    "staff": (404, 404, 404),
}
WRITES = {"owner": True, "sub_admin": True}


@pytest.mark.parametrize("role", list(MATRIX))
def test_permission_matrix_of_the_bulk_actions(client, cast, people, role):
    client.force_login(getattr(cast, role))
    before = snapshot(cast)
    statuses = []
    for action in ACTIONS:
        response = post_action(client, cast, action, [cast.member.pk] if action != "move" else [people["lead"].pk])
        statuses.append(response.status_code)
        if role == "out_of_scope_sub_admin":
            assert response["Location"].endswith(roster_url(cast, sort="-name"))
            assert "nothing was changed" in flash(response) or "Select a valid choice" in flash(response)
    assert tuple(statuses) == MATRIX[role]
    if role in WRITES:
        assert primary_department(people["lead"]) == cast.sales_east
        assert Member.objects.get(pk=cast.member.pk).status == MemberStatus.LEFT
        assert set(AuditEvent.objects.values_list("action", flat=True)) == {
            "roster.members_moved",
            "roster.members_removed",
            "roster.selection_exported",
        }
    else:
        assert snapshot(cast) == before
        assert not AuditEvent.objects.exists()


def test_anonymous_visitors_are_sent_to_sign_in(client, cast, people):
    for action in ACTIONS:
        response = post_action(client, cast, action, [cast.member.pk])
        assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:login"))
    assert not AuditEvent.objects.exists()


def test_bulk_actions_are_post_only(client, cast):
    client.force_login(cast.owner)
    assert all(client.get(bulk_url(cast, action)).status_code == 405 for action in ACTIONS)


@pytest.mark.parametrize("action", ACTIONS)
def test_a_selection_partly_outside_the_scope_is_refused_as_a_whole(client, cast, people, action):
    """ORG-9: the Sales sub-administrator selects a Sales member and an engineer: the
    whole action is refused with a clear error and nothing is written or audited."""
    client.force_login(cast.sub_admin)
    before = snapshot(cast)
    response = post_action(client, cast, action, [cast.member.pk, people["engineer"].pk])
    assert response.status_code == 302
    assert "1 of the selected members is outside your rights for this action; nothing was changed." in flash(response)
    assert snapshot(cast) == before
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize("action", ACTIONS)
def test_unknown_and_other_organizations_ids_are_refused_like_out_of_scope(client, cast, people, action):
    elsewhere = MemberFactory(name="Elsewhere")  # another organization
    client.force_login(cast.owner)
    before = snapshot(cast)
    for ids in ([cast.member.pk, elsewhere.pk], [cast.member.pk, 987654]):
        response = post_action(client, cast, action, ids)
        assert "1 of the selected members is outside your rights" in flash(response)
    assert snapshot(cast) == before and not AuditEvent.objects.exists()


@pytest.mark.parametrize("action", ACTIONS)
def test_an_empty_or_malformed_selection_is_refused(client, cast, action):
    client.force_login(cast.owner)
    assert "Select at least one member." in flash(post_action(client, cast, action, []))
    assert "The selection is not valid" in flash(post_action(client, cast, action, ["x"]))
    assert not AuditEvent.objects.exists()


def test_a_viewer_without_edit_roster_gets_403_for_move_and_remove(client, cast, people):
    from tests.factories import AdministratorFactory, UserFactory

    viewer = UserFactory(name="Viewer")
    AdministratorFactory(organization=cast.organization, user=viewer, scope=[cast.sales])
    grant_rights(viewer, [Right.VIEW_ROSTER], cast.sales)
    client.force_login(viewer)
    before = snapshot(cast)
    assert post_action(client, cast, "move", [cast.member.pk]).status_code == 403
    assert post_action(client, cast, "remove", [cast.member.pk]).status_code == 403
    assert post_action(client, cast, "export", [cast.member.pk]).status_code == 200
    assert snapshot(cast) == before
    content = client.get(roster_url(cast)).content.decode()
    assert "Export selected" in content and "Remove from roster" not in content and "Move selected" not in content


def test_a_frozen_organization_refuses_move_and_remove_but_exports(client, cast, people):
    """ORG-11: while a disband is pending the roster is read-only for everyone."""
    Organization.objects.filter(pk=cast.organization.pk).update(status=OrganizationStatus.FROZEN)
    for role in ("owner", "sub_admin"):
        client.force_login(getattr(cast, role))
        before = snapshot(cast)
        assert post_action(client, cast, "move", [cast.member.pk]).status_code == 403
        assert post_action(client, cast, "remove", [cast.member.pk]).status_code == 403
        assert snapshot(cast) == before
        assert post_action(client, cast, "export", [cast.member.pk]).status_code == 200
        content = client.get(roster_url(cast)).content.decode()
        assert "Remove from roster" not in content and "Move selected" not in content
    assert not AuditEvent.objects.exclude(action="roster.selection_exported").exists()


def test_move_into_a_department_outside_the_scope_is_refused(client, cast, people):
    client.force_login(cast.sub_admin)
    before = snapshot(cast)
    response = post_action(client, cast, "move", [cast.member.pk], target=str(cast.engineering.pk))
    assert response.status_code == 302 and "Select a valid choice" in flash(response)
    assert snapshot(cast) == before
    # The service refuses it too, whoever calls it.
    from organizations.permissions import org_access

    access = org_access(cast.sub_admin, cast.organization.pk)
    with pytest.raises(roster_bulk.BulkActionRefused):
        roster_bulk.move_members(access, [cast.member.pk], cast.engineering)
    assert snapshot(cast) == before and not AuditEvent.objects.exists()


# --------------------------------------------------------------------------- what each action does


def test_move_replaces_the_primary_department_keeps_the_others_and_audits_once(client, cast, people):
    MemberDepartment.objects.create(member=people["lead"], department=cast.engineering, is_primary=False)
    MemberDepartment.objects.create(member=cast.member, department=cast.sales, is_primary=False)
    client.force_login(cast.owner)
    ids = [cast.member.pk, people["lead"].pk, people["engineer"].pk]
    response = post_action(client, cast, "move", ids, target=str(cast.sales.pk))
    assert response.status_code == 302 and response["Location"].endswith(roster_url(cast, sort="-name"))
    assert "2 members were moved to Sales." in flash(response)
    assert "The others were already there." in flash(response)  # the lead was in Sales
    for member in (cast.member, people["lead"], people["engineer"]):
        assert primary_department(member) == cast.sales
    assert MemberDepartment.objects.filter(member=cast.member).count() == 1  # the secondary placement was promoted
    assert MemberDepartment.objects.filter(member=people["lead"], department=cast.engineering).exists()
    event = AuditEvent.objects.get()
    assert event.action == "roster.members_moved"
    assert event.metadata == {"count": 3, "moved": 2, "member_ids": sorted(ids), "department": cast.sales.pk}
    assert (event.actor, event.organization_id, event.target_id) == (
        cast.owner,
        cast.organization.pk,
        str(cast.sales.pk),
    )


def test_moving_members_already_there_changes_nothing_and_says_so(client, cast, people):
    client.force_login(cast.owner)
    before = snapshot(cast)
    response = post_action(client, cast, "move", [people["lead"].pk], target=str(cast.sales.pk))
    assert "The selected members were already in Sales; nothing changed." in flash(response)
    assert "moved to" not in flash(response)
    assert snapshot(cast) == before
    assert AuditEvent.objects.get().metadata["moved"] == 0  # the attempt is still on record


def test_remove_asks_for_confirmation_then_marks_the_entries_left(client, cast, people):
    client.force_login(cast.sub_admin)
    ids = [cast.member.pk, people["lead"].pk]
    confirm = client.post(bulk_url(cast, "remove"), {"members": ids, "return_query": "q=a"})
    assert confirm.status_code == 200
    content = confirm.content.decode()
    assert "Remove 2 members from the roster?" in content and "Sales Lead" in content
    assert not AuditEvent.objects.exists()
    assert Member.objects.filter(pk__in=ids, status=MemberStatus.LEFT).count() == 0

    done = post_action(client, cast, "remove", ids)
    assert "2 members were removed from the roster (marked as left)." in flash(done)
    assert Member.objects.filter(pk__in=ids, status=MemberStatus.LEFT).count() == 2
    event = AuditEvent.objects.get()
    assert event.action == "roster.members_removed"
    assert event.metadata == {"count": 2, "removed": 2, "member_ids": sorted(ids)}
    assert event.changes == ["status"]
    assert set(names(client.get(roster_url(cast)))) == set()  # the Sales sub-admin's current roster is empty
    assert set(names(client.get(roster_url(cast, status="left")))) == {cast.member.name, "Sales Lead"}


def test_export_selected_is_the_selection_only_and_audited(client, cast, people):
    client.force_login(cast.owner)
    response = post_action(client, cast, "export", [people["lead"].pk, people["engineer"].pk])
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment;" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert [row[0] for row in rows[1:]] == ["Engineer", "Sales Lead"]
    event = AuditEvent.objects.get()
    assert event.action == "roster.selection_exported"
    assert event.metadata["count"] == 2
    assert event.metadata["member_ids"] == sorted([people["lead"].pk, people["engineer"].pk])


def test_export_selected_refuses_a_child_even_for_the_children_officer(client, cast, people):
    """SEC-3: children's records are never exported in bulk, whatever the rights."""
    from organizations.models import Administrator

    owner_admin = Administrator.objects.get(organization=cast.organization, user=cast.owner)
    cast.organization.children_data_officer = owner_admin
    cast.organization.save(update_fields=["children_data_officer"])
    kid = MemberFactory(organization=cast.organization, department=cast.sales, name="Kid", birthday=date(2020, 1, 1))
    client.force_login(cast.owner)
    assert kid.pk in {m.pk for m in client.get(roster_url(cast)).context["members"]}  # visible to the officer
    response = post_action(client, cast, "export", [people["lead"].pk, kid.pk])
    assert response.status_code == 302
    assert "1 of the selected members is a child: children's records are never exported in bulk." in flash(response)
    assert not AuditEvent.objects.exists()


def test_a_child_hidden_from_the_administrator_counts_as_outside_the_scope(client, cast, people):
    kid = MemberFactory(organization=cast.organization, department=cast.sales, name="Kid", birthday=date(2020, 1, 1))
    client.force_login(cast.sub_admin)  # no view_children
    before = snapshot(cast)
    for action in ACTIONS:
        assert "1 of the selected members is outside your rights" in flash(post_action(client, cast, action, [kid.pk]))
    assert snapshot(cast) == before and not AuditEvent.objects.exists()


def test_selections_larger_than_the_limit_are_refused(cast):
    from organizations.permissions import org_access

    access = org_access(cast.owner, cast.organization.pk)
    with pytest.raises(roster_bulk.BulkActionRefused, match="at most"):
        roster_bulk.remove_members(access, range(1, roster_bulk.MAX_SELECTION + 2))


def test_the_move_select_offers_only_departments_where_the_roster_may_be_edited(client, cast):
    DepartmentFactory(organization=cast.organization, parent=cast.sales, name="Sales West")
    client.force_login(cast.sub_admin)
    targets = dict(client.get(roster_url(cast)).context["move_targets"])
    assert {label.strip("\u2003") for label in targets.values()} == {"Sales", "Sales East", "Sales West"}
