"""Reads of organizations data that other apps ask for.

``dedicated_edition_locks`` (ACC-6): members of a dedicated-edition organization correct
their basic information through the organization's administrators, not on their own
profile page; accounts asks which profile fields are locked, and why."""

from __future__ import annotations

import hashlib

from django.core.cache import cache
from django.db.models import QuerySet
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


# Longest a cached roster total is shown after a change that does not move the roster's
# generation on (a person changing their own birthday, which can make an entry a child's).
ROSTER_TOTAL_SECONDS = 60


def roster_total(organization, members: QuerySet) -> int:
    """ORG-7: how many entries ``members`` holds, for the roster page's total and page
    numbers, counted once per roster generation and query.

    Counting 100,000 entries with the children's rule and the administrator's scope is
    a scan of them all (about 45 ms on PostgreSQL, in three processes), paid on every
    page view though the roster rarely changes. The count is cached under the
    organization's ``roster_generation`` -- which every change of entries, placements
    or departments moves on, in the transaction that makes it -- and the query itself
    (scope, filters, the day's children cutoff), so a change is counted at the next
    view and two administrators with different scopes never share a count."""
    sql, params = members.query.sql_with_params()
    digest = hashlib.blake2b(repr((sql, params)).encode(), digest_size=16).hexdigest()
    key = f"roster-total:{organization.pk}:{organization.roster_generation}:{digest}"
    total = cache.get(key)
    if total is None:
        total = members.count()
        cache.set(key, total, ROSTER_TOTAL_SECONDS)
    return total
