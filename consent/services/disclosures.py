"""The record of every share of personal data with a provider (SVC-5), so that a
deletion can notify each recipient (REQ-8).

One row per service and roster entry (or per service and person for a personal
authorization): first and last time shared, how many times, and the union of the scopes
ever shared. A page of the provider API is recorded in a fixed number of queries,
whatever its size: one read of the rows that exist, one UPDATE per distinct set of
stored scopes (nearly always one), one INSERT of the new rows. No audit event: the rows
are themselves the record, written on every API call."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from consent.models.sharing import Disclosure, PersonalAuthorization, Service


def _union(*scope_lists: Iterable[str]) -> list[str]:
    return sorted({str(scope) for scopes in scope_lists for scope in scopes})


@transaction.atomic
def record_disclosures(
    service: Service, scopes: Iterable[str], *, organization_id: int, members: Iterable[tuple[int, int | None]]
) -> int:
    """SVC-5: ``members`` (pairs of roster entry and account, ``None`` without one)
    received ``scopes`` of their data from ``service`` now. Returns how many rows."""
    user_by_member = dict(members)
    if not user_by_member:
        return 0
    scopes = _union(scopes)
    now = timezone.now()
    existing = Disclosure.objects.filter(service=service, member_id__in=list(user_by_member)).values_list(
        "pk", "member_id", "scopes"
    )
    by_scopes: dict[tuple[str, ...], list[int]] = defaultdict(list)
    seen: set[int] = set()
    for pk, member_id, stored in existing:
        seen.add(member_id)
        by_scopes[tuple(_union(stored or (), scopes))].append(pk)
    for merged, pks in by_scopes.items():
        Disclosure.objects.filter(pk__in=pks).update(scopes=list(merged), last_disclosed_at=now, times=F("times") + 1)
    new = [
        Disclosure(
            service=service,
            organization_id=organization_id,
            member_id=member_id,
            user_id=user_id,
            scopes=scopes,
            first_disclosed_at=now,
            last_disclosed_at=now,
            times=1,
        )
        for member_id, user_id in user_by_member.items()
        if member_id not in seen
    ]
    if new:
        # A concurrent page may have inserted the same member in between: its row then
        # stands for this share too (the partial unique constraint keeps one).
        Disclosure.objects.bulk_create(new, ignore_conflicts=True)
    return len(user_by_member)


@transaction.atomic
def record_personal_disclosure(authorization: PersonalAuthorization, scopes: Iterable[str]) -> Disclosure:
    """SVC-4, SVC-5: the mini-program received ``scopes`` of the person's data under
    their own authorization."""
    now = timezone.now()
    scopes = _union(scopes)
    disclosure = (
        Disclosure.objects.select_for_update()
        .filter(service_id=authorization.service_id, user_id=authorization.user_id, member__isnull=True)
        .first()
    )
    if disclosure is None:
        return Disclosure.objects.create(
            service_id=authorization.service_id,
            user_id=authorization.user_id,
            scopes=scopes,
            first_disclosed_at=now,
            last_disclosed_at=now,
        )
    disclosure.scopes = _union(disclosure.scopes or (), scopes)
    disclosure.last_disclosed_at = now
    disclosure.times = F("times") + 1
    disclosure.save(update_fields=["scopes", "last_disclosed_at", "times"])
    disclosure.refresh_from_db(fields=["times"])
    return disclosure
