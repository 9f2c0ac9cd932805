"""Invitations (ORG-6, ORG-8): an administrator invites a roster entry's person to join
with their verified mobile number; the person reads what the organization keeps about
them, why and how it is used, and accepts or declines.

- The token travels only in the SMS link. The database keeps its keyed hash
  (``Invitation.token_digest``); the SMS body is encrypted in the outbox and erased once
  delivered.
- One pending invitation per member: inviting again revokes the pending one in the same
  transaction (the ``one_pending_invitation_per_member`` constraint backs this up).
- ``shown_terms`` is frozen when the invitation is sent: the organization's name, the
  collected fields with their group and purpose, how the data is used, and the statement
  that the organization is the controller of this data (EN I(II)4). The invitation page
  shows exactly that, and the accepted invitation with those terms is the member's consent
  record (ORG-6, CON-2).
- Answers are compare-and-set on the status: of two concurrent acceptances exactly one
  wins; an expired, revoked or answered invitation changes nothing.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import get_language, gettext_noop
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.services.sms import queue_sms
from dataprotection import deferred_text
from dataprotection.audit import record_event
from dataprotection.crypto import keyed_hash
from dataprotection.deferred_text import DeferredText, deferred
from dataprotection.masking import mask_phone
from organizations.models import (
    Invitation,
    InvitationStatus,
    Member,
    MemberStatus,
    Organization,
    OrganizationStatus,
    Right,
)
from organizations.permissions import OrgAccess
from organizations.services.collection import GROUPS, available_fields, collection_settings
from organizations.services.lookups import mobile_digest

TOKEN_DIGEST_PURPOSE = "organizations.invitation"
INVITATION_TTL = timedelta(days=14)
TERMS_VERSION = 1
MESSAGE_MAX_LENGTH = 200


class InvitationRefused(ValidationError):
    """An invitation cannot be sent or answered; ``code`` says why."""


def token_digest(token: str) -> str:
    return keyed_hash(token, TOKEN_DIGEST_PURPOSE)


def find_invitation(token: str) -> Invitation | None:
    """The invitation a link's token opens, or ``None`` (one indexed lookup)."""
    if not token:
        return None
    return Invitation.objects.select_related("organization", "member").filter(token_digest=token_digest(token)).first()


def is_expired(invitation: Invitation, now=None) -> bool:
    return invitation.expires_at <= (now or timezone.now())


def invitation_terms(organization: Organization) -> dict:
    """What the person is told before joining (ORG-6, EN I(II)4): purpose, scope (each
    collected field with its group and purpose) and use of the data, and who controls
    it. Frozen in ``Invitation.shown_terms``: the portal's own sentences and labels as
    message keys (the invitee reads them in their language, not the inviting
    administrator's), the organization's stated purposes as it wrote them. Shown through
    ``readable_terms``."""
    settings_by_field = collection_settings(organization)

    def entry(name: str, group: str, group_label, purpose, sensitive: bool) -> dict:
        return {
            "field": name,
            "label": deferred_text.label(Member._meta.get_field(name).verbose_name, capfirst=True).as_json(),
            "group": group,
            "group_label": deferred_text.label(group_label).as_json(),
            "purpose": purpose.as_json() if isinstance(purpose, DeferredText) else str(purpose),
            "sensitive": sensitive,
        }

    basic = gettext_noop("Basic")
    fields = [
        entry("name", "basic", basic, deferred(gettext_noop("Identify you in the organization's roster")), False),
        entry(
            "mobile",
            "basic",
            basic,
            deferred(gettext_noop("Let you join with your verified number and reach you at work")),
            True,
        ),
    ]
    for field in available_fields(organization):
        collected, purpose = settings_by_field.get(field.name, (False, ""))
        if collected:
            fields.append(entry(field.name, field.group, GROUPS[field.group], purpose, field.sensitive))
    name = organization.name
    return {
        "version": TERMS_VERSION,
        "organization": {"id": organization.pk, "name": name},
        "purpose": deferred(
            gettext_noop(
                "%(organization)s keeps a roster entry about you for its daily operation and management: "
                "its organization chart, attendance, approvals and the other work services it opens."
            ),
            organization=name,
        ).as_json(),
        "fields": fields,
        "use": deferred(
            gettext_noop(
                "Only the fields listed here are collected, each for the purpose stated. Administrators of "
                "%(organization)s see and correct them within their rights; sensitive values are encrypted, "
                "masked and every reveal is recorded. You can see what the organization holds about you, and who "
                "viewed or changed it, on the page “My data in organizations”."
            ),
            organization=name,
        ).as_json(),
        "controller": deferred(
            gettext_noop(
                "%(organization)s is the controller of this organization-control data. Custodia processes it only "
                "on the organization's instructions and on its behalf. Your personal account stays yours."
            ),
            organization=name,
        ).as_json(),
    }


