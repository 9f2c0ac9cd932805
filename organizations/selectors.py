"""Reads of organizations data that other apps ask for.

``dedicated_edition_locks`` (ACC-6): members of a dedicated-edition organization correct
their basic information through the organization's administrators, not on their own
profile page; accounts asks which profile fields are locked, and why."""

from __future__ import annotations

from django.utils.translation import gettext as _

from organizations.models import Edition, Member, MemberStatus, OrganizationStatus

# The basic information a dedicated-edition organization provides for its members.
DEDICATED_EDITION_FIELDS = ("name", "company_email")


def dedicated_edition_locks(user) -> dict[str, str]:
    if not getattr(user, "is_authenticated", False):
        return {}
    names = list(
        Member.objects.filter(
            user=user,
            status__in=[MemberStatus.ACTIVE, MemberStatus.INVITED],
            organization__edition=Edition.DEDICATED,
            organization__status=OrganizationStatus.ACTIVE,
        )
        .order_by("organization__name")
        .values_list("organization__name", flat=True)
        .distinct()
    )
    if not names:
        return {}
    reason = _("Provided by %(organizations)s (dedicated edition): ask its administrators to correct it.") % {
        "organizations": ", ".join(names)
    }
    return dict.fromkeys(DEDICATED_EDITION_FIELDS, reason)
