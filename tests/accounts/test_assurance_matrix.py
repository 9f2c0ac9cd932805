"""The sign-in assurance policy (SEC-1, SEC-5) holds for every URL of the project, on
every channel, in every state of a sign-in: a matrix generated from the URLconf.

Rows: every URL pattern (pages, the session and bearer API, the provider API, the
console). Columns: the channel (the session cookie; the session cookie with a junk
``Authorization`` header; a bearer token; a token minted by a weaker session) and the
state of the sign-in (second factor required but not enrolled; password only; idle past
the limit; last proof older than the limit; fully verified). Each cell is a real
request; the policy's answer is read from the ``Custodia-Assurance`` header that every
refusal carries, and must be exactly what the area and the sensitive action call for.
Refused requests never reach a view, so the unsafe methods tried in those cells write
nothing (checked on the audit trail).

``url_assurance.py`` lists where every route stands; a new URL fails
``test_every_url_is_classified`` until it is added there."""

from __future__ import annotations

import enum
import time
from importlib import import_module

import pytest
from django.conf import settings
from django.test import Client
from django.urls import resolve
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.api.tokens import create_api_token
from accounts.assurance import AUTH_AT_KEY, LAST_ACTIVITY_KEY, REFUSAL_HEADER, Area, Missing, classify, sensitive_action
from accounts.models import ApiToken, TokenScope
from dataprotection.models import AuditEvent
from tests.accounts.url_assurance import AREAS, DEVELOPMENT_ONLY, SENSITIVE
from tests.accounts.urlconf import Route, project_routes
from tests.factories import verified_session

pytestmark = pytest.mark.django_db

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
JUNK_HEADERS = ("Basic eDp5", "Token x")


class State(enum.StrEnum):
    NOT_ENROLLED = "second factor required, not enrolled"
    PASSWORD_ONLY = "password only"
    IDLE = "idle past the limit"
    STALE = "proof older than the limit"
    VERIFIED = "fully verified"


class Channel(enum.StrEnum):
    SESSION = "session cookie"
    SESSION_WITH_JUNK = "session cookie + junk Authorization"
    TOKEN = "bearer token"
    WEAK_TOKEN = "token minted by a weaker session"


def expected_action(route: str, method: str) -> str | None:
    return SENSITIVE.get((route, method)) or SENSITIVE.get((route, "*"))


def ago(seconds: int) -> int:
    return int(time.time()) - seconds


# --------------------------------------------------------------------------- classification


def test_every_url_is_classified():
    """Every route is written down in url_assurance.py, and the policy puts it exactly
    there: a new URL cannot skip the policy unnoticed."""
    routes = {route.route: route for route in project_routes()}
    unclassified = sorted(set(routes) - set(AREAS))
    assert not unclassified, f"classify these routes in tests/accounts/url_assurance.py: {unclassified}"
    gone = set(AREAS) - set(routes) - set(DEVELOPMENT_ONLY)
    assert not gone, f"url_assurance.py names routes that no longer exist: {sorted(gone)}"
    for route in routes.values():
        match = resolve(route.path)
        assert classify(match).value == AREAS[route.route], route.route
        for method in METHODS:
            action = sensitive_action(match, method)
            assert (action.value if action else None) == expected_action(route.route, method), (route.route, method)


def test_sensitive_actions_are_declared_for_pages_and_endpoints_alike():
    """SEC-1: every sensitive action has its page, and its endpoint where the API does it."""
    by_action: dict[str, set[str]] = {}
    for (route, _method), action in SENSITIVE.items():
        by_action.setdefault(action, set()).add(AREAS[route])
    for action, areas in by_action.items():
        assert "portal" in areas or "console" in areas, action
        if action != "transfer-ownership":
            assert "api" in areas, action


# --------------------------------------------------------------------------- the matrix


def expected_refusal(area: str, state: State, action: str | None) -> Missing | None:
    """What the policy must answer for a session in ``state``."""
    if area in (Area.PUBLIC, Area.SIGN_IN, Area.PROVIDER):
        return None
    if state == State.IDLE:
        return Missing.SIGN_IN
    if state in (State.NOT_ENROLLED, State.PASSWORD_ONLY):
        return Missing.SECOND_FACTOR
    if state == State.STALE and action:
        return Missing.FRESH_PROOF
    return None


def methods_to_try(route: str, area: str, state: State) -> list[str]:
    """GET everywhere. Unsafe methods only where the policy must refuse them (so no view
    runs): in a blocked state on every guarded area, and a sensitive action's own
    methods when the proof is stale."""
    methods = ["GET"]
    guarded = area in (Area.PORTAL, Area.CONSOLE, Area.API)
    if guarded and state in (State.NOT_ENROLLED, State.PASSWORD_ONLY, State.IDLE):
        methods += ["POST", "PATCH", "DELETE"] if area == Area.API else ["POST"]
    elif guarded and state == State.STALE:
        methods += [method for method in METHODS[1:] if expected_action(route, method)]
    return methods


