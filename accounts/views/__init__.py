"""Account pages, one module per area (ACC-1 to ACC-6, SEC-1). Views validate with forms
and write through ``accounts.services``."""
