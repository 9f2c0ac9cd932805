"""Registering an organization (ORG-1), its certification and the operations review of it
(ORG-2, EN I(II)5), and the transfer of its ownership (ORG-12).

Every public function is atomic and records one audit event scoped to the organization.
Certification documents are written encrypted to the private media root inside the
transaction and deleted again if it rolls back.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import CodePurpose, DataRegion
from accounts.services.codes import check_code, consume_code
from dataprotection.audit import record_event
from dataprotection.files import delete_stored, read_decrypted, store_encrypted
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
from organizations.services.grants import grant_rights, revoke_all_rights

REGISTRATION_FIELDS = ("name", "kind", "location", "industry", "staff_size", "edition", "data_region")
CERTIFICATION_FILE_PURPOSE = "organizations.certification.file"
CERTIFICATION_FILES = ("business_licence", "certification_letter")


# --------------------------------------------------------------------------- ORG-1


def region_label(region: str) -> str:
    return str(dict(DataRegion.choices).get(region, region))


def wrong_region_error(region: str) -> ValidationError:
    """SEC-6: where this deployment keeps data, and where an organization of
    ``region`` registers instead (``REGION_PORTAL_URLS``, when configured)."""
    portal = (getattr(settings, "REGION_PORTAL_URLS", {}) or {}).get(region, "")
    params = {"region": region_label(settings.DATA_REGION), "other": region_label(region), "portal": portal}
    if portal:
        message = _(
            "This portal keeps data in the %(region)s region only, so it cannot register an organization of the "
            "%(other)s region. Register it on the %(other)s portal: %(portal)s"
        )
    else:
        message = _(
            "This portal keeps data in the %(region)s region only, so it cannot register an organization of the "
            "%(other)s region. Register it on the %(other)s portal."
        )
    return ValidationError(message, code="wrong_region", params=params)


def check_region(region: str | None, *, actor=None, ip: str | None = None, action: str = "registration") -> str:
    """SEC-6: the region an organization is created in must be the deployment's. Any
    other is refused with a clear message and the refusal is audited in its own
    transaction, so that it survives the caller's rollback (nothing else is written)."""
    region = region or settings.DATA_REGION
    if region == settings.DATA_REGION:
        return region
    with transaction.atomic():
        record_event(
            "residency.organization_refused",
            actor=actor,
            ip=ip,
            metadata={"via": action, "requested_region": str(region)[:20], "deployment_region": settings.DATA_REGION},
        )
    raise wrong_region_error(str(region))


def register_organization(user, data: Mapping, ip: str | None = None) -> Organization:
    """ORG-1: create an active, uncertified organization with ``user`` as its owner and
    a root department named after it. Invalid data raises ``ValidationError`` and
    writes nothing. SEC-6: the organization is of the deployment's data region; any
    other region is refused (and the refusal audited)."""
    unknown = set(data) - set(REGISTRATION_FIELDS)
    if unknown:
        raise ValueError(f"Not registration fields: {sorted(unknown)}")
    region = data.get("data_region") or settings.DATA_REGION
    if region in DataRegion.values:  # an unknown value is an ordinary invalid choice below
        check_region(region, actor=user, ip=ip)
    return _create_organization(user, {**data, "data_region": region}, ip)


@transaction.atomic
def _create_organization(user, data: Mapping, ip: str | None) -> Organization:
    organization = Organization(
        **{field: data[field] for field in REGISTRATION_FIELDS if field in data},
        status=OrganizationStatus.ACTIVE,
        certification_status=CertificationStatus.UNCERTIFIED,
        created_by=user,
    )
    organization.full_clean(exclude=["created_by"])  # a second line of defence behind the form
    organization.save()
    Administrator.objects.create(organization=organization, user=user, role=AdministratorRole.OWNER, appointed_by=user)
    root = Department.objects.create(organization=organization, name=organization.name, depth=0)
    root.path = root.compute_path("")
    root.save(update_fields=["path"])
    record_event(
        "organization.registered",
        actor=user,
        target=organization,
        organization=organization,
        ip=ip,
        changes=[field for field in REGISTRATION_FIELDS if field in data],
    )
    return organization


