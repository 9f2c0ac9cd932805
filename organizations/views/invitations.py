"""Invitation pages (ORG-6, ORG-8).

Administrators (``edit_roster`` on the member, through the gate: 404 out of scope, 403
without the right) invite a not-yet-joined roster entry's person by SMS and see and
revoke the invitations of the members in their scope. The person opens the link from the
SMS, signed in with the account of that very number, reads the terms frozen in the
invitation -- purpose, scope, use and who controls the data -- and accepts or declines.

The answer page: an unknown token is 404; an expired, withdrawn or answered invitation is
a message page with status 410; another account's number is a message page with 403;
nothing changes in either case.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from dataprotection.audit import client_ip
from dataprotection.masking import mask_phone
from organizations.forms.invitations import ACCEPT, InvitationAnswerForm, InvitationForm
from organizations.models import Invitation, InvitationStatus, Right
from organizations.permissions import OrgAccess, org_access
from organizations.services import invitations as services
from organizations.views.common import render_org
from organizations.views.roster import page_window

PAGE_SIZE = 50
# Status codes of the answer page when the invitation cannot be answered.
REFUSED_STATUS = {"wrong_number": 403, "already_member": 409, "joined": 409}
GONE = 410  # expired, withdrawn or already answered


def _portal_base_url(request: HttpRequest) -> str:
    """The portal's public address for links sent outside the browser (SMS)."""
    return getattr(settings, "PORTAL_BASE_URL", "") or request.build_absolute_uri("/")


def _scoped_invitations(access: OrgAccess):
    """Invitations of the members where the administrator may edit the roster (403
    without ``edit_roster`` anywhere): one subquery, no per-row checks."""
    in_scope = access.members(Right.EDIT_ROSTER).values("pk")
    return Invitation.objects.filter(organization=access.organization, member__in=in_scope)


def _page_number(request: HttpRequest) -> int:
    try:
        return max(1, int(request.GET.get("page", 1)))
    except ValueError:
        return 1


