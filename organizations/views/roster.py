"""Roster pages (ORG-4, ORG-7, ORG-10): the list with search, department filter and
pagination; a member's details with sensitive values masked; the audited reveal of one
value; and the correction form.

Every view starts at the permission gate (``org_access``): 404 out of scope, 403 in
scope without the right. Lists are filtered by the gate's querysets, never per row, and
cost a constant number of queries whatever the page size, department count or grants.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from math import ceil
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import (
    Case,
    Count,
    F,
    FilteredRelation,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from dataprotection.audit import client_ip
from dataprotection.masking import mask_phone
from organizations.forms.roster import (
    DEFAULT_SORT,
    DEFAULT_STATUS,
    PAGE_SIZE,
    SORT_KEYS,
    STATUS_FILTERS,
    MemberEditForm,
    RosterFilterForm,
    RosterSelectionForm,
)
from organizations.models import (
    ApprovalRecord,
    AttendancePunch,
    BiometricTemplate,
    DriveFile,
    ExternalContactCard,
    FamilyContact,
    Member,
    MemberDepartment,
    MemberStatus,
    OrganizationKind,
    Right,
    ScheduleEntry,
    WorkLog,
)
from organizations.permissions import OrgAccess, org_access
from organizations.selectors import roster_total
from organizations.services import children as children_services
from organizations.services import roster as services
from organizations.services import roster_bulk as bulk
from organizations.services.collection import CATALOG, GROUPS, collected_fields, has_consented
from organizations.services.lookups import member_search
from organizations.views.common import render_org


def page_window(queryset, page: int, size: int = PAGE_SIZE) -> tuple[list, bool]:
    """One page of ``queryset`` and whether another follows, in one query: fetch one
    row more than the page instead of counting."""
    offset = (page - 1) * size
    rows = list(queryset[offset : offset + size + 1])
    return rows[:size], len(rows) > size


def _primary_department_name():
    primary_department = MemberDepartment.objects.filter(member=OuterRef("pk"), is_primary=True).order_by("pk")
    return Subquery(primary_department.values("department__name")[:1])


# The lifecycle order of the status column (invited, joined, left), not the codes' order.
STATUS_ORDER = Case(
    *(When(status=status, then=Value(index)) for index, status in enumerate(MemberStatus.values)),
    default=Value(len(MemberStatus.values)),
    output_field=IntegerField(),
)


def _ordering(sort: str, department_column: str) -> tuple:
    """The ORDER BY of a whitelisted sort key, with the primary key as the stable
    second order in the same direction (equal names never swap between pages)."""
    descending = sort.startswith("-")
    key = sort.lstrip("-")
    if key not in SORT_KEYS:
        key, descending = DEFAULT_SORT, False
    if key == "department":  # entries without a primary department come last either way
        column = F(department_column)
        first = column.desc(nulls_last=True) if descending else column.asc(nulls_last=True)
    elif key == "status":
        first = STATUS_ORDER.desc() if descending else STATUS_ORDER.asc()
    else:  # a NOT NULL column: a plain ORDER BY, which the (organization, name) index serves
        first = f"-{key}" if descending else key
    return first, ("-pk" if descending else "pk")


def roster_page(
    members: QuerySet[Member], page: int, size: int = PAGE_SIZE, child_cutoff=None, sort: str = DEFAULT_SORT
) -> QuerySet[Member]:
    """The members of one roster page (one row more, to know whether another follows),
    in the order of ``sort`` (a key of ``SORT_KEYS``, ``-`` for descending; by name along
    the ``member_org_name`` index by default), with each one's primary department name.

    The page is chosen in an inner subquery that reads only the index and the filters;
    the per-row work -- the department subquery, the encrypted columns -- is done for
    the rows of that page only. Annotating the outer list directly would make the
    database evaluate the department subquery for every row an OFFSET skips (on
    PostgreSQL, page 500 of 100k members went from ~145 ms to the cost of the scan).
    Only sorting by department needs the department in the inner query: as a join.
    With ``child_cutoff`` each row also carries ``is_child`` (SEC-3), computed by the
    database for the rows of the page only."""
    offset = (page - 1) * size
    inner = members
    if sort.lstrip("-") == "department":
        # A join, not the correlated subquery the page shows: the database sorts every
        # entry in scope by it (PostgreSQL, 100k entries: a hash join instead of 100k
        # sub-plans). An entry has one primary placement (the import, the edit form and
        # the bulk move keep it so), so the join adds no row.
        inner = inner.alias(
            primary_placement=FilteredRelation("memberdepartment", condition=Q(memberdepartment__is_primary=True))
        ).annotate(department_sort=F("primary_placement__department__name"))
    window = inner.order_by(*_ordering(sort, "department_sort")).values("pk")[offset : offset + size + 1]
    rows = (
        Member.objects.filter(pk__in=window)
        .defer("bank_card")
        .annotate(primary_department=_primary_department_name())
        .order_by(*_ordering(sort, "primary_department"))
    )
    return rows.with_child_flag(child_cutoff) if child_cutoff is not None else rows


def page_numbers(page: int, last: int, around: int = 2) -> list[int | None]:
    """The page numbers a pager shows: the first, the last and ``around`` on each side of
    the current one; ``None`` where numbers are left out."""
    shown = sorted({1, last, *range(max(1, page - around), min(last, page + around) + 1)})
    numbers: list[int | None] = []
    for number in shown:
        if numbers and number - numbers[-1] > 1:
            numbers.append(None)
        numbers.append(number)
    return numbers


def _query(params: dict, **changes) -> str:
    merged = {key: value for key, value in {**params, **changes}.items() if value not in (None, "")}
    return "?" + urlencode(merged) if merged else "?"


@dataclass(frozen=True)
class RosterQuery:
    """What the roster shows, read from the query string: every value validated (an
    unknown sort key or status falls back to the default; a department outside the
    administrator's scope is a 404, decided by the view)."""

    q: str
    department_id: int | None
    status: str
    sort: str
    page: int

    @classmethod
    def from_form(cls, form: RosterFilterForm) -> RosterQuery:
        form.is_valid()
        return cls(
            q=form.value("q", ""),
            department_id=form.value("department"),
            status=form.value("status", DEFAULT_STATUS),
            sort=form.value("sort", DEFAULT_SORT),
            page=form.value("page", 1),
        )

    def params(self, *, page: bool = True) -> dict:
        """The query string that shows this view again (defaults left out)."""
        return {
            "q": self.q,
            "department": self.department_id or "",
            "status": "" if self.status == DEFAULT_STATUS else self.status,
            "sort": "" if self.sort == DEFAULT_SORT else self.sort,
            "page": self.page if page and self.page > 1 else "",
        }


def _sort_headers(query: RosterQuery) -> dict[str, dict]:
    """Per sortable column: the link that sorts by it (the other direction when it is the
    current one) and its ``aria-sort`` state."""
    current = query.sort.lstrip("-")
    descending = query.sort.startswith("-")
    params = query.params(page=False)
    headers = {}
    for key in SORT_KEYS:
        if key == current:
            state, next_sort = ("descending", key) if descending else ("ascending", f"-{key}")
        else:
            state, next_sort = "none", key
        headers[key] = {
            "url": _query(params, sort="" if next_sort == DEFAULT_SORT else next_sort),
            "state": state,
        }
    return headers


def _filter_members(access: OrgAccess, members: QuerySet[Member], query: RosterQuery, departments: list):
    department = None
    if query.department_id is not None:
        department = next((d for d in departments if d.pk == query.department_id), None)
        if department is None:
            raise Http404  # not a department of this organization in the administrator's scope
        in_subtree = MemberDepartment.objects.filter(
            department__organization=access.organization, department__path__startswith=department.path
        ).values("member_id")
        members = members.filter(pk__in=in_subtree)
    statuses = STATUS_FILTERS.get(query.status)
    if statuses is not None:
        members = members.filter(status__in=statuses)
    if query.q:
        members = members.filter(member_search(query.q))
    return members, department


@login_required
@require_GET
def roster_list(request: HttpRequest, org_id: int) -> HttpResponse:
    """ORG-7: the roster the administrator may view, searchable, filterable by
    department subtree and status, sortable by column, 50 per page with the total count
    and page numbers, sensitive columns masked (ORG-10), with a selection for the bulk
    actions.

    Queries (after the session and user): the administrator row, the grants (sub-
    administrators only), the departments in scope, the total count (only when the
    roster changed since it was last counted: ``roster_total``), the page of members
    with each one's primary department name as a subquery -- nothing per row,
    whatever the sort."""
    access = org_access(request.user, org_id)
    members = access.members(Right.VIEW_ROSTER)
    # Plain rows, not model instances: an organization has hundreds of departments, and
    # only these four columns are read (the filter, the move targets, the gate's covers).
    departments = list(access.departments(Right.VIEW_ROSTER).values_list("pk", "name", "path", "depth", named=True))
    form = RosterFilterForm(request.GET)
    query = RosterQuery.from_form(form)
    if "department" in form.errors:
        raise Http404
    members, department = _filter_members(access, members, query, departments)
    total = roster_total(access.organization, members)
    last_page = max(1, ceil(total / PAGE_SIZE))
    page = min(query.page, last_page)
    query = replace(query, page=page)
    rows, has_next = page_window(roster_page(members, page, child_cutoff=access.child_cutoff, sort=query.sort), 1)
    top_depth = min((d.depth for d in departments), default=0)
    department_choices = [(d.pk, "\u2003" * (d.depth - top_depth) + d.name) for d in departments]
    # Targets of "move": departments where the roster may be edited (no query: the
    # departments in view are already loaded, the gate decides from the grants it holds).
    move_targets = [
        (pk, label)
        for (pk, label), d in zip(department_choices, departments, strict=True)
        if access.covers(Right.EDIT_ROSTER, d)
    ]
    params = query.params(page=False)
    return render_org(
        request,
        "organizations/roster/list.html",
        access,
        {
            "section": "roster",
            "form": form,
            "query": query.q,
            "roster_query": query,
            "return_query": urlencode({k: v for k, v in query.params().items() if v != ""}),
            "status": query.status,
            "status_choices": form.fields["status"].choices,
            "filtered": bool(query.q or department or query.status != DEFAULT_STATUS),
            "department": department,
            "department_choices": department_choices,
            "move_targets": move_targets,
            "members": rows,
            "total": total,
            "page": page,
            "last_page": last_page,
            "has_previous": page > 1,
            "has_next": has_next,
            "previous_url": _query(params, page=page - 1 if page > 2 else ""),
            "next_url": _query(params, page=page + 1),
            "pages": [
                (number, _query(params, page=number if number and number > 1 else "")) if number else (None, "")
                for number in page_numbers(page, last_page)
            ],
            "sort_headers": _sort_headers(query),
            "first_index": (page - 1) * PAGE_SIZE + 1,
            "last_index": (page - 1) * PAGE_SIZE + len(rows),
            "can_view_children": Right.VIEW_CHILDREN in access.rights,
            "can_edit": access.has(Right.EDIT_ROSTER),
        },
    )


def _back_to_roster(access: OrgAccess, return_query: str) -> HttpResponse:
    """The roster as it was shown when the action was posted (validated again)."""
    query = RosterQuery.from_form(RosterFilterForm(QueryDict(return_query)))
    params = {key: value for key, value in query.params().items() if value != ""}
    url = reverse("organizations:roster", args=[access.organization.pk])
    return redirect(url + ("?" + urlencode(params) if params else ""))


def _selection_form(request: HttpRequest, access: OrgAccess, *, moving: bool = False) -> RosterSelectionForm:
    """The posted selection; ``moving`` also offers the departments it may move to."""
    targets = []
    if moving and access.has(Right.EDIT_ROSTER):
        departments = list(access.departments(Right.EDIT_ROSTER).only("pk", "name", "depth"))
        top_depth = min((d.depth for d in departments), default=0)
        targets = [(d.pk, "\u2003" * (d.depth - top_depth) + d.name) for d in departments]
    return RosterSelectionForm(request.POST, targets=targets)


def _refused(request: HttpRequest, access: OrgAccess, error) -> HttpResponse:
    messages.error(request, " ".join(error.messages) if hasattr(error, "messages") else str(error))
    return _back_to_roster(access, request.POST.get("return_query", ""))


@login_required
@require_POST
def roster_bulk_move(request: HttpRequest, org_id: int) -> HttpResponse:
    """ORG-7: move the selected entries to a department (``edit_roster`` on each entry
    and on the department; refused as a whole otherwise)."""
    access = org_access(request.user, org_id)
    access.require(Right.EDIT_ROSTER)
    form = _selection_form(request, access, moving=True)
    if not form.is_valid() or form.cleaned_data["target"] is None:
        error = form.errors.get("members") or form.errors.get("target") or [_("Choose the department to move them to.")]
        return _refused(request, access, ValidationError(list(error)))
    department = access.get_department(form.cleaned_data["target"], Right.EDIT_ROSTER)
    try:
        moved = bulk.move_members(access, form.cleaned_data["members"], department, ip=client_ip(request))
    except bulk.BulkActionRefused as exc:
        return _refused(request, access, exc)
    selected = len(form.cleaned_data["members"])
    if moved:
        messages.success(
            request,
            ngettext(
                "%(count)s member was moved to %(department)s.",
                "%(count)s members were moved to %(department)s.",
                moved,
            )
            % {"count": moved, "department": department.name},
        )
    if moved < selected:
        messages.info(
            request,
            _("The others were already there.")
            if moved
            else _("The selected members were already in %(department)s; nothing changed.")
            % {"department": department.name},
        )
    return _back_to_roster(access, request.POST.get("return_query", ""))


@login_required
@require_POST
def roster_bulk_remove(request: HttpRequest, org_id: int) -> HttpResponse:
    """ORG-7: take the selected entries off the current roster (status "left"), after a
    confirmation page that lists them (``edit_roster`` on each; refused as a whole
    otherwise)."""
    access = org_access(request.user, org_id)
    access.require(Right.EDIT_ROSTER)
    form = _selection_form(request, access)
    if not form.is_valid():
        return _refused(request, access, ValidationError(list(form.errors.get("members", []))))
    ids = form.cleaned_data["members"]
    if not form.cleaned_data["confirm"]:
        try:
            bulk.resolve_selection(access, ids, Right.EDIT_ROSTER)
        except bulk.BulkActionRefused as exc:
            return _refused(request, access, exc)
        selected = list(
            access.members(Right.EDIT_ROSTER).filter(pk__in=ids).only("pk", "name", "status").order_by("name", "pk")
        )
        return render_org(
            request,
            "organizations/roster/bulk_remove.html",
            access,
            {"section": "roster", "selected": selected, "return_query": request.POST.get("return_query", "")},
        )
    try:
        removed = bulk.remove_members(access, ids, ip=client_ip(request))
    except bulk.BulkActionRefused as exc:
        return _refused(request, access, exc)
    messages.success(
        request,
        ngettext(
            "%(count)s member was removed from the roster (marked as left).",
            "%(count)s members were removed from the roster (marked as left).",
            removed,
        )
        % {"count": removed},
    )
    return _back_to_roster(access, request.POST.get("return_query", ""))


@never_cache
@login_required
@require_POST
def roster_bulk_export(request: HttpRequest, org_id: int) -> HttpResponse:
    """ORG-7: the selected entries as CSV, like the whole export; refused as a whole if
    any is outside the administrator's view or is a child's (SEC-3)."""
    access = org_access(request.user, org_id)
    access.require(Right.VIEW_ROSTER)
    form = _selection_form(request, access)
    if not form.is_valid():
        return _refused(request, access, ValidationError(list(form.errors.get("members", []))))
    try:
        _count, chunks = bulk.export_selected(access, form.cleaned_data["members"], ip=client_ip(request))
    except bulk.BulkActionRefused as exc:
        return _refused(request, access, exc)
    response = StreamingHttpResponse(chunks, content_type="text/csv; charset=utf-8")
    stamp = timezone.localdate().isoformat()
    response["Content-Disposition"] = f'attachment; filename="roster-selection-{access.organization.pk}-{stamp}.csv"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


ACTIVITY_LIMIT = 5  # latest records of each kind shown on the detail page


def _activity_kinds(member: Member, is_school: bool) -> list[tuple[str, object, str, QuerySet]]:
    """(key, title, foreign key, latest records) per kind of ORG-4 activity record. Each
    queryset loads only the columns the page shows: the biometric template and the
    contact cards' phone numbers are never read."""
    kinds = [
        (
            "punches",
            _("Attendance punches"),
            "member",
            AttendancePunch.objects.filter(member=member)
            .only("pk", "member_id", "punched_at", "kind", "address")
            .order_by("-punched_at", "-pk"),
        ),
        (
            "approvals",
            _("Approvals"),
            "applicant",
            ApprovalRecord.objects.filter(applicant=member)
            .only("pk", "applicant_id", "kind", "title", "status", "submitted_at")
            .order_by("-submitted_at", "-pk"),
        ),
        (
            "work_logs",
            _("Work logs"),
            "member",
            WorkLog.objects.filter(member=member).only("pk", "member_id", "day", "content").order_by("-day", "-pk"),
        ),
        (
            "schedule",
            _("Schedule entries"),
            "member",
            ScheduleEntry.objects.filter(member=member)
            .only("pk", "member_id", "title", "location", "starts_at", "ends_at")
            .order_by("-starts_at", "-pk"),
        ),
        (
            "drive_files",
            _("Drive files"),
            "owner",
            DriveFile.objects.filter(owner=member)
            .only("pk", "owner_id", "name", "content_type", "size", "uploaded_at")
            .order_by("-uploaded_at", "-pk"),
        ),
        (
            "contact_cards",
            _("External contact cards"),
            "owner",
            ExternalContactCard.objects.filter(owner=member)
            .only("pk", "owner_id", "name", "company", "title", "email", "created_at")
            .order_by("-created_at", "-pk"),
        ),
        (
            "biometrics",
            _("Biometric templates"),
            "member",
            BiometricTemplate.objects.filter(member=member)
            .only("pk", "member_id", "kind", "enrolled_at")
            .order_by("-enrolled_at", "-pk"),
        ),
    ]
    if is_school:
        kinds.append(
            (
                "family_contacts",
                _("Family contacts"),
                "student",
                FamilyContact.objects.filter(student=member)
                .only("pk", "student_id", "name", "relation", "phone")
                .order_by("pk"),
            )
        )
    return kinds


def member_activity(member: Member, is_school: bool) -> list[dict]:
    """ORG-4 activity records of one member: the count of each kind in one aggregate
    query, then the latest ``ACTIVITY_LIMIT`` of each kind in one query per kind --
    constant, however many records the member has."""
    kinds = _activity_kinds(member, is_school)
    counts = (
        Member.objects.filter(pk=member.pk)
        .values(
            **{
                f"count_{key}": Coalesce(
                    Subquery(
                        queryset.model.objects.filter(**{fk: OuterRef("pk")})
                        .order_by()
                        .values(fk)
                        .annotate(n=Count("pk"))
                        .values("n")
                    ),
                    0,
                )
                for key, _title, fk, queryset in kinds
            }
        )
        .get()
    )
    sections = []
    for key, title, _fk, queryset in kinds:
        records = list(queryset[:ACTIVITY_LIMIT])
        if key == "family_contacts":
            for record in records:
                record.masked_phone = mask_phone(record.phone)
        sections.append({"key": key, "title": title, "count": counts[f"count_{key}"], "records": records})
    return sections


def _display(member: Member, name: str):
    field = Member._meta.get_field(name)
    if field.choices:
        return getattr(member, f"get_{name}_display")()
    value = getattr(member, name)
    if isinstance(value, date):
        return value.isoformat()
    return value


def member_field_groups(member: Member, collected: frozenset[str], revealed: dict[str, str]) -> list[dict]:
    """The collected ORG-4 fields of the member, grouped as in ORG-4; sensitive values
    masked (ORG-10) unless just revealed."""
    groups: dict[str, list[dict]] = {}
    for name in ("mobile", *(f.name for f in CATALOG)):
        if name not in collected:
            continue
        group = services.group_of(name)
        sensitive = name in services.SENSITIVE_FIELDS
        groups.setdefault(group, []).append(
            {
                "field": name,
                "label": services.label(name),
                "sensitive": sensitive,
                "value": services.mask_value(name, getattr(member, name)) if sensitive else _display(member, name),
                "clear": revealed.get(name),
                "revealed": name in revealed,
            }
        )
    return [{"key": key, "label": GROUPS[key], "rows": groups[key]} for key in GROUPS if key in groups]


def _render_detail(
    request: HttpRequest,
    access: OrgAccess,
    member: Member,
    revealed: dict[str, str] | None = None,
    collected: frozenset[str] | None = None,
) -> HttpResponse:
    """The detail page. Queries after the gate's: the placements, the collection
    settings, the activity counts and one per kind of activity record."""
    placements = list(
        MemberDepartment.objects.filter(member=member).select_related("department").order_by("-is_primary", "pk")
    )
    paths = [placement.department.path for placement in placements]
    can_reveal = access.covers_member(Right.VIEW_SENSITIVE, paths)
    is_child = bool(getattr(member, "is_child", False))
    if collected is None:
        collected = collected_fields(access.organization)
    is_school = access.organization.kind == OrganizationKind.SCHOOL
    return render_org(
        request,
        "organizations/roster/detail.html",
        access,
        {
            "section": "roster",
            "member": member,
            "placements": placements,
            "field_groups": member_field_groups(member, collected, revealed or {}),
            "can_reveal": can_reveal,
            "can_edit": access.covers_member(Right.EDIT_ROSTER, paths),
            "activity": member_activity(member, is_school),
            "activity_limit": ACTIVITY_LIMIT,
            "is_child": is_child,
            "guardian_consent": children_services.consent_in_force(member) if is_child else None,
        },
    )


@login_required
@require_GET
def member_detail(request: HttpRequest, org_id: int, member_id: int) -> HttpResponse:
    """ORG-4, ORG-7: every field of one roster entry, sensitive ones masked (ORG-10)
    with a reveal button for administrators holding ``view_sensitive`` on the member."""
    access = org_access(request.user, org_id)
    member = access.get_member(member_id)
    if member.is_child:  # SEC-3: every view of a child's record is audited
        children_services.record_child_access(access, member, "detail", ip=client_ip(request))
    return _render_detail(request, access, member)


@never_cache
@login_required
@require_POST
def member_reveal(request: HttpRequest, org_id: int, member_id: int, field: str) -> HttpResponse:
    """ORG-10: show one sensitive value in clear, audited as ``member.revealed`` (field
    name only). The response must not be cached anywhere."""
    access = org_access(request.user, org_id)
    if field not in services.REVEALABLE_FIELDS:
        raise Http404
    collected = collected_fields(access.organization)
    if field not in collected:
        raise Http404  # not collected: nothing is shown, so nothing can be revealed
    member = access.get_member(member_id, Right.VIEW_SENSITIVE)
    value = services.reveal_member_field(access, member, field, ip=client_ip(request))
    return _render_detail(request, access, member, revealed={field: value}, collected=collected)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def member_edit(request: HttpRequest, org_id: int, member_id: int) -> HttpResponse:
    """ORG-7: correct or supplement a roster entry (``edit_roster`` on the member); the
    sensitive inputs only for administrators who also hold ``view_sensitive`` there."""
    access = org_access(request.user, org_id)
    member = access.get_member(member_id, Right.EDIT_ROSTER)
    if member.is_child and request.method == "GET":  # SEC-3: the form shows the child's record
        children_services.record_child_access(access, member, "edit", ip=client_ip(request))
    allow_sensitive = access.covers_member(
        Right.VIEW_SENSITIVE, [department.path for department in member.departments.all()]
    )
    options = {
        "member": member,
        "allow_sensitive": allow_sensitive,
        "collected": collected_fields(access.organization),
        "needs_attestation": not has_consented(member),
    }
    if request.method == "POST":
        form = MemberEditForm(request.POST, **options)
        if form.is_valid():
            try:
                changed = services.update_member(
                    access,
                    member,
                    form.changes(),
                    ip=client_ip(request),
                    attested=form.attested,
                    attestation_text=str(services.ATTESTATION_TEXT),
                )
            except ValidationError as exc:
                field = {"duplicate_employee_number": "employee_number", "consent_required": "attest"}.get(exc.code)
                form.add_error(field if field in form.fields else None, exc)
            else:
                if changed:
                    messages.success(request, _("The member's data was saved."))
                else:
                    messages.info(request, _("Nothing was changed."))
                return redirect("organizations:member", org_id=access.organization.pk, member_id=member.pk)
    else:
        form = MemberEditForm(**options)
    return render_org(
        request,
        "organizations/roster/edit.html",
        access,
        {"section": "roster", "member": member, "form": form, "allow_sensitive": allow_sensitive},
    )
