"""Global Privacy Control (CON-7) and the per-request consent state the cookie banner
reads (CON-3, EN II).

A request with ``Sec-GPC: 1`` opts its person or visitor out of every purpose marked
``opted_out_by_gpc`` (marketing, optional sharing): the middleware appends a withdrawal
with channel ``gpc`` where the current state is not already withdrawn, then remembers
that it did, so later requests cost no query.

Where the state lives, so that pages cost no query in the steady state:

- a signed-in person: in the session (``consent_state``), filled at sign-in by
  ``remember_state_at_sign_in`` (a ``user_logged_in`` receiver);
- a visitor: in one signed, strictly necessary cookie (``custodia_consent``) holding the
  random visitor key that their ledger records carry, whether the banner was answered
  and whether the GPC signal was applied. It is set only once the visitor makes a
  choice (the banner or a GPC signal); a visitor without it costs no query at all.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field

from django.conf import settings

from consent.models import PURPOSES, Channel, Decision, Purpose
from consent.services.ledger import (
    StalePolicyVersion,
    current_consents,
    current_visitor_consents,
    record_consent,
    set_consents,
)
from dataprotection.audit import client_ip

SESSION_KEY = "consent_state"
VISITOR_COOKIE = "custodia_consent"
VISITOR_COOKIE_SALT = "consent.visitor-state"
VISITOR_COOKIE_AGE = 180 * 24 * 3600  # six months, then the banner asks again

GPC_PURPOSES = [purpose for purpose, info in PURPOSES.items() if info.opted_out_by_gpc]
# The cookie banner's optional categories and the purpose each one stands for.
BANNER_PURPOSES = {"preferences": Purpose.PERSONALIZATION, "marketing": Purpose.MARKETING}


def gpc_signal(request) -> bool:
    return request.headers.get("Sec-GPC", "").strip() == "1"


def banner_decided(consents: dict) -> bool:
    """The banner is answered once every optional cookie category has a decision."""
    return all(purpose in consents for purpose in BANNER_PURPOSES.values())


@dataclass
class ConsentState:
    """What this request knows about its person's or visitor's consents without a query."""

    user: object | None
    visitor_key: str = ""
    decided: bool | None = None  # None: not known yet, the banner asks the ledger once
    gpc_applied: bool = False
    signal: bool = False
    dirty: bool = field(default=False, repr=False)

    def ensure_visitor_key(self) -> str:
        if not self.visitor_key:
            self.visitor_key = secrets.token_hex(16)
            self.dirty = True
        return self.visitor_key

    def update(self, **changes) -> None:
        for name, value in changes.items():
            setattr(self, name, value)
        self.dirty = True

    @property
    def subject(self) -> dict:
        """Keyword arguments naming the subject for the ledger service."""
        if self.user is not None:
            return {"user": self.user}
        return {"visitor_key": self.ensure_visitor_key()}


def _signed_in(request):
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


def _visitor_cookie(request) -> tuple[str, dict]:
    """(visitor key, stored state) of the signed visitor cookie; ("", {}) without one."""
    try:
        raw = request.get_signed_cookie(VISITOR_COOKIE, default=None, salt=VISITOR_COOKIE_SALT)
        stored = json.loads(raw) if raw else {}
        key = str(stored.get("k", ""))
    except (ValueError, TypeError, AttributeError):  # a tampered or outdated cookie: a new visitor
        return "", {}
    if not (len(key) == 32 and all(c in "0123456789abcdef" for c in key)):
        return "", {}
    return key, stored


def load_state(request) -> ConsentState:
    user = _signed_in(request)
    if user is not None:
        stored = request.session.get(SESSION_KEY) or {}
        return ConsentState(user=user, decided=stored.get("d"), gpc_applied=bool(stored.get("g")))
    key, stored = _visitor_cookie(request)
    if not key:
        return ConsentState(user=None)
    return ConsentState(user=None, visitor_key=key, decided=bool(stored.get("d")), gpc_applied=bool(stored.get("g")))


def save_state(request, response, state: ConsentState) -> None:
    if state.user is not None:
        # Signed out during this request (the session was flushed): nothing to keep.
        current = _signed_in(request)
        if current is not None and current.pk == state.user.pk:
            request.session[SESSION_KEY] = {"d": state.decided, "g": state.gpc_applied}
        return
    if state.visitor_key:
        value = json.dumps({"k": state.visitor_key, "d": int(bool(state.decided)), "g": int(state.gpc_applied)})
        response.set_signed_cookie(
            VISITOR_COOKIE,
            value,
            salt=VISITOR_COOKIE_SALT,
            max_age=VISITOR_COOKIE_AGE,
            secure=settings.SESSION_COOKIE_SECURE,
            httponly=True,
            samesite="Lax",
        )


def apply_gpc(request, state: ConsentState) -> None:
    """CON-7: withdraw every GPC purpose that is not withdrawn yet (the ledger service
    writes only where the state differs)."""
    set_consents(
        **state.subject,
        decisions=dict.fromkeys(GPC_PURPOSES, Decision.WITHDRAWN),
        channel=Channel.GPC,
        ip=client_ip(request),
    )
    state.update(gpc_applied=True)


def remember_state_at_sign_in(sender, request, user, **kwargs) -> None:
    """Whether the person answered the cookie banner, read once at sign-in (one query)
    so that their pages read it from the session. A person who has not answered it yet
    but chose as a visitor in this browser (before registering or signing in) keeps
    that choice: it is carried into their own ledger, so the banner does not ask again."""
    if request is None or not hasattr(request, "session"):
        return
    consents = current_consents(user)
    if not banner_decided(consents):
        consents = {**consents, **carry_over_visitor_choices(request, user, consents)}
    request.session[SESSION_KEY] = {"d": banner_decided(consents), "g": False}


def carry_over_visitor_choices(request, user, consents: dict) -> dict:
    """CON-3: the cookie-banner choices this browser's visitor made, for the purposes
    the person has not decided, appended to the person's ledger with the visitor's
    channel and policy version (each audited). The person's own earlier decisions
    always stand. Returns the records written, by purpose."""
    key, _stored = _visitor_cookie(request)
    if not key:
        return {}
    written = {}
    for purpose, record in current_visitor_consents(key).items():
        if purpose not in BANNER_PURPOSES.values() or purpose in consents:
            continue
        try:
            carried = record_consent(
                user=user,
                purpose=purpose,
                decision=record.decision,
                channel=record.channel,
                policy_version=record.policy_version_id,
                ip=client_ip(request),
            )
        except StalePolicyVersion:  # decided under a policy since replaced: ask again
            continue
        if carried is not None:
            written[purpose] = carried
    return written


def consent_state(request) -> ConsentState:
    """The request's consent state, read on first use (a request that never asks, such
    as an API call, does not even load its user for it)."""
    state = getattr(request, "_consent_state", None)
    if state is None:
        state = load_state(request)
        state.signal = gpc_signal(request)
        request._consent_state = state
    return state


class GlobalPrivacyControlMiddleware:
    """CON-7: honour ``Sec-GPC: 1``, and keep whatever the request learnt about its
    consent state (session for a person, signed cookie for a visitor)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if gpc_signal(request):
            state = consent_state(request)
            if not state.gpc_applied:
                apply_gpc(request, state)
        response = self.get_response(request)
        state = getattr(request, "_consent_state", None)
        if state is not None and state.dirty:
            save_state(request, response, state)
        return response
