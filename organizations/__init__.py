"""Organizations: registration, department tree, roster of organization-control data,
administrators and activity records (ORG-1 to ORG-12)."""
