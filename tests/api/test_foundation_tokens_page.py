"""The profile's "API tokens" page (the REST API): create a token (the secret shown once),
list, revoke; restricting a token to an organization needs its administrator."""

from __future__ import annotations

import hashlib

import pytest
from django.urls import reverse

from accounts.models import ApiToken
from dataprotection.models import AuditEvent
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PAGE = "/accounts/profile/tokens/"


def test_the_page_needs_signing_in(client):
    response = client.get(PAGE)
    assert response.status_code == 302
    assert "/accounts/sign-in/" in response["Location"]


def test_the_profile_links_to_the_tokens_page(client):
    client.force_login(UserFactory())
    assert reverse("accounts:api_tokens") in client.get("/accounts/profile/").content.decode()


def test_creating_a_token_shows_the_secret_once(client):
    """The REST API: hashed at rest; the secret is on the creation answer only."""
    person = UserFactory()
    client.force_login(person)
    response = client.post(PAGE, {"name": "HR sync", "scope": "write", "days": "30"})
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    secret = response.context["secret"]
    assert secret.startswith("cst_")
    assert secret in response.content.decode()
    token = ApiToken.objects.get(user=person)
    assert (token.name, token.scope, token.organization_id) == ("HR sync", "write", None)
    assert token.digest == hashlib.sha256(secret.encode()).hexdigest()
    assert AuditEvent.objects.filter(action="api_token.created", actor=person).count() == 1
    again = client.get(PAGE).content.decode()
    assert secret not in again
    assert token.prefix in again


def test_bad_input_writes_nothing(client):
    person = UserFactory()
    client.force_login(person)
    response = client.post(PAGE, {"name": "", "scope": "admin", "days": "0"})
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"name", "scope", "days"}
    assert not ApiToken.objects.filter(user=person).exists()


def test_a_token_for_an_organization_needs_its_administrator(client, cast):
    """The REST API: restricted only to an organization the person administers."""
    client.force_login(cast.member_user)
    response = client.post(PAGE, {"name": "HR", "scope": "read", "days": "7", "organization_id": cast.organization.pk})
    assert "organization_id" in response.context["form"].errors
    assert not ApiToken.objects.filter(user=cast.member_user).exists()
    client.force_login(cast.owner)
    client.post(PAGE, {"name": "HR", "scope": "read", "days": "7", "organization_id": cast.organization.pk})
    assert ApiToken.objects.get(user=cast.owner).organization_id == cast.organization.pk


def test_revoking_a_token(client):
    person = UserFactory()
    client.force_login(person)
    client.post(PAGE, {"name": "old", "scope": "read", "days": "7"})
    token = ApiToken.objects.get(user=person)
    response = client.post(reverse("accounts:revoke_token", args=[token.pk]))
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert "Revoked" in client.get(PAGE).content.decode()


def test_another_persons_token_cannot_be_revoked(client):
    owner = UserFactory()
    client.force_login(owner)
    client.post(PAGE, {"name": "mine", "scope": "read", "days": "7"})
    token = ApiToken.objects.get(user=owner)
    client.force_login(UserFactory())
    assert client.post(reverse("accounts:revoke_token", args=[token.pk])).status_code == 404
    assert client.get(reverse("accounts:revoke_token", args=[token.pk])).status_code == 405
    token.refresh_from_db()
    assert token.revoked_at is None


def test_the_list_is_a_fixed_number_of_queries(client, django_assert_num_queries):
    person = UserFactory()
    client.force_login(person)
    client.post(PAGE, {"name": "one", "scope": "read", "days": "7"})
    client.get(PAGE)
    # session, user, the tokens (plus whatever the base template reads: the same for 1 or 6)
    for count in (1, 6):
        while ApiToken.objects.filter(user=person).count() < count:
            client.post(PAGE, {"name": "t", "scope": "read", "days": "7"})
        with django_assert_num_queries(3):
            assert client.get(PAGE).content.decode().count("data-token=") == count
