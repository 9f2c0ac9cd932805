"""Reads about policy documents (CON-6): which editions apply to a person, the current
and older versions of an edition, and the significant versions a person still has to
acknowledge. Writes are in ``consent.services.policies``."""

from __future__ import annotations

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet

from accounts.models import DataRegion
from consent.models import PolicyAcknowledgement, PolicyEdition, PolicyVersion
from organizations.models import Edition, Member, MemberStatus, OrganizationStatus

# The deployment's data region decides the general edition (EN VII, SEC-6).
REGION_EDITIONS = {
    DataRegion.MAINLAND_CHINA: PolicyEdition.MAINLAND,
    DataRegion.SINGAPORE: PolicyEdition.INTERNATIONAL,
}


def region_edition() -> str:
    """The edition that applies to everyone on this deployment."""
    return str(REGION_EDITIONS.get(settings.DATA_REGION, PolicyEdition.INTERNATIONAL))


def dedicated_memberships(user) -> QuerySet:
    """Active memberships of ``user`` in a live dedicated-edition organization (ZH-DED)."""
    return Member.objects.filter(
        user=user,
        status=MemberStatus.ACTIVE,
        organization__edition=Edition.DEDICATED,
        organization__status__in=[OrganizationStatus.ACTIVE, OrganizationStatus.FROZEN],
    )


def editions_for(user) -> set[str]:
    """CON-6: the editions whose policy applies to ``user``: the deployment's edition,
    plus the dedicated edition for a member of a dedicated-edition organization. One
    query for a signed-in person, none for a visitor."""
    editions = {region_edition()}
    if getattr(user, "is_authenticated", False) and dedicated_memberships(user).exists():
        editions.add(str(PolicyEdition.DEDICATED))
    return editions


def _applies_to(user) -> Q:
    """The editions of ``user`` as one filter, so callers stay at one query."""
    return Q(edition=region_edition()) | Q(Q(edition=PolicyEdition.DEDICATED) & Exists(dedicated_memberships(user)))


def published_versions() -> QuerySet:
    return PolicyVersion.objects.filter(published_at__isnull=False)


def current_version(edition: str) -> PolicyVersion | None:
    """The newest published version of ``edition`` (publishing never goes backwards,
    see ``publish_policy_version``)."""
    return published_versions().filter(edition=edition).order_by("-published_at", "-pk").first()


def latest_significant_versions(user) -> list[PolicyVersion]:
    """Per edition that applies to ``user``, its newest published significant version,
    annotated with ``acknowledged`` (by ``user``). One query."""
    rows = (
        published_versions()
        .filter(_applies_to(user), significant=True)
        .annotate(acknowledged=Exists(PolicyAcknowledgement.objects.filter(user=user, version=OuterRef("pk"))))
        .order_by("edition", "-published_at", "-pk")
    )
    latest: dict[str, PolicyVersion] = {}
    for version in rows:
        latest.setdefault(version.edition, version)
    return list(latest.values())


def pending_significant_versions(user) -> list[PolicyVersion]:
    """CON-6: the significant versions ``user`` must acknowledge: per applicable
    edition the newest published significant version, unless acknowledged, or published
    before the person registered (they accepted it when signing up). A newer significant
    version supersedes an older unacknowledged one. One query."""
    if not getattr(user, "is_authenticated", False):
        return []
    return [
        version
        for version in latest_significant_versions(user)
        if not version.acknowledged and version.published_at > user.date_joined
    ]
