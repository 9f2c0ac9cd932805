"""The fuzzing run's seed (.ci/fuzz-api): an organization with departments and
members, consents and requests, and a write token whose secret only the file holds."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.models import ApiToken, TokenScope
from consent.models import ConsentRecord
from organizations.models import Department, Member
from requests.models import DataSubjectRequest
from tests.api.fuzz.seed import seed

pytestmark = pytest.mark.django_db


def test_the_seed_gives_the_fuzzer_data_and_a_write_token(tmp_path):
    ids = seed(tmp_path / "token")
    secret = (tmp_path / "token").read_text()
    assert (tmp_path / "token").stat().st_mode & 0o777 == 0o600
    token = ApiToken.objects.get(user_id=ids["owner"])
    assert token.scope == TokenScope.WRITE and token.organization_id is None
    assert Department.objects.filter(organization_id=ids["organization"]).count() > 1
    assert Member.objects.filter(organization_id=ids["organization"]).count() >= 40
    assert ConsentRecord.objects.filter(user_id=ids["member"]).exists()
    assert DataSubjectRequest.objects.filter(subject_id=ids["owner"]).exists()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert client.get("/api/v1/me/").json()["id"] == ids["owner"]