@login_required
@require_http_methods(["GET", "POST"])
def invitation_list(request: HttpRequest, org_id: int) -> HttpResponse:
    """ORG-8: the invitations of the members in scope, newest first, 50 per page, with
    a button to withdraw a pending one (POST ``revoke=<id>``).

    Queries (after the session and user): the administrator row, the grants (sub-
    administrators only), the page of invitations with member and inviter joined."""
    access = org_access(request.user, org_id)
    invitations = _scoped_invitations(access)
    if request.method == "POST":
        try:
            pk = int(request.POST.get("revoke", ""))
        except ValueError:
            raise Http404 from None
        invitation = invitations.select_related("member").prefetch_related("member__departments").filter(pk=pk).first()
        if invitation is None:
            raise Http404
        if services.revoke_invitation(access, invitation, ip=client_ip(request)):
            messages.success(request, _("The invitation to %(name)s was withdrawn.") % {"name": invitation.member.name})
        else:
            messages.info(request, _("This invitation was no longer pending; nothing changed."))
        return redirect("organizations:invitations", org_id=access.organization.pk)

    page = _page_number(request)
    rows, has_next = page_window(
        invitations.select_related("member", "invited_by", "accepted_by")
        .only(
            "pk",
            "status",
            "created_at",
            "expires_at",
            "responded_at",
            "message",
            "member__id",
            "member__name",
            "member__mobile",
            "invited_by__id",
            "invited_by__name",
            "invited_by__nickname",
            "invited_by__phone",
            "accepted_by__id",
            "accepted_by__name",
            "accepted_by__nickname",
            "accepted_by__phone",
        )
        .order_by("-created_at", "-pk"),
        page,
        PAGE_SIZE,
    )
    now = timezone.now()
    for invitation in rows:
        invitation.expired = invitation.status == InvitationStatus.PENDING and services.is_expired(invitation, now)
    return render_org(
        request,
        "organizations/invitations/list.html",
        access,
        {
            "section": "invitations",
            "invitations": rows,
            "page": page,
            "has_previous": page > 1,
            "has_next": has_next,
            "pending": InvitationStatus.PENDING,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def member_invite(request: HttpRequest, org_id: int, member_id: int) -> HttpResponse:
    """ORG-8: invite a not-yet-joined member by SMS, with an optional personal message,
    showing the administrator the terms the person will read."""
    access = org_access(request.user, org_id)
    member = access.get_member(member_id, Right.EDIT_ROSTER)
    if member.user_id is not None:
        messages.error(request, _("%(name)s has already joined; there is nobody to invite.") % {"name": member.name})
        return redirect("organizations:member", org_id=access.organization.pk, member_id=member.pk)
    pending = Invitation.objects.filter(member=member, status=InvitationStatus.PENDING).first()
    if request.method == "POST":
        form = InvitationForm(request.POST)
        if form.is_valid():
            try:
                services.invite_member(
                    access,
                    member,
                    form.cleaned_data["message"],
                    ip=client_ip(request),
                    base_url=_portal_base_url(request),
                )
            except services.InvitationRefused as exc:
                form.add_error(None, exc)
            else:
                messages.success(
                    request,
                    _("An invitation was sent to %(name)s at %(phone)s.")
                    % {"name": member.name, "phone": member.masked_mobile},
                )
                return redirect("organizations:invitations", org_id=access.organization.pk)
    else:
        # The organization's invitation message: the last one its administrators sent.
        last_message = (
            Invitation.objects.filter(organization=access.organization)
            .exclude(message="")
            .order_by("-created_at", "-pk")
            .values_list("message", flat=True)
            .first()
        )
        form = InvitationForm(initial={"message": last_message or ""})
    return render_org(
        request,
        "organizations/invitations/invite.html",
        access,
        {
            "section": "invitations",
            "member": member,
            "form": form,
            "pending": pending,
            "has_mobile": bool(member.mobile),
            "terms": services.readable_terms(services.invitation_terms(access.organization)),
        },
    )


def _refused(request: HttpRequest, invitation: Invitation, exc: services.InvitationRefused) -> HttpResponse:
    return render(
        request,
        "organizations/invitations/refused.html",
        {
            "invitation": invitation,
            "reason": exc.messages[0],
            "code": exc.code,
            "signed_in_as": mask_phone(request.user.phone),
        },
        status=REFUSED_STATUS.get(exc.code, GONE),
    )


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def invitation_answer(request: HttpRequest, token: str) -> HttpResponse:
    """ORG-6, ORG-8: the person's invitation page. Signed in (else the sign-in page,
    coming back here); the account's verified number must be the member's mobile."""
    invitation = services.find_invitation(token)
    if invitation is None:
        raise Http404
    try:
        services.check_answerable(invitation, request.user)
    except services.InvitationRefused as exc:
        return _refused(request, invitation, exc)
    form = InvitationAnswerForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        organization = invitation.organization.name
        try:
            if form.cleaned_data["decision"] == ACCEPT:
                services.accept_invitation(invitation, request.user, ip=client_ip(request))
            else:
                services.decline_invitation(invitation, request.user, ip=client_ip(request))
        except services.InvitationRefused as exc:
            return _refused(request, invitation, exc)
        if invitation.status == InvitationStatus.ACCEPTED:
            messages.success(request, _("You joined %(organization)s.") % {"organization": organization})
            return redirect("organizations:my_data")
        messages.info(
            request,
            _("You declined the invitation of %(organization)s. Your account is not linked to it.")
            % {"organization": organization},
        )
        return redirect(settings.LOGIN_REDIRECT_URL)
    return render(
        request,
        "organizations/invitations/answer.html",
        {"invitation": invitation, "terms": services.readable_terms(invitation.shown_terms), "form": form},
    )
