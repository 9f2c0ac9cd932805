"""The operations console for organizations, one module per area. Importing them here
registers their ``ModelAdmin`` classes when Django's admin autodiscovers this package.

- ``roster``: organizations, departments, the roster and administrators
- ``certification``: the review of certifications
- ``shutdowns``: service shutdown announcements
- ``incidents``: security incidents and their notices
"""

from organizations.admin import certification, incidents, roster, shutdowns

__all__ = ["certification", "incidents", "roster", "shutdowns"]