def _readable(value):
    """A frozen text: a message key rendered now, or text kept as written (the
    organization's purposes, and terms frozen as text before they were keys)."""
    if isinstance(value, dict) and "msgid" in value:
        return DeferredText.from_json(value).render()
    return value


def readable_terms(terms: dict) -> dict:
    """``Invitation.shown_terms`` in the reader's language, for the pages."""
    return {
        **terms,
        **{key: _readable(terms.get(key, "")) for key in ("purpose", "use", "controller")},
        "fields": [
            {**field, **{key: _readable(field.get(key, "")) for key in ("label", "group_label", "purpose")}}
            for field in terms.get("fields", [])
        ],
    }


def _require_edit_roster(access: OrgAccess, member: Member) -> None:
    paths = [department.path for department in member.departments.all()]
    if member.organization_id != access.organization.pk or not access.covers_member(Right.EDIT_ROSTER, paths):
        raise PermissionDenied


def invitation_link(base_url: str, token: str) -> str:
    return base_url.rstrip("/") + reverse("organizations:invitation_answer", kwargs={"token": token})


@transaction.atomic
def invite_member(
    access: OrgAccess, member: Member, message: str = "", ip: str | None = None, *, base_url: str
) -> Invitation:
    """ORG-8: invite the person of a not-yet-joined roster entry by SMS.

    Requires ``edit_roster`` on the member. Refuses a joined member and one without a
    mobile number. Revokes the member's pending invitation, if any, creates a new one
    valid for 14 days with the terms frozen, and queues the SMS carrying the link (built
    on ``base_url``, the portal's address) after commit. Audited as ``invitation.sent``.
    """
    _require_edit_roster(access, member)
    current = Member.objects.select_for_update().get(pk=member.pk, organization=access.organization)
    if current.user_id is not None:
        raise InvitationRefused(_("%(name)s has already joined.") % {"name": current.name}, code="joined")
    if not current.mobile:
        raise InvitationRefused(
            _("%(name)s has no mobile number on the roster. Add one before sending an invitation.")
            % {"name": current.name},
            code="no_mobile",
        )
    message = (message or "").strip()[:MESSAGE_MAX_LENGTH]
    now = timezone.now()
    replaced = list(
        Invitation.objects.filter(member=current, status=InvitationStatus.PENDING).values_list("pk", flat=True)
    )
    if replaced:
        Invitation.objects.filter(pk__in=replaced, status=InvitationStatus.PENDING).update(
            status=InvitationStatus.REVOKED, responded_at=now
        )
    token = secrets.token_urlsafe(32)
    try:
        with transaction.atomic():
            invitation = Invitation.objects.create(
                organization=access.organization,
                member=current,
                token_digest=token_digest(token),
                message=message,
                invited_by=access.user,
                created_at=now,
                expires_at=now + INVITATION_TTL,
                shown_terms=invitation_terms(access.organization),
            )
    except IntegrityError:
        raise InvitationRefused(
            _("Another invitation to this member was sent at the same moment. Reload the page."), code="concurrent"
        ) from None
    link = invitation_link(base_url, token)
    organization = access.organization.name
    # In the language of the invitee's account when the number has one (a person who
    # registered before being invited), else in the inviting administrator's.
    language = User.objects.filter(phone=current.mobile).values_list("preferred_language", flat=True).first()
    with translation.override(language or get_language()):
        if message:
            body = _("[Custodia] %(organization)s invites you to join: %(message)s Open %(link)s") % {
                "organization": organization,
                "message": message,
                "link": link,
            }
        else:
            body = _("[Custodia] %(organization)s invites you to join. Open %(link)s") % {
                "organization": organization,
                "link": link,
            }
        body += " " + _("(valid until %(date)s)") % {"date": invitation.expires_at.date().isoformat()}
    queue_sms(current.mobile, body)
    record_event(
        "invitation.sent",
        actor=access.user,
        target=invitation,
        organization=access.organization,
        ip=ip,
        metadata={
            "member": current.pk,
            "to": mask_phone(current.mobile),
            "fields": [field["field"] for field in invitation.shown_terms["fields"]],
            "replaced": replaced,
        },
    )
    return invitation