# --------------------------------------------------------------------------- ORG-2


def submit_certification(access: OrgAccess, data: Mapping, files: Mapping, ip: str | None = None) -> Certification:
    """ORG-2: record a certification submission by the owner and mark the organization
    as under review. ``files`` maps ``business_licence`` and ``certification_letter``
    to ``(content, content_type)``; both are stored encrypted. Refused while another
    submission is under review or once the organization is certified.

    The documents are written inside the transaction; if anything fails they are
    deleted before the error propagates, so a refused submission leaves no file behind.
    """
    access.require_owner()
    written: list[str] = []
    try:
        return _create_certification(access, data, files, ip, written)
    except IntegrityError:
        # one_pending_certification: a concurrent submission won the race.
        for name in written:
            delete_stored(name)
        raise ValidationError(_("A certification is already under review."), code="pending") from None
    except BaseException:
        for name in written:
            delete_stored(name)
        raise


@transaction.atomic
def _create_certification(access: OrgAccess, data: Mapping, files: Mapping, ip, written: list[str]) -> Certification:
    organization = Organization.objects.select_for_update().get(pk=access.organization.pk)
    blocking = (
        Certification.objects.filter(
            organization=organization, status__in=[CertificationStatus.PENDING, CertificationStatus.APPROVED]
        )
        .values_list("status", flat=True)
        .first()
    )
    if blocking == CertificationStatus.APPROVED:
        raise ValidationError(_("This organization is already certified."), code="certified")
    if blocking == CertificationStatus.PENDING:
        raise ValidationError(_("A certification is already under review."), code="pending")
    attestation = (data.get("attestation") or "").strip()
    if not attestation:
        raise ValidationError(_("The submitter's attestation is required."), code="attestation")
    stored: dict[str, tuple[str, str]] = {}
    for field in CERTIFICATION_FILES:
        content, content_type = files[field]
        name = store_encrypted(content, CERTIFICATION_FILE_PURPOSE)
        written.append(name)
        stored[field] = (name, content_type)
    certification = Certification.objects.create(
        organization=organization,
        registration_number=data["registration_number"],
        legal_representative_name=data["legal_representative_name"],
        legal_representative_id_number=data["legal_representative_id_number"],
        business_licence=stored["business_licence"][0],
        business_licence_type=stored["business_licence"][1],
        certification_letter=stored["certification_letter"][0],
        certification_letter_type=stored["certification_letter"][1],
        attestation=attestation,
        submitted_by=access.user,
        status=CertificationStatus.PENDING,
    )
    organization.certification_status = CertificationStatus.PENDING
    organization.save(update_fields=["certification_status"])
    access.organization.certification_status = CertificationStatus.PENDING
    record_event(
        "certification.submitted",
        actor=access.user,
        target=certification,
        organization=organization,
        ip=ip,
        changes=[
            "registration_number",
            "legal_representative_name",
            "legal_representative_id_number",
            *CERTIFICATION_FILES,
            "attestation",
        ],
    )
    return certification


def _require_reviewer(reviewer) -> None:
    if not (getattr(reviewer, "is_active", False) and getattr(reviewer, "is_staff", False)):
        raise PermissionDenied


def _decide(certification: Certification, reviewer, status: str, reason: str, ip: str | None, action: str):
    now = timezone.now()
    # Compare-and-set: of two reviewers deciding at once, exactly one wins.
    decided = Certification.objects.filter(pk=certification.pk, status=CertificationStatus.PENDING).update(
        status=status, reviewed_by=reviewer, reviewed_at=now, review_reason=reason
    )
    if not decided:
        raise ValidationError(_("This certification is no longer under review."), code="not_pending")
    Organization.objects.filter(pk=certification.organization_id).update(certification_status=status)
    certification.status, certification.reviewed_by, certification.reviewed_at = status, reviewer, now
    certification.review_reason = reason
    record_event(
        action,
        actor=reviewer,
        target=certification,
        organization=certification.organization_id,
        ip=ip,
        changes=["status", "review_reason"] if reason else ["status"],
    )
    return certification


