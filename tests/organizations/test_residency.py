"""Data residency of organizations (SEC-6): a deployment serves one data region and
refuses to create an organization of another one -- on the registration page, in the
service behind it and through the API -- with a clear message pointing to the other
region's portal, and an audit event for every refusal."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from rest_framework.test import APIClient

from dataprotection.models import AuditEvent
from organizations.models import Administrator, Department, Organization
from organizations.services.registration import register_organization
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

SG_PORTAL = "https://sg.custodia.example"
CN_PORTAL = "https://cn.custodia.example"
VALID = {
    "name": "Harbour Logistics",
    "kind": "enterprise",
    "location": "Singapore",
    "industry": "Logistics",
    "staff_size": "21-100",
    "edition": "standard",
}


@pytest.fixture
def portals(settings):
    settings.REGION_PORTAL_URLS = {"cn": CN_PORTAL, "sg": SG_PORTAL}
    return settings


def counts() -> tuple[int, int, int]:
    return Organization.objects.count(), Administrator.objects.count(), Department.objects.count()


def refusals():
    return AuditEvent.objects.filter(action="residency.organization_refused")


def test_the_form_shows_the_region_as_fixed_text_and_points_to_the_other_portal(client, portals):
    """SEC-6: no choice of region; the deployment's is stated, the other region's portal
    linked."""
    portals.DATA_REGION = "cn"
    client.force_login(UserFactory())
    page = client.get(reverse("organizations:register")).content.decode()
    assert '<select name="data_region"' not in page
    assert 'data-testid="data-region">Mainland China<' in page
    assert f'href="{SG_PORTAL}"' in page and "Singapore region registers on the Singapore portal" in page


def test_the_form_names_the_other_region_without_a_link_when_none_is_configured(client, settings):
    settings.DATA_REGION = "sg"
    settings.REGION_PORTAL_URLS = {"cn": "", "sg": ""}
    client.force_login(UserFactory())
    page = client.get(reverse("organizations:register")).content.decode()
    assert 'data-testid="data-region">Singapore<' in page
    assert "Mainland China region registers on the Mainland China portal." in page


def test_a_posted_other_region_is_refused_on_the_page_with_nothing_written(client, portals):
    """SEC-6: a tampered or stale page naming the other region gets the clear message;
    no organization, owner or department; the refusal is audited."""
    portals.DATA_REGION = "cn"
    user = UserFactory()
    client.force_login(user)
    before = counts()
    response = client.post(reverse("organizations:register"), {**VALID, "data_region": "sg"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "This portal keeps data in the Mainland China region only" in page
    assert f"Register it on the Singapore portal: {SG_PORTAL}" in page
    assert counts() == before
    event = refusals().get()
    assert event.actor == user
    assert event.metadata == {"via": "registration", "requested_region": "sg", "deployment_region": "cn"}


@pytest.mark.parametrize("region", ["cn", "sg"])
def test_the_page_registers_in_the_deployments_region(client, settings, region):
    """SEC-6: the region is the deployment's at the time of the request (not the
    model's import-time default)."""
    settings.DATA_REGION = region
    client.force_login(UserFactory())
    response = client.post(reverse("organizations:register"), {**VALID, "data_region": region})
    assert response.status_code == 302
    assert Organization.objects.get(name="Harbour Logistics").data_region == region
    assert not refusals().exists()


def test_a_page_without_the_region_registers_in_the_deployments_region(client, settings):
    settings.DATA_REGION = "sg"
    client.force_login(UserFactory())
    assert client.post(reverse("organizations:register"), VALID).status_code == 302
    assert Organization.objects.get(name="Harbour Logistics").data_region == "sg"


def test_an_unknown_region_is_an_invalid_choice(client, settings):
    settings.DATA_REGION = "cn"
    client.force_login(UserFactory())
    before = counts()
    response = client.post(reverse("organizations:register"), {**VALID, "data_region": "us"})
    assert "Select a valid choice." in response.content.decode()
    assert counts() == before


@pytest.mark.parametrize(("deployment", "other"), [("cn", "sg"), ("sg", "cn")])
def test_the_service_refuses_another_region(portals, deployment, other):
    """SEC-6, defence in depth: whoever calls the service, another region is refused
    with the message naming both regions, and the refusal is audited."""
    portals.DATA_REGION = deployment
    user = UserFactory()
    before = counts()
    with pytest.raises(ValidationError) as caught:
        register_organization(user, {**VALID, "data_region": other}, ip="203.0.113.9")
    assert caught.value.code == "wrong_region"
    assert (CN_PORTAL if other == "cn" else SG_PORTAL) in caught.value.messages[0]
    assert counts() == before
    event = refusals().get()
    assert (event.actor, event.ip_address, event.metadata["requested_region"]) == (user, "203.0.113.9", other)


def test_the_service_defaults_to_the_deployments_region(settings):
    settings.DATA_REGION = "sg"
    organization = register_organization(UserFactory(), VALID)
    assert organization.data_region == "sg"
    event = AuditEvent.objects.get(action="organization.registered")
    assert "data_region" in event.changes


def test_the_api_creates_no_organization(settings):
    """SEC-6: the REST API has no way to create an organization (registration is the
    page, through the service above); a POST is a 405 in the API's error body and
    writes nothing. Should a create endpoint be added, it must call
    ``register_organization``, which refuses other regions."""
    settings.DATA_REGION = "cn"
    client = APIClient()
    client.force_authenticate(UserFactory())
    before = counts()
    response = client.post("/api/v1/organizations/", {**VALID, "data_region": "sg"}, format="json")
    assert response.status_code == 405
    assert response.json()["error"]["status"] == 405
    assert counts() == before


def test_the_api_reports_the_organizations_region(settings, cast):
    client = APIClient()
    client.force_authenticate(cast.owner)
    body = client.get(f"/api/v1/organizations/{cast.organization.pk}/").json()
    assert body["data_region"] == cast.organization.data_region
