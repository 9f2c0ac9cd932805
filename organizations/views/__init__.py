"""Organization admin pages, one module per area. Every view resolves the organization
through ``organizations.permissions.org_access`` first (404 out of scope, 403 forbidden)
and writes through ``organizations.services``."""