@transaction.atomic
def approve_certification(certification: Certification, reviewer, ip: str | None = None) -> Certification:
    """ORG-2: operations staff certify the organization."""
    _require_reviewer(reviewer)
    return _decide(certification, reviewer, CertificationStatus.APPROVED, "", ip, "certification.approved")


@transaction.atomic
def reject_certification(certification: Certification, reviewer, reason: str, ip: str | None = None):
    """ORG-2: operations staff reject a submission, always with a reason the owner sees."""
    _require_reviewer(reviewer)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(_("Give the reason for rejecting, so the organization can fix it."), code="reason")
    return _decide(certification, reviewer, CertificationStatus.REJECTED, reason, ip, "certification.rejected")


@transaction.atomic
def read_certification_file(certification: Certification, which: str, viewer, ip: str | None = None):
    """Decrypt one certification document for operations staff and audit the viewing
    (documents are sensitive, ORG-2). Returns ``(content, content_type)``."""
    _require_reviewer(viewer)
    if which not in CERTIFICATION_FILES:
        raise ValueError(f"Not a certification file: {which!r}")
    content = read_decrypted(getattr(certification, which), CERTIFICATION_FILE_PURPOSE)
    record_event(
        "certification.file_viewed",
        actor=viewer,
        target=certification,
        organization=certification.organization_id,
        ip=ip,
        metadata={"file": which},
    )
    return content, getattr(certification, f"{which}_type")


# --------------------------------------------------------------------------- ORG-12


def transfer_ownership(access: OrgAccess, new_owner: Administrator, code: str, ip: str | None = None):
    """ORG-12: hand the organization to another of its administrators.

    The owner re-verifies with a fresh SMS code. In one transaction the owner becomes a
    sub-administrator holding every right on the whole organization through explicit
    grants, the chosen administrator becomes the owner (demoted first, then promoted:
    one owner per organization at all times), and the new owner's explicit grants and
    department scope are dropped, since an owner holds everything implicitly.

    The code is checked before the transaction: a wrong guess must be counted even
    though the transfer does not happen (see ``accounts.services.codes.check_code``).
    """
    access.require_owner()
    organization = access.organization
    if new_owner.organization_id != organization.pk or new_owner.role != AdministratorRole.SUB_ADMIN:
        raise ValidationError(_("Choose another administrator of this organization."), code="not_candidate")
    otc = check_code(access.user.phone, CodePurpose.REVERIFY, code)
    with transaction.atomic():
        consume_code(otc)
        old_owner = access.administrator
        demoted = Administrator.objects.filter(
            pk=old_owner.pk, organization=organization, role=AdministratorRole.OWNER
        ).update(role=AdministratorRole.SUB_ADMIN)
        if not demoted:
            raise ValidationError(_("You are no longer the owner of this organization."), code="not_owner")
        promoted = Administrator.objects.filter(
            pk=new_owner.pk, organization=organization, role=AdministratorRole.SUB_ADMIN
        ).update(role=AdministratorRole.OWNER)
        if not promoted:
            raise ValidationError(_("Choose another administrator of this organization."), code="not_candidate")
        revoke_all_rights(old_owner.user, organization)
        grant_rights(old_owner.user, Right.values, organization)
        old_owner.scope.clear()
        revoke_all_rights(new_owner.user, organization)
        new_owner.scope.clear()
        record_event(
            "organization.ownership_transferred",
            actor=access.user,
            target=organization,
            organization=organization,
            ip=ip,
            changes=["owner"],
            metadata={"from_administrator": old_owner.pk, "to_administrator": new_owner.pk},
        )
    old_owner.role, new_owner.role = AdministratorRole.SUB_ADMIN, AdministratorRole.OWNER
    return new_owner