@transaction.atomic
def revoke_invitation(access: OrgAccess, invitation: Invitation, ip: str | None = None) -> bool:
    """Withdraw a pending invitation (``edit_roster`` on its member). Returns False when
    it was no longer pending (answered, revoked) -- nothing changes then."""
    if invitation.organization_id != access.organization.pk:
        raise PermissionDenied
    _require_edit_roster(access, invitation.member)
    now = timezone.now()
    if not Invitation.objects.filter(pk=invitation.pk, status=InvitationStatus.PENDING).update(
        status=InvitationStatus.REVOKED, responded_at=now
    ):
        return False
    invitation.status, invitation.responded_at = InvitationStatus.REVOKED, now
    record_event(
        "invitation.revoked",
        actor=access.user,
        target=invitation,
        organization=access.organization,
        ip=ip,
        metadata={"member": invitation.member_id},
    )
    return True


def check_answerable(invitation: Invitation, user, now=None) -> None:
    """Raise ``InvitationRefused`` unless ``user`` may answer ``invitation`` now: it is
    pending and not expired, and ``user``'s verified number is the member's mobile."""
    if invitation.status == InvitationStatus.REVOKED:
        raise InvitationRefused(_("This invitation was withdrawn by the organization."), code="revoked")
    if invitation.status != InvitationStatus.PENDING:
        raise InvitationRefused(_("This invitation has already been answered."), code="answered")
    if invitation.organization.status != OrganizationStatus.ACTIVE:
        # ORG-11: nobody joins an organization that is being disbanded.
        raise InvitationRefused(_("This organization is being disbanded and no longer takes members."), code="frozen")
    if is_expired(invitation, now):
        raise InvitationRefused(
            _("This invitation has expired. Ask the organization to send a new one."), code="expired"
        )
    if not user.phone or mobile_digest(user.phone) != invitation.member.mobile_digest:
        raise InvitationRefused(
            _(
                "This invitation was sent to another number. Sign in with the account of the number that "
                "received the SMS."
            ),
            code="wrong_number",
        )


def _answer(invitation: Invitation, status: str, user, now) -> None:
    """Compare-and-set pending -> ``status``; the loser of a race is refused."""
    changes = {"status": status, "responded_at": now}
    if status == InvitationStatus.ACCEPTED:
        changes["accepted_by"] = user
    if not Invitation.objects.filter(pk=invitation.pk, status=InvitationStatus.PENDING, expires_at__gt=now).update(
        **changes
    ):
        raise InvitationRefused(_("This invitation has already been answered."), code="answered")
    for field, value in changes.items():
        setattr(invitation, field, value)


@transaction.atomic
def accept_invitation(invitation: Invitation, user, ip: str | None = None) -> Member:
    """ORG-6, ORG-8: the person joins. Links the roster entry to their account and makes
    it active; the accepted invitation with its ``shown_terms`` is the consent record.
    Audited as ``invitation.accepted`` about the person."""
    now = timezone.now()
    check_answerable(invitation, user, now)
    member = invitation.member
    organization = invitation.organization
    if Member.objects.filter(organization=organization, user=user).exists():
        raise InvitationRefused(
            _("You already have a roster entry in %(organization)s. Ask its administrators to correct it.")
            % {"organization": organization.name},
            code="already_member",
        )
    _answer(invitation, InvitationStatus.ACCEPTED, user, now)
    try:
        with transaction.atomic():
            linked = Member.objects.filter(pk=member.pk, user__isnull=True).update(
                user=user, status=MemberStatus.ACTIVE
            )
    except IntegrityError:  # a concurrent acceptance of another entry of the same organization
        linked = 0
    if not linked:
        raise InvitationRefused(_("This roster entry has already been joined by an account."), code="joined")
    member.user, member.status = user, MemberStatus.ACTIVE
    record_event(
        "invitation.accepted",
        actor=user,
        subject=user,
        target=invitation,
        organization=organization,
        ip=ip,
        metadata={
            "member": member.pk,
            "terms_version": invitation.shown_terms.get("version"),
            "fields": [field["field"] for field in invitation.shown_terms.get("fields", [])],
        },
    )
    return member


@transaction.atomic
def decline_invitation(invitation: Invitation, user, ip: str | None = None) -> None:
    """The person declines: the invitation is answered, the roster entry stays as it is
    (holding only the basic fields, ``organizations.services.collection.fillable_fields``)."""
    now = timezone.now()
    check_answerable(invitation, user, now)
    _answer(invitation, InvitationStatus.DECLINED, user, now)
    record_event(
        "invitation.declined",
        actor=user,
        subject=user,
        target=invitation,
        organization=invitation.organization,
        ip=ip,
        metadata={"member": invitation.member_id},
    )
