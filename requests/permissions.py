"""The one permission gate for data-subject requests (REQ-5, REQ-6).

Organization side: a request routed to an organization is handled by its administrators
holding ``Right.HANDLE_REQUESTS``. The gate is ``organizations.permissions.org_access``
(404 unless the user administers the organization), then:

- without the right anywhere in the organization: 403;
- the owner, or a grant on the whole organization: every request of the organization;
- a grant on department subtrees only: the requests about roster entries placed in
  those subtrees (one subquery on department paths, like ``OrgAccess.members``).
  Requests about no roster entry (e.g. a profile correction routed to a dedicated
  organization, ACC-6) need the right on the whole organization. A request outside the
  administrator's subtrees is out of scope: 404.

Person side: a request is visible to the person it is about and to the agent who filed
it (REQ-9); to anyone else it does not exist (404).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404

from organizations.models import MemberDepartment, Right
from organizations.permissions import WHOLE_ORGANIZATION, OrgAccess, path_filter
from requests.models import DataSubjectRequest


def _in_scope(access: OrgAccess) -> QuerySet[DataSubjectRequest]:
    queryset = DataSubjectRequest.objects.of_organization(access.organization.pk)
    paths = access.paths(Right.HANDLE_REQUESTS)
    if paths is WHOLE_ORGANIZATION:
        return queryset
    members = MemberDepartment.objects.filter(path_filter("department__path", paths)).values("member_id")
    return queryset.filter(member_id__in=members)


def org_requests(access: OrgAccess) -> QuerySet[DataSubjectRequest]:
    """REQ-5: the organization's requests this administrator handles (403 without the
    right anywhere)."""
    if not access.has(Right.HANDLE_REQUESTS):
        raise PermissionDenied
    return _in_scope(access)


def get_org_request(access: OrgAccess, pk: int) -> DataSubjectRequest:
    """One request of the organization: 404 if it is not the organization's or lies
    outside the administrator's subtrees, 403 without the right."""
    if not DataSubjectRequest.objects.of_organization(access.organization.pk).filter(pk=pk).exists():
        raise Http404
    if not access.has(Right.HANDLE_REQUESTS):
        raise PermissionDenied
    request = (
        _in_scope(access)
        .select_related("subject", "agent", "member", "assignee", "organization", "automated_decision")
        .filter(pk=pk)
        .first()
    )
    if request is None:
        raise Http404
    return request


def own_requests(user) -> QuerySet[DataSubjectRequest]:
    """REQ-9: the requests about the user or filed by the user as an agent."""
    if not getattr(user, "is_authenticated", False):
        return DataSubjectRequest.objects.none()
    return DataSubjectRequest.objects.filter(Q(subject=user) | Q(agent=user))


def get_own_request(user, reference: str) -> DataSubjectRequest:
    request = (
        own_requests(user)
        .select_related("subject", "agent", "organization", "member", "automated_decision")
        .filter(reference=reference)
        .first()
    )
    if request is None:
        raise Http404
    return request
