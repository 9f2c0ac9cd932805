"""The production stack run end to end, as an operator would run it.

``make serve``'s process set (``config.serve``: gunicorn with two processes, two Celery
workers and beat) in the production profile against a throwaway PostgreSQL and
redis-server, with ``CUSTODIA_LOCAL_HTTP=true`` as the one local difference (plain HTTP
on loopback). An owner signs in through the real two-step flow and walks a short
journey over HTTP: the roster page and a search, the API member list, a roster import
checked and written by the workers, a service opened and closed, and a disband through
to its verified deletion report. Afterwards no process logged an error or a traceback,
the access log holds no 5xx and no query string, and PostgreSQL logged no error.
"""

from __future__ import annotations

import csv
import html
import io
import re

import pytest

from tests.conftest import require
from tests.servers import MissingBinary
from tests.stack import Browser, ProductionStack, wait_until

pytestmark = [pytest.mark.stack, pytest.mark.realservices]

SEARCH = "Stack Searchname"  # a person's name typed into the roster search
TESTID = r'data-testid="{}"[^>]*>\s*([^<]*?)\s*<'


def by_testid(page: str, name: str) -> str:
    match = re.search(TESTID.format(re.escape(name)), page)
    assert match, f"no data-testid={name} on the page"
    return html.unescape(match.group(1)).strip()


def hidden(page: str, name: str) -> str:
    """The value of the form field ``name`` (Django leaves ``value`` out when empty)."""
    field = re.search(rf'<input[^>]*name="{re.escape(name)}"[^>]*>', page)
    assert field, f"no input {name} on the page"
    value = re.search(r'value="([^"]*)"', field.group(0))
    return html.unescape(value.group(1)) if value else ""


@pytest.fixture(scope="module")
def stack():
    stack = ProductionStack(web_processes=2, workers=2, worker_concurrency=1, extra_env={"DISBAND_GRACE_DAYS": "0"})
    try:
        stack.prepare()
    except MissingBinary as exc:
        stack.stop()
        require(str(exc))
    try:
        stack.seed(members=60, admins=1, departments=12)
        stack.start()
        yield stack
    finally:
        stack.stop()


def test_health_probes_answer_without_a_session(stack):
    browser = Browser(stack.base_url)
    live = browser.get("/healthz")
    assert live.json() == {"status": "ok"}
    ready = browser.get("/readyz")
    assert ready.json() == {
        "status": "ok",
        "checks": {"database": "ok", "migrations": "ok", "cache": "ok", "broker": "ok"},
    }
    assert "set-cookie" not in live.headers and "set-cookie" not in ready.headers
    assert "no-store" in ready.headers.get("cache-control", "")


