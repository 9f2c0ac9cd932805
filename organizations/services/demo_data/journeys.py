"""Every role's journey in the demo (ensure_demo_journeys): the operations logins in
their role groups, the sub-administrator's rights, a certification waiting for review,
and the steps the apps above this one register (``register_demo_step``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from accounts.models import User
from dataprotection.audit import record_event
from dataprotection.identifiers import credit_code_check_char, id_number_check_digit
from organizations.models import (
    Administrator,
    AdministratorRole,
    Certification,
    CertificationStatus,
    Department,
    Organization,
    OrganizationStatus,
    Right,
)
from organizations.permissions import OrgAccess
from organizations.services.administrators import (
    administrator_grants,
    appoint_administrator,
    update_administrator_rights,
)
from organizations.services.demo_data import generators
from organizations.services.demo_data.loading import say
from organizations.services.demo_data.logins import DEMO_LOGINS, SUB_ADMIN, ensure_staff_logins
from organizations.services.demo_data.tree import DIVISIONS, SALES
from organizations.services.registration import submit_certification

# Where a newcomer's ``make run`` serves the portal; the demo provider's deletion
# endpoint (the development receiver) is under it.
DEFAULT_PORTAL_URL = "http://127.0.0.1:8000"


@dataclass(frozen=True)
class DemoContext:
    """What a demo step of another app needs: the demo organization, every demo login
    by role, the owner's access (the gate's object, as the owner's pages use it) and
    the address the portal is served on."""

    organization: Organization
    users: dict[str, User]
    owner_access: OrgAccess | None
    portal_url: str
    stdout: TextIO | None = None


# A step adds what its journey needs if it is missing and returns how many things it
# added (0 when all was there: seeding again changes nothing).
DemoStep = Callable[[DemoContext], int]


# What a step removes on ``seed_demo --reset``, given the demo users' ids, before they go.
DemoReset = Callable[[list[int]], int]


_demo_steps: dict[str, DemoStep] = {}


_demo_resets: dict[str, DemoReset] = {}


def register_demo_step(name: str, step: DemoStep, *, reset: DemoReset | None = None) -> None:
    """Called from an upper app's ``AppConfig.ready`` (this app may not import it)."""
    _demo_steps[name] = step
    if reset is not None:
        _demo_resets[name] = reset


def run_demo_resets(user_ids: list[int]) -> None:
    """Remove what the other apps' steps made for the demo users, before they go."""
    for reset in _demo_resets.values():
        reset(user_ids)


def ensure_demo_journeys(
    organization: Organization, *, portal_url: str = DEFAULT_PORTAL_URL, stdout: TextIO | None = None
) -> dict[str, int]:
    """Give every demo role its journey, adding only what is missing (idempotent):
    staff logins in each operations role group, the sub-administrator's rights on
    Sales, a certification waiting for review, and the registered steps of the other
    apps. One audit event when anything was added."""
    done = {"staff_logins": ensure_staff_logins()}
    users = {
        login.role: user
        for login in DEMO_LOGINS
        for user in User.objects.filter(phone=login.phone)  # at most one: the phone is unique
    }
    owner = Administrator.objects.filter(organization=organization, role=AdministratorRole.OWNER).first()
    access = None
    if organization.status == OrganizationStatus.ACTIVE and owner is not None:
        access = OrgAccess(user=owner.user, organization=organization, administrator=owner)
        done["sub_admin_rights"] = _ensure_sub_admin_rights(access, users)
        done["certification"] = _ensure_certification(access)
    else:
        say(stdout, "The demo organization is being disbanded or is disbanded: run seed_demo --reset for a fresh one.")
    context = DemoContext(organization, users, access, portal_url, stdout)
    for name, step in _demo_steps.items():
        done[name] = step(context)
    if any(done.values()):
        record_event("demo.journeys_prepared", target=organization, metadata=done, actor_kind="system")
    return done


# ORG-9: what the demo sub-administrator holds on the Sales subtree.
SUB_ADMIN_RIGHTS = (Right.VIEW_ROSTER, Right.EDIT_ROSTER)


def _sales(organization: Organization) -> Department | None:
    name = next(division.name for division in DIVISIONS if division.key == SALES)
    return Department.objects.filter(organization=organization, depth=1, name=name).order_by("pk").first()


def _ensure_sub_admin_rights(access: OrgAccess, users: dict[str, User]) -> int:
    """ORG-9: the sub-administrator views and edits the Sales roster -- guardian grants
    made by the administrator services, as when the owner appoints someone. A
    sub-administrator holding some grants already (a presenter changed them) is left
    as it is."""

    sales, user = _sales(access.organization), users.get(SUB_ADMIN.role)
    if sales is None or user is None:
        return 0
    administrator = Administrator.objects.filter(organization=access.organization, user=user).first()
    if administrator is None:
        appoint_administrator(access, user, SUB_ADMIN_RIGHTS, [sales])
        return 1
    if administrator.role == AdministratorRole.OWNER or administrator_grants(administrator).pairs:
        return 0
    return int(update_administrator_rights(access, administrator, SUB_ADMIN_RIGHTS, [sales]))


DEMO_CREDIT_CODE_BASE = "91330106MA2B7Q4X3"  # a Hangzhou company's code, made up; the check character follows


DEMO_LEGAL_REPRESENTATIVE = ("周明 Zhou Ming", "33010619800512123")  # the CEO; ID number without its check digit


DEMO_ATTESTATION = (
    "I confirm that the legal representative named above has authorized this certification and these documents"
)


def _ensure_certification(access: OrgAccess) -> int:
    """ORG-2: a certification waiting for the reviewer, submitted by the owner, unless
    the organization has one already (under review, decided, or certified)."""

    organization = access.organization
    if organization.certification_status != CertificationStatus.UNCERTIFIED:
        return 0
    if Certification.objects.filter(organization=organization).exists():
        return 0
    name, id_first17 = DEMO_LEGAL_REPRESENTATIVE
    submit_certification(
        access,
        {
            "registration_number": DEMO_CREDIT_CODE_BASE + credit_code_check_char(DEMO_CREDIT_CODE_BASE),
            "legal_representative_name": name,
            "legal_representative_id_number": id_first17 + id_number_check_digit(id_first17),
            "attestation": DEMO_ATTESTATION,
        },
        {
            "business_licence": (generators.document_pdf("Business licence (demo)"), "application/pdf"),
            "certification_letter": (generators.document_pdf("Certification letter (demo)"), "application/pdf"),
        },
    )
    return 1
