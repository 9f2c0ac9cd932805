"""The gate for organization endpoints (rule 2), shared by every app's API."""

from __future__ import annotations

from rest_framework import generics

from accounts.api.authentication import require_token_organization
from organizations.permissions import OrgAccess, org_access


class OrganizationScopedMixin:
    """Resolves ``org_id`` from the URL through the permission gate before the handler
    runs: out of scope (not an administrator, or a token restricted to another
    organization) is 404, in scope without the right 403 (``self.access.require``)."""

    access: OrgAccess

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        organization_id = int(kwargs["org_id"])
        require_token_organization(request, organization_id)
        self.access = org_access(request.user, organization_id)


class OrganizationScopedAPIView(OrganizationScopedMixin, generics.GenericAPIView):
    pass
