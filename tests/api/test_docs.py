"""The OpenAPI schema and its documentation pages: served from vendored
assets only, under the project's Content-Security-Policy (narrowed for Redoc only),
and every operation documents the error body the foundation can answer with."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.core.management import call_command
from rest_framework.test import APIClient

from dataprotection.api.schema import statuses_for

pytestmark = pytest.mark.django_db

EXTERNAL = re.compile(r"""(src|href)=["'](https?:)?//""")


@pytest.fixture
def schema():
    response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


def test_the_schema_validates_without_warnings(tmp_path):
    """CI: what `make checks` runs."""
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    assert (tmp_path / "schema.yaml").read_text().startswith("openapi: 3")


def test_every_operation_documents_the_error_body(schema):
    """The fuzzer checks each answer against the schema: the foundation's errors must
    be documented everywhere, with the one error body."""
    assert schema["components"]["schemas"]["Error"]["required"] == ["error"]
    operations = 0
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            operations += 1
            responses = operation["responses"]
            assert {str(status) for status in statuses_for(path, method, operation)} <= set(responses)
            for status in ("401", "403", "429"):
                content = responses[status]["content"]["application/json"]["schema"]
                assert content == {"$ref": "#/components/schemas/Error"}, (path, method, status)
    assert operations >= 6


def test_write_operations_document_input_errors(schema):
    patch = schema["paths"]["/api/v1/me/"]["patch"]["responses"]
    assert {"400", "413", "415"} <= set(patch)
    create = schema["paths"]["/api/v1/tokens/"]["post"]
    assert "422" in create["responses"]  # it takes an Idempotency-Key
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in create["parameters"])
    assert "404" in schema["paths"]["/api/v1/tokens/{id}/"]["get"]["responses"]


def test_the_page_parameters_are_documented_as_whole_numbers(schema):
    parameters = {p["name"]: p["schema"] for p in schema["paths"]["/api/v1/tokens/"]["get"]["parameters"]}
    assert parameters["page"] == {"type": "integer", "minimum": 1}
    assert parameters["page_size"] == {"type": "integer", "minimum": 1, "maximum": 200}


def test_the_token_secret_is_optional_in_the_creation_answer(schema):
    """An Idempotency-Key replay answers without the secret (only its digest is stored)."""
    created = schema["components"]["schemas"]["ApiTokenCreated"]
    assert "secret" in created["properties"]
    assert "secret" not in created["required"]


def test_swagger_ui_uses_vendored_assets_under_the_projects_csp(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert not EXTERNAL.search(html)
    assert "<style" not in html and "<script>" not in html  # nothing inline
    assert "swagger-ui-bundle.js" in html
    assert response["Content-Security-Policy"] == settings.CONTENT_SECURITY_POLICY
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "/api/schema/" in script.content.decode()


def test_redoc_uses_vendored_assets_and_a_narrowed_csp_on_its_page_only(client):
    response = client.get("/api/redoc/")
    html = response.content.decode()
    assert response.status_code == 200
    assert not EXTERNAL.search(html)
    assert "fonts.googleapis.com" not in html
    assert "redoc.standalone.js" in html
    policy = response["Content-Security-Policy"]
    assert "style-src 'self' 'unsafe-inline'" in policy
    assert "worker-src 'self' blob:" in policy
    assert "script-src 'self';" in policy  # still no inline or foreign script
    assert client.get("/api/docs/")["Content-Security-Policy"] == settings.CONTENT_SECURITY_POLICY
    assert client.get("/accounts/sign-in/")["Content-Security-Policy"] == settings.CONTENT_SECURITY_POLICY
