"""The roster as the checks see it (ORG-7, ORG-9, SEC-3): ``build_snapshot`` reads what
the row checks need from the database in a constant number of queries, whatever the row
count, into a ``RosterSnapshot`` that the pure checks then ask.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.db.models import Exists, OuterRef

from organizations.models import Department, GuardianConsent, Member, MemberDepartment, MemberStatus
from organizations.permissions import OrgAccess
from organizations.services.collection import collected_fields


@dataclass(frozen=True)
class ExistingMember:
    pk: int
    employee_number: str
    paths: tuple[str, ...]  # the department paths it is placed in
    department_ids: frozenset[int]
    has_primary: bool
    consented: bool


@dataclass
class RosterSnapshot:
    """What the checks need to know about the organization, read by the service in a
    constant number of queries. ``covers(right, paths)`` answers for the uploader."""

    collected: frozenset[str]
    departments: list[tuple[int, int | None, str, str]]  # (pk, parent_id, name, path), ordered by path
    members_by_digest: dict[str, ExistingMember]
    employee_numbers: dict[str, int]  # employee number -> member pk
    covers: Callable[[str, tuple[str, ...]], bool]
    # SEC-3: rows whose birthday is after ``child_cutoff`` (ISO text; empty: no check)
    # are children's; ``stored_children`` the entries that are children now and
    # ``guardian_consented`` those with a guardian's consent in force.
    child_cutoff: str = ""
    stored_children: frozenset[int] = frozenset()
    guardian_consented: frozenset[int] = frozenset()
    children_officer: bool = False
    by_pk: dict[int, tuple[int, str]] = field(default_factory=dict, init=False)
    _by_key: dict[str, tuple[int, str] | None] = field(default_factory=dict, init=False)
    _cover_cache: dict[tuple[str, tuple[str, ...]], bool] = field(default_factory=dict, init=False)
    _found: dict[str, tuple[int, str] | bool | None] = field(default_factory=dict, init=False)
    root: tuple[int, str] | None = field(default=None, init=False)

    def __post_init__(self):
        names: dict[int, list[str]] = {}
        bare: dict[str, list[tuple[int, str]]] = {}
        for pk, parent_id, name, path in self.departments:
            self.by_pk[pk] = (pk, path)
            clean = " ".join(name.split())
            if parent_id is None:
                names[pk] = []
                if self.root is None:
                    self.root = (pk, path)
            else:
                names[pk] = [*names.get(parent_id, []), clean]
                self._by_key["/".join(names[pk]).casefold()] = (pk, path)
            bare.setdefault(clean.casefold(), []).append((pk, path))
        for key, matches in bare.items():
            if key not in self._by_key:
                self._by_key[key] = matches[0] if len(matches) == 1 else None  # None: ambiguous

    def department(self, text: str) -> tuple[int, str] | bool | None:
        """(pk, path) of a department path or unique name; ``None`` unknown; ``False``
        ambiguous."""
        if text in self._found:  # files repeat the same few departments on every row
            return self._found[text]
        found = self._department(text)
        if len(self._found) < 100_000:
            self._found[text] = found
        return found

    def _department(self, text: str) -> tuple[int, str] | bool | None:
        key = "/".join(" ".join(part.split()) for part in text.strip().strip("/").split("/")).casefold()
        if key in self._by_key:
            return self._by_key[key] or False
        if self.root is not None and "/" in key:  # written with the root's name in front
            rest = key.split("/", 1)[1]
            if self._by_key.get(rest):
                return self._by_key[rest]
        return None

    def allowed(self, right: str, paths: tuple[str, ...]) -> bool:
        key = (right, paths)
        if key not in self._cover_cache:
            self._cover_cache[key] = self.covers(right, paths)
        return self._cover_cache[key]


def build_snapshot(access: OrgAccess, collected: frozenset[str] | None = None) -> RosterSnapshot:
    """Everything the row checks need, in four queries whatever the row count: the
    collection settings, the departments, every roster entry's digest and employee
    number, and every placement's department path."""
    organization = access.organization
    if collected is None:
        collected = collected_fields(organization)
    departments = list(
        Department.objects.filter(organization=organization)
        .order_by("path")
        .values_list("pk", "parent_id", "name", "path")
    )
    placements: dict[int, list[tuple[int, str, bool]]] = {}
    for member_id, department_id, path, is_primary in MemberDepartment.objects.filter(
        member__organization=organization
    ).values_list("member_id", "department_id", "department__path", "is_primary"):
        placements.setdefault(member_id, []).append((department_id, path, is_primary))
    members_by_digest: dict[str, ExistingMember] = {}
    employee_numbers: dict[str, int] = {}
    rows = Member.objects.filter(organization=organization).values_list(
        "pk", "mobile_digest", "employee_number", "status", "user_id"
    )
    for pk, digest, employee_number, status, user_id in rows:
        if employee_number:
            employee_numbers[employee_number] = pk
        if digest:
            placed = placements.get(pk, ())
            members_by_digest[digest] = ExistingMember(
                pk=pk,
                employee_number=employee_number,
                paths=tuple(sorted(path for _d, path, _p in placed)),
                department_ids=frozenset(department_id for department_id, _path, _p in placed),
                has_primary=any(primary for _d, _path, primary in placed),
                consented=status == MemberStatus.ACTIVE and user_id is not None,
            )
    # SEC-3: the children on the roster now, each with whether a guardian's consent is in force.
    cutoff = access.child_cutoff
    children = dict(
        Member.objects.filter(organization=organization)
        .children(cutoff)
        .annotate(consented=Exists(GuardianConsent.objects.filter(member=OuterRef("pk"), withdrawn_at__isnull=True)))
        .values_list("pk", "consented")
    )
    return RosterSnapshot(
        collected=collected,
        departments=departments,
        members_by_digest=members_by_digest,
        employee_numbers=employee_numbers,
        covers=access.covers_member,
        child_cutoff=cutoff.isoformat(),
        stored_children=frozenset(children),
        guardian_consented=frozenset(pk for pk, consented in children.items() if consented),
        children_officer=organization.children_data_officer_id is not None,
    )