class Principal:
    """A signed-in person whose session is put in ``state`` before each request."""

    def __init__(self, user, state: State, junk: bool):
        self.user = user
        self.state = state
        self.junk = junk
        self.client = Client()
        self.requests = 0
        self.idle_session: dict | None = None
        if state == State.PASSWORD_ONLY:
            TOTPDevice.objects.create(user=user, name="app", confirmed=True)
        self.sign_in()

    def sign_in(self):
        verified = self.state not in (State.NOT_ENROLLED, State.PASSWORD_ONLY)
        self.client.force_login(self.user, second_factor=verified)
        session = self.client.session
        if self.state == State.IDLE:
            session[LAST_ACTIVITY_KEY] = ago(settings.SESSION_IDLE_TIMEOUT_SECONDS + 60)
            self.idle_session = dict(session.items())
        if self.state == State.STALE:
            session[AUTH_AT_KEY] = ago(settings.REAUTH_MAX_AGE_SECONDS + 60)
        session.save()

    def idle_again(self):
        """The idle sign-out flushed the session: the same idle session under a new key,
        as ``sign_in`` left it (a whole sign-in per request would double the cost)."""
        store = import_module(settings.SESSION_ENGINE).SessionStore()
        store.update(self.idle_session)
        store.create()
        self.client.cookies[settings.SESSION_COOKIE_NAME] = store.session_key

    def request(self, method: str, path: str):
        if self.state == State.IDLE and self.requests:
            self.idle_again()
        self.requests += 1
        headers = {"HTTP_AUTHORIZATION": JUNK_HEADERS[self.requests % 2]} if self.junk else {}
        return self.client.generic(method, path, **headers)


def check(response, route: str, method: str, want: Missing | None, area: str):
    got = response.headers.get(REFUSAL_HEADER)
    where = f"{method} {route} ({area})"
    assert got == (str(want) if want else None), f"{where}: expected {want}, got {got} ({response.status_code})"
    if want is None:
        return
    if area == Area.API:
        assert response.status_code == (401 if want == Missing.SIGN_IN else 403), where
        code = response.json()["error"]["code"]
        assert (
            code
            == {
                Missing.SIGN_IN: "session_expired",
                Missing.SECOND_FACTOR: "second_factor_required",
                Missing.FRESH_PROOF: "fresh_proof_required",
                Missing.SESSION: "session_required",
            }[want]
        ), where
    else:
        assert response.status_code == 302, where
        step = {
            Missing.SIGN_IN: "/accounts/sign-in/",
            Missing.SECOND_FACTOR: "/accounts/two-factor/",
            Missing.FRESH_PROOF: "/accounts/reauthenticate/",
        }[want]
        assert response["Location"].startswith(step), where


@pytest.mark.parametrize("junk", [False, True], ids=[Channel.SESSION, Channel.SESSION_WITH_JUNK])
@pytest.mark.parametrize("state", list(State), ids=[state.name.lower() for state in State])
def test_sessions_get_what_their_assurance_allows_everywhere(cast, state, junk):
    """SEC-1: pages, the session API and the console answer a session by its state,
    whatever ``Authorization`` header comes with it (an idle session is signed out all
    the same). Owners and staff both need a second factor."""
    owner = Principal(cast.owner, state, junk)
    staff = Principal(cast.staff, state, junk)
    audit_events = AuditEvent.objects.count()
    for route in project_routes():
        area = AREAS[route.route]
        principal = staff if area == Area.CONSOLE else owner
        path = route.with_values(org_id=cast.organization.pk, member_id=cast.member.pk)
        for method in methods_to_try(route.route, area, state):
            want = expected_refusal(area, state, expected_action(route.route, method))
            check(principal.request(method, path), route.route, method, want, area)
    if state in (State.NOT_ENROLLED, State.PASSWORD_ONLY, State.IDLE):
        # Refused requests reach no view: nothing was written (sign-ins are not audited here).
        assert AuditEvent.objects.exclude(action__startswith="account.signed").count() == audit_events


def mint(user, *, weak: bool) -> str:
    secret, token = create_api_token(user, minted_by=verified_session(), name="matrix", scope=TokenScope.WRITE)
    if weak:  # as minted before the policy, or by a session without the second factor
        ApiToken.objects.filter(pk=token.pk).update(minted_with_second_factor=False, minted_with_fresh_proof=False)
    return secret


def expected_for_token(route: Route, method: str, *, weak: bool) -> Missing | None:
    action = expected_action(route.route, method)
    if action == "create-token":
        return Missing.SESSION  # a token never mints another
    if weak and action:
        return Missing.FRESH_PROOF
    if weak and "<int:org_id>" in route.route:
        return Missing.SECOND_FACTOR  # the organization gate: the owner needs it
    return None


@pytest.mark.parametrize("weak", [False, True], ids=[Channel.TOKEN, Channel.WEAK_TOKEN])
def test_bearer_tokens_reach_no_more_than_the_session_that_minted_them(cast, weak):
    """SEC-1: a token carries the assurance of the session that minted it. A token from
    a verified, fresh session reaches what that session could (but never mints another);
    a weaker one is refused where the second factor or a fresh proof is needed. Pages
    and the console never accept a token at all."""
    client = Client(HTTP_AUTHORIZATION=f"Bearer {mint(cast.owner, weak=weak)}")
    audit_events = AuditEvent.objects.count()
    for route in project_routes():
        area = AREAS[route.route]
        path = route.with_values(org_id=cast.organization.pk, member_id=cast.member.pk)
        if area != Area.API:
            response = client.get(path)
            assert REFUSAL_HEADER not in response.headers, route.route
            if not route.route.startswith("api/"):  # the API's public schema pages are DRF's
                assert not response.wsgi_request.user.is_authenticated, f"{route.route} took a bearer token"
            continue
        unsafe = [method for method in METHODS[1:] if expected_for_token(route, method, weak=weak)]
        for method in ["GET", *unsafe]:
            want = expected_for_token(route, method, weak=weak)
            check(client.generic(method, path), route.route, method, want, area)
    created = AuditEvent.objects.filter(action="api_token.created").count()
    assert AuditEvent.objects.count() - audit_events == 0, f"{created} tokens created"
