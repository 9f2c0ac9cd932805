"""Browser journeys for the REST API (the REST API) in Debian's chromium via Playwright:
the documentation pages load from vendored assets only, under the Content-Security-
Policy, and a person creates a token on the profile page and uses it."""

from __future__ import annotations

import json
import urllib.request
from urllib.parse import urlparse

import pytest
from playwright.sync_api import expect

from tests.browser.pages import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.realservices]


# Redoc's bundle always renders its vendor's logo (an <img> from cdn.redoc.ly) in the
# menu's footer; there is no option to turn it off. The page's img-src 'self' data:
# blocks it inside the browser, before any connection is opened.
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


def record(page, live_server):
    """Every request the page makes, and the CSP violations it reports."""
    requests: list = []
    problems: list[str] = []
    page.on("request", lambda request: requests.append(request))
    page.on(
        "console", lambda message: problems.append(message.text) if "Content Security Policy" in message.text else None
    )
    return requests, problems


def only_live_server(requests: list, live_server, *, blocked: tuple[str, ...] = ()) -> None:
    own = urlparse(live_server.url).netloc
    for request in requests:
        url = urlparse(request.url)
        if url.scheme not in ("http", "https") or url.netloc == own:
            continue
        assert request.url in blocked, request.url
        assert request.failure == "csp", (request.url, request.failure)  # blocked in the browser


def test_swagger_ui_lists_the_operations_from_vendored_assets(page, live_server, cast):
    """The REST API: /api/docs/ (Swagger UI from drf-spectacular-sidecar) shows the API's
    operations under the project's CSP, with no request to any other host."""
    requests, problems = record(page, live_server)
    page.goto("/api/docs/")
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/me/").first).to_be_visible()
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/tokens/").first).to_be_visible()
    assert page.locator(".opblock").count() >= 6
    assert any(request.url.endswith("swagger-ui-bundle.js") for request in requests)
    only_live_server(requests, live_server)
    assert problems == []


def test_redoc_renders_from_vendored_assets(page, live_server, cast):
    """The REST API: /api/redoc/ under its narrowed CSP (inline styles, a blob: worker)."""
    requests, problems = record(page, live_server)
    response = page.goto("/api/redoc/")
    assert "worker-src 'self' blob:" in response.headers["content-security-policy"]
    expect(page.get_by_text("Custodia API").first).to_be_visible()
    expect(page.get_by_text("/api/v1/me/").first).to_be_attached()
    page.wait_for_load_state("networkidle")
    only_live_server(requests, live_server, blocked=(REDOC_LOGO,))
    assert all(REDOC_LOGO in problem for problem in problems), problems


def test_a_person_creates_a_token_and_uses_it(page, live_server, cast):
    """The REST API: from the profile, a person creates a read token, copies the secret shown
    once, and a script uses it to read /api/v1/me/; after revoking it, it is refused."""
    sign_in(page, cast.member_user)
    page.get_by_role("link", name="Manage API tokens").click()
    expect(page.get_by_role("heading", name="API tokens", level=1)).to_be_visible()
    page.get_by_label("Name").fill("My script")
    page.get_by_label("Access").select_option("read")
    page.get_by_label("Valid for (days)").fill("30")
    page.get_by_role("button", name="Create token").click()
    expect(page.get_by_text("Copy it now: it is shown only this once.")).to_be_visible()
    secret = page.get_by_test_id("token-secret").inner_text().strip()
    assert secret.startswith("cst_")

    call = urllib.request.Request(f"{live_server.url}/api/v1/me/", headers={"Authorization": f"Bearer {secret}"})
    with urllib.request.urlopen(call, timeout=10) as answer:
        assert answer.status == 200
        assert json.load(answer)["id"] == cast.member_user.pk

    page.goto("/accounts/profile/tokens/")
    expect(page.get_by_test_id("token-secret")).to_have_count(0)
    row = page.locator("tr", has_text="My script")
    expect(row).to_contain_text("Active")
    row.get_by_role("button", name="Revoke").click()
    expect(page.get_by_text("The token “My script” was revoked.")).to_be_visible()
    expect(page.locator("tr", has_text="My script")).to_contain_text("Revoked")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(call, timeout=10)
    assert refused.value.code == 401
