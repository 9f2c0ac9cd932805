"""The organization's security settings (SEC-1): whether every administrator, not only
the owner, needs two-factor authentication.

``register()`` tells accounts which people administer an organization that needs a
second factor (accounts cannot import organizations, docs/architecture.md).
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q

from dataprotection.audit import record_event
from organizations.models import Administrator, AdministratorRole, Organization
from organizations.permissions import OrgAccess


def admin_needs_second_factor(user) -> bool:
    """SEC-1: owns an organization, or administers one that requires it (one query)."""
    return (
        Administrator.objects.filter(user_id=user.pk)
        .filter(Q(role=AdministratorRole.OWNER) | Q(organization__require_admin_two_factor=True))
        .exists()
    )


def register() -> None:
    from accounts.services.two_factor import register_requirement_provider

    register_requirement_provider(admin_needs_second_factor)


def set_admin_two_factor_requirement(access: OrgAccess, required: bool, *, ip: str | None = None) -> bool:
    """SEC-1: only the owner decides whether sub-administrators need a second factor
    (owners always do). Returns whether anything changed. Sub-administrators' sessions
    without a verified second factor are sent to it at their next organization page."""
    access.require_owner()
    organization = access.organization
    with transaction.atomic():
        before = (
            Organization.objects.select_for_update()
            .values_list("require_admin_two_factor", flat=True)
            .get(pk=organization.pk)
        )
        if before == required:
            return False
        Organization.objects.filter(pk=organization.pk).update(require_admin_two_factor=required)
        organization.require_admin_two_factor = required
        record_event(
            "organization.two_factor_requirement_changed",
            actor=access.user,
            target=organization,
            organization=organization,
            ip=ip,
            changes=["require_admin_two_factor"],
            metadata={"before": before, "after": required},
        )
    return True
