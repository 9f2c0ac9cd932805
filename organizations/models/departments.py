"""The department tree of an organization (ORG-3)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from dataprotection.personal_data import (
    PersonalData,
)
from organizations.models.organization import RIGHT_PERMISSIONS, Organization


class DepartmentQuerySet(models.QuerySet):
    def subtree(self, department: Department) -> DepartmentQuerySet:
        """The department and all its descendants: one indexed prefix range scan."""
        return self.filter(organization_id=department.organization_id, path__startswith=department.path)


class Department(models.Model):
    """A node of an organization's department tree (ORG-3).

    Materialized path: ``path`` is the chain of ancestor ids, each as eight hex digits
    followed by "/" (``0000002a/0000002f/``). Subtree reads -- the hot path for scoped
    sub-administrators and department filters over 100k-member rosters -- become a single
    ``path LIKE 'prefix%'`` range scan on one index, on SQLite and PostgreSQL alike, with
    no recursive CTE. Moves rewrite the prefix of a subtree in one UPDATE. A closure table
    would make moves costlier and multiply rows; adjacency lists alone need recursion.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="departments")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="children")
    name = models.CharField(_("name"), max_length=200)
    path = models.CharField(max_length=255, db_index=True, editable=False, default="")
    depth = models.PositiveSmallIntegerField(default=0, editable=False)
    sort_order = models.PositiveIntegerField(_("order"), default=0)

    objects = DepartmentQuerySet.as_manager()

    SEGMENT = 9  # eight hex digits and a slash

    class Meta:
        verbose_name = _("department")
        verbose_name_plural = _("departments")
        ordering = ["path"]
        indexes = [models.Index(fields=["organization", "path"], name="dept_org_path")]
        permissions = RIGHT_PERMISSIONS

    def __str__(self) -> str:
        return self.name

    @staticmethod
    def segment(pk: int) -> str:
        return f"{pk:08x}/"

    def compute_path(self, parent_path: str = "") -> str:
        return parent_path + self.segment(self.pk)

    personal_data = PersonalData(
        subject=None,
        non_personal={"id", "organization", "parent", "name", "path", "depth", "sort_order"},
    )