def test_an_owner_walks_the_journey_and_no_process_logs_an_error(stack):
    organization = stack.seeded["organization"]
    owner = stack.seeded["administrators"][0]
    browser = Browser(stack.base_url)
    landed = browser.sign_in(owner["phone"], owner["password"], owner["totp_key"])
    assert landed.location.endswith("/accounts/profile/")

    # The roster page (ORG-7) and a search by name; the API member list (the REST API).
    roster = browser.get(f"/orgs/{organization}/roster/")
    assert roster.text.count("data-member=") == 50  # the first page of 60 members
    api = browser.get(f"/api/v1/organizations/{organization}/members/?page_size=20").json()
    assert len(api["results"]) == 20 and api["next"]

    # A roster import (ORG-7): checked by a worker, decided, written by a worker.
    page = browser.get(f"/orgs/{organization}/roster/import/")
    assert "attestation" in page.text
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["name", "mobile", "department", "employee_number"])
    writer.writerow([SEARCH, "13912340001", "Division 0", "IMPORT-1"])
    writer.writerow(["Stack Imported Two", "13912340002", "Division 0", "IMPORT-2"])
    uploaded = browser.post(
        f"/orgs/{organization}/roster/import/",
        {"attestation": "on"},
        files={"file": ("roster.csv", buffer.getvalue().encode(), "text/csv")},
    )
    detail = uploaded.location
    assert re.search(rf"/orgs/{organization}/roster/import/\d+/$", detail), detail
    checked = poll(browser, detail, "import-status", lambda state: "checking" not in state.lower(), what="the check")
    assert by_testid(checked, "import-status") == "Checked, waiting for your decision", checked
    assert (by_testid(checked, "valid-rows"), by_testid(checked, "error-rows")) == ("2", "0")
    browser.post(detail, {"action": "all"})
    done = poll(browser, detail, "import-status", lambda state: state in ("Imported", "Failed"), what="the write")
    assert by_testid(done, "imported-rows") == "2", done
    found = browser.get(f"/orgs/{organization}/roster/?q={SEARCH.replace(' ', '+')}")
    assert found.text.count("data-member=") == 1 and SEARCH in found.text

    # A service opened and closed again (SVC-2, SVC-3).
    services = browser.get(f"/orgs/{organization}/services/").text
    service_path = re.search(rf"/orgs/{organization}/services/(\d+)/open/", services)
    assert service_path, "no service to open in the catalog"
    service = service_path.group(1)
    opening = browser.get(f"/orgs/{organization}/services/{service}/open/").text
    opened = browser.post(
        f"/orgs/{organization}/services/{service}/open/",
        {"scopes": hidden(opening, "scopes"), "scopes_revision": hidden(opening, "scopes_revision"), "confirm": "on"},
    )
    assert opened.location.endswith(f"/orgs/{organization}/services/{service}/")
    assert re.search(r'data-testid="service-state">\s*<span class="badge">Open<', browser.get(opened.location).text)
    browser.get(f"/orgs/{organization}/services/{service}/close/")
    browser.post(f"/orgs/{organization}/services/{service}/close/", {"confirm": "on"})
    closed = browser.get(opened.location).text
    assert re.search(r'data-testid="service-state">\s*<span class="badge bad">Closed<', closed)

    # The disband (ORG-11) with no grace window, through to the verified report (ANON-7).
    name = stack.seeded["organization_name"]
    browser.get(f"/orgs/{organization}/disband/")
    browser.post(f"/orgs/{organization}/disband/", {"confirm_name": name, "send_code": "1"}, expect=200)
    code = wait_until(lambda: _code_or_none(stack, owner["phone"]), timeout=60, what="the SMS code")
    confirmed = browser.post(f"/orgs/{organization}/disband/", {"confirm_name": name, "code": code})
    assert confirmed.location.endswith(f"/orgs/{organization}/disband/status/")
    finished = ("Completed", "Failed")
    report = poll(browser, confirmed.location, "job-status", lambda state: state in finished, what="the disband")
    assert by_testid(report, "job-status") == "Completed"
    assert (by_testid(report, "report-verified"), by_testid(report, "report-rows-left")) == ("yes", "0")

    # Every log of the stack: no error, no traceback, no 5xx; no query string logged.
    status = stack.stop_processes()
    assert status == 0, stack.log()[-5000:]
    assert stack.log_problems() == [], "\n".join(stack.log_problems())
    access = stack.access_lines()
    assert any("/orgs/" in line and "/roster/" in line for line in access), access[:20]
    assert not any("?" in line or "Searchname" in line for line in access), [line for line in access if "?" in line]


def poll(browser: Browser, url: str, name: str, done, *, what: str, timeout: float = 120) -> str:
    """The page at ``url`` once the state shown by ``data-testid=name`` satisfies ``done``."""

    def page_when_done():
        page = browser.get(url).text
        return page if done(by_testid(page, name)) else None

    return wait_until(page_when_done, timeout=timeout, interval=0.5, what=what)


def _code_or_none(stack, phone: str) -> str | None:
    try:
        return stack.last_sms_code(phone)
    except (AssertionError, FileNotFoundError):
        return None
