"""Operations staff roles with least privilege (SEC-1), kept as Django groups.

Each role is a group holding exactly the model permissions its queue needs, nothing
more: the console (Django admin at ``/ops/``) checks these permissions on every page and
action, masks every sensitive value, and reveals one value at a time only for a role
that allows it, writing an audit event each time (SEC-2). A staff member who belongs to
no group sees nothing but an empty console. Superusers keep everything (and are audited
all the same).

``sync_staff_roles`` brings the groups in line with ``ROLES`` idempotently: after every
``migrate`` (a ``post_migrate`` receiver connected in ``DataProtectionConfig.ready``) and
by hand with ``manage.py sync_staff_roles``, which reports what it changed. Permissions
of a role group that are not listed here are removed: the code is the single source of
truth of what a role may do (docs/operations.md).

This module depends on no app: permissions are named by their "app_label.codename"
strings (docs/architecture.md, import direction).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils.translation import gettext_lazy as _

# Custom permissions of the console. The ones defined in dataprotection live on
# ``AuditEvent.Meta.permissions``: every use of them is audited.
REVEAL_CERTIFICATION = "dataprotection.reveal_certification"
VERIFY_AUDIT_CHAIN = "dataprotection.verify_audit_chain"
# Defined by the apps that own the data (their models' Meta.permissions).
REVEAL_REQUEST_DETAILS = "requests.view_request_details"
SEND_INCIDENT_NOTICES = "organizations.send_incident_notices"

# Every permission that shows a decrypted value or file. The auditor holds none of them.
REVEAL_PERMISSIONS = frozenset({REVEAL_CERTIFICATION, REVEAL_REQUEST_DETAILS})


@dataclass(frozen=True)
class StaffRole:
    key: str
    group: str
    description: str
    permissions: frozenset[str] = field(default_factory=frozenset)


CERTIFICATION_REVIEWER = StaffRole(
    key="certification_reviewer",
    group="Certification reviewer",
    description=_(
        "Reviews organization certifications: sees the queue, approves or rejects with a reason, "
        "reveals the legal representative's identity and downloads the licence and letter (audited)."
    ),
    permissions=frozenset(
        {
            "organizations.view_organization",
            "organizations.view_certification",
            "organizations.change_certification",  # approve / reject on the review page
            REVEAL_CERTIFICATION,
        }
    ),
)

REQUEST_HANDLER = StaffRole(
    key="request_handler",
    group="Request handler",
    description=_(
        "Handles the data-subject requests routed to operations: the queue and dashboard, assignment, "
        "notes, pauses, extensions, refusals and answers; reveals a request's details, proposed value "
        "and evidence (audited)."
    ),
    permissions=frozenset(
        {
            "requests.view_datasubjectrequest",
            "requests.change_datasubjectrequest",
            "requests.view_holiday",  # due dates count working days
            REVEAL_REQUEST_DETAILS,
        }
    ),
)

INCIDENT_MANAGER = StaffRole(
    key="incident_manager",
    group="Incident manager",
    description=_(
        "Registers and updates security incidents with the people and organizations affected, sends "
        "the notices and exports the regulator report. Never decrypts a sensitive value."
    ),
    permissions=frozenset(
        {
            "organizations.view_securityincident",
            "organizations.add_securityincident",
            "organizations.change_securityincident",
            SEND_INCIDENT_NOTICES,
            # The inline of affected people and the pickers of organizations and people
            # (those lists show names and masked numbers only).
            "organizations.view_incidentaffectedperson",
            "organizations.add_incidentaffectedperson",
            "organizations.change_incidentaffectedperson",
            "organizations.delete_incidentaffectedperson",
            "organizations.view_organization",
            "accounts.view_user",
        }
    ),
)

AUDITOR = StaffRole(
    key="auditor",
    group="Auditor",
    description=_("Reads the audit trail and runs the verification of its hash chain. Read-only; decrypts nothing."),
    permissions=frozenset({"dataprotection.view_auditevent", VERIFY_AUDIT_CHAIN}),
)

ROLES: tuple[StaffRole, ...] = (CERTIFICATION_REVIEWER, REQUEST_HANDLER, INCIDENT_MANAGER, AUDITOR)


@dataclass
class SyncReport:
    created_groups: list[str] = field(default_factory=list)
    added: dict[str, list[str]] = field(default_factory=dict)
    removed: dict[str, list[str]] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created_groups or self.added or self.removed)

    def lines(self) -> list[str]:
        out = [f"created group {name!r}" for name in self.created_groups]
        for group, perms in sorted(self.added.items()):
            out.extend(f"{group}: granted {perm}" for perm in perms)
        for group, perms in sorted(self.removed.items()):
            out.extend(f"{group}: withdrew {perm}" for perm in perms)
        out.extend(f"unknown permission (not granted): {perm}" for perm in self.missing)
        return out


def _permission_key(permission) -> str:
    return f"{permission.content_type.app_label}.{permission.codename}"


def sync_staff_roles(*, using: str = "default") -> SyncReport:
    """SEC-1: create the role groups and give each exactly the permissions of ``ROLES``
    (adding what is missing, withdrawing what is not listed). Idempotent: a second run
    changes nothing and reports nothing. Permissions that do not exist (an app not
    installed) are reported, never invented."""
    from django.apps import apps
    from django.contrib.auth.management import create_permissions
    from django.contrib.auth.models import Group, Permission
    from django.db import transaction

    # post_migrate runs app by app; the permissions of the apps after this one may not
    # exist yet. create_permissions is idempotent (it only inserts what is missing).
    for app_config in apps.get_app_configs():
        create_permissions(app_config, verbosity=0, using=using)

    wanted = {perm for role in ROLES for perm in role.permissions}
    known = {}
    for permission in Permission.objects.using(using).select_related("content_type"):
        key = _permission_key(permission)
        if key in wanted:
            known[key] = permission

    report = SyncReport(missing=sorted(wanted - set(known)))
    with transaction.atomic(using=using):
        for role in ROLES:
            group, created = Group.objects.using(using).get_or_create(name=role.group)
            if created:
                report.created_groups.append(role.group)
            current = {_permission_key(p): p for p in group.permissions.select_related("content_type")}
            to_add = sorted(key for key in role.permissions if key in known and key not in current)
            to_remove = sorted(key for key in current if key not in role.permissions)
            if to_add:
                group.permissions.add(*(known[key] for key in to_add))
                report.added[role.group] = to_add
            if to_remove:
                group.permissions.remove(*(current[key] for key in to_remove))
                report.removed[role.group] = to_remove
    return report


def sync_after_migrate(sender, using="default", **kwargs) -> None:
    """``post_migrate`` receiver (connected for the dataprotection app only)."""
    sync_staff_roles(using=using)


def role_of(key: str) -> StaffRole:
    for role in ROLES:
        if role.key == key:
            return role
    raise KeyError(key)
