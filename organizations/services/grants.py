"""Low-level grant writes shared by the administrator services (ORG-9).

Rights are guardian object permissions stored in the direct-FK tables
(``OrganizationUserObjectPermission``, ``DepartmentUserObjectPermission``). These helpers
do not check who may grant what: callers (``appoint``-style services) decide that with
``OrgAccess.can_grant`` inside their own transaction.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from guardian.shortcuts import assign_perm

from organizations.models import (
    Department,
    DepartmentUserObjectPermission,
    Organization,
    OrganizationUserObjectPermission,
)


@transaction.atomic
def grant_rights(user, rights: Iterable[str], scope: Organization | Department) -> None:
    """Grant ``rights`` to ``user`` on a whole organization or on a department subtree."""
    for right in rights:
        assign_perm(right, user, scope)


@transaction.atomic
def revoke_all_rights(user, organization: Organization) -> int:
    """Remove every grant ``user`` holds in ``organization`` (whole and subtree), in the
    caller's transaction, so no grant outlives the appointment it belonged to."""
    whole, _details = OrganizationUserObjectPermission.objects.filter(user=user, content_object=organization).delete()
    subtree, _details = DepartmentUserObjectPermission.objects.filter(
        user=user, content_object__organization=organization
    ).delete()
    return whole + subtree
