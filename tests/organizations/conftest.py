"""Fixtures shared by the organization tests."""

from __future__ import annotations

import pytest

from organizations.models import Right
from organizations.services.grants import grant_rights
from tests.factories import AdministratorFactory, UserFactory


@pytest.fixture
def org_editor(cast):
    """A sub-administrator holding view and edit roster on the whole organization."""
    user = UserFactory(name="Whole-org editor")
    AdministratorFactory(organization=cast.organization, user=user)
    grant_rights(user, [Right.VIEW_ROSTER, Right.EDIT_ROSTER], cast.organization)
    return user
