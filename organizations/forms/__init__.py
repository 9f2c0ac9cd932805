"""Forms of the organization admin pages, one module per area. They validate input only;
the views call ``organizations.services``."""
