"""The sign-in assurance policy (SEC-1, SEC-5): how strongly the caller of a request has
proved who they are, and whether that is enough for what the request asks.

The organization gate (``organizations.permissions``) decides *what* an administrator may
reach; this module decides whether the *sign-in* behind the request is good enough, for
every way in. Nothing else re-implements it:

- pages and the console: ``AssuranceMiddleware`` below;
- the session API and bearer tokens: ``accounts.api.authentication`` attaches the
  caller's ``Assurance`` and ``AssurancePermission`` asks ``refusal`` (one DRF pair);
- the organization gate asks ``require_second_factor`` with the rows it loads anyway;
- the provider API (``/provider/v1/``) authenticates by provider tokens only and never
  by a session cookie (``Area.PROVIDER``).

What it decides, in this order:

1. **Idle sign-out.** A session unused for more than ``SESSION_IDLE_TIMEOUT_SECONDS`` is
   signed out, whatever headers come with the request (an ``Authorization`` header never
   keeps a session alive). The time of the last request is kept in the session itself
   and rewritten at most once a minute.
2. **Second factor.** A session of a person who needs one -- operations staff, owners,
   administrators of an organization that requires it (the requirement providers of
   ``accounts.services.two_factor``), and anyone who enrolled an authenticator -- reaches only the
   sign-in steps (``Area.SIGN_IN``) until it has passed it. Whether the person needs it
   is worked out at sign-in (one query) and kept in the session; the organization gate
   checks again with its own rows, so an appointment during the session is caught too.
3. **Fresh proof.** The actions in ``SENSITIVE_ACTIONS`` (reveal a sensitive value,
   appoint, change or remove administrators, create API tokens, transfer ownership,
   disband) need a proof of identity younger than ``REAUTH_MAX_AGE_SECONDS``: the
   sign-in, a second-factor check or the re-authentication page. One declaration per
   action names its page and its API endpoint, so they cannot drift apart.
4. **Tokens.** A bearer token is only minted by a session that satisfies the second
   factor where required and holds a fresh proof, never by another token, and it carries
   the assurance of the session that minted it (``ApiToken.minted_with_second_factor``,
   ``minted_with_fresh_proof``): its reach is never more than that session's. A token
   from before this policy carries neither and is refused wherever they are needed.

Pages are refused with a redirect to the step that is missing (sign-in, enrollment,
verification, re-authentication); the API with 401 ``session_expired`` or 403
``second_factor_required`` / ``fresh_proof_required`` / ``session_required``. Every
refusal carries the header ``Custodia-Assurance: <what is missing>``.

Cost: no query per request for a session that passed everything (the session and the
user are loaded by authentication anyway); the URL is resolved once more per request.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass
from types import MappingProxyType
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib import auth
from django.contrib.auth.views import redirect_to_login
from django.contrib.messages import constants as message_levels
from django.contrib.messages.storage import default_storage
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.urls import Resolver404, ResolverMatch, resolve, reverse
from django.utils.functional import SimpleLazyObject, empty
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.services import two_factor

LAST_ACTIVITY_KEY = "security_last_activity"  # epoch seconds of the last request, to the minute
AUTH_AT_KEY = "security_authenticated_at"  # epoch seconds of the last proof of identity
SECOND_FACTOR_REQUIRED_KEY = "security_second_factor_required"  # worked out at sign-in
ACTIVITY_WRITE_INTERVAL = 60  # seconds: the activity stamp is rewritten at most this often
REFUSAL_HEADER = "Custodia-Assurance"


def _now() -> int:
    return int(time.time())


# --------------------------------------------------------------------------- the caller


class Channel(enum.StrEnum):
    ANONYMOUS = "anonymous"
    SESSION = "session"  # the browser's session cookie (pages, console, session API)
    TOKEN = "token"  # a personal access token (``Authorization: Bearer cst_…``)


@dataclass(frozen=True)
class Assurance:
    """What the caller of one request has proved."""

    channel: Channel
    second_factor: bool = False  # passed it (a session) / minted by a session that had (a token)
    second_factor_required: bool = False  # the person needs it (sessions; tokens: the gate decides)
    proof_at: int | None = None  # epoch seconds of the last proof of identity (sessions)
    fresh_at_mint: bool = False  # tokens: minted by a session holding a fresh proof

    @property
    def satisfies_second_factor(self) -> bool:
        return self.second_factor or not self.second_factor_required

    def has_fresh_proof(self, now: int | None = None) -> bool:
        if self.channel == Channel.TOKEN:
            return self.fresh_at_mint
        now = _now() if now is None else now
        return self.proof_at is not None and now - self.proof_at <= settings.REAUTH_MAX_AGE_SECONDS

    @property
    def may_mint_tokens(self) -> bool:
        """SEC-1: only a session that passed the second factor where required and holds
        a fresh proof makes a token; a token never makes another."""
        return self.channel == Channel.SESSION and self.satisfies_second_factor and self.has_fresh_proof()


ANONYMOUS = Assurance(Channel.ANONYMOUS)


def session_assurance(request, user) -> Assurance:
    """The assurance of the request's session for its signed-in ``user`` (no query
    unless the person is not verified and the session has no requirement stamp yet:
    then one, once)."""
    session = getattr(request, "session", None)
    if user is None or session is None or not user.is_authenticated:
        return ANONYMOUS
    verified = two_factor.is_verified(session, user)
    required = False if verified else _second_factor_required(request, user)
    proof = session.get(AUTH_AT_KEY)
    return Assurance(
        Channel.SESSION,
        second_factor=verified,
        second_factor_required=required,
        proof_at=int(proof) if proof is not None else None,
    )


def token_assurance(token) -> Assurance:
    return Assurance(
        Channel.TOKEN,
        second_factor=token.minted_with_second_factor,
        fresh_at_mint=token.minted_with_fresh_proof,
    )


def person_needs_second_factor(user) -> bool:
    """Staff, administrators whose role or organization needs it, and anyone who
    enrolled an authenticator (two queries: at sign-in, not per request)."""
    return two_factor.second_factor_required(user) or two_factor.has_confirmed_device(user)


def _second_factor_required(request, user) -> bool:
    if user.is_staff:
        return True
    session = request.session
    required = session.get(SECOND_FACTOR_REQUIRED_KEY)
    if required is None:  # a session from before the stamp: work it out once
        required = person_needs_second_factor(user)
        session[SECOND_FACTOR_REQUIRED_KEY] = required
    return bool(required)


def refresh_second_factor_requirement(request) -> None:
    """The person's factors changed in this session (enrolled, turned it off)."""
    request.session[SECOND_FACTOR_REQUIRED_KEY] = person_needs_second_factor(request.user)
    annotate(request, request.user)


def mark_authenticated(request, *, now: int | None = None) -> None:
    """The person just proved who they are (sign-in, re-authentication, a second factor):
    sensitive actions are allowed for ``REAUTH_MAX_AGE_SECONDS`` from now."""
    now = _now() if now is None else now
    request.session[AUTH_AT_KEY] = now
    request.session[LAST_ACTIVITY_KEY] = now


def second_factor_passed(request, device) -> None:
    """This session passed ``device`` (after ``login()``, which may flush the session). A
    second factor is a fresh proof of identity too."""
    two_factor.mark_verified(request, device)
    mark_authenticated(request)
    annotate(request, request.user)


def second_factor_turned_off(request) -> None:
    two_factor.clear_verified(request)
    refresh_second_factor_requirement(request)
    annotate(request, request.user)


def stamp_sign_in(sender, request, user, **kwargs) -> None:
    """``user_logged_in``: the sign-in is the first proof of identity and the first
    activity of the session; whether the person needs a second factor is worked out now,
    once, and kept in the session that ``login()`` saves anyway."""
    if request is not None and hasattr(request, "session"):
        mark_authenticated(request)
        request.session[SECOND_FACTOR_REQUIRED_KEY] = person_needs_second_factor(user)


# --------------------------------------------------------------------------- where to send the person back
# After a missing sign-in step: local URLs only, never an open redirect to another site.


def local_url(request, url: str) -> str:
    """``url`` when it points to this site (never an open redirect to another), else ""."""
    if not url or not url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return ""
    return url


def same_site_path(request, url: str) -> str:
    """``url`` as a local path when it points to this site, else ""."""
    url = local_url(request, url)
    if not url:
        return ""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def url_with_next(view_name: str, next_url: str) -> str:
    """The page ``view_name``, carrying ``?next=next_url`` when there is one."""
    url = reverse(view_name)
    return f"{url}?{urlencode({'next': next_url})}" if next_url else url


# --------------------------------------------------------------------------- where the request goes


class Area(enum.StrEnum):
    PUBLIC = "public"  # no personal data: anyone, any assurance
    SIGN_IN = "sign-in"  # the steps of signing in: reachable before the second factor
    PORTAL = "portal"  # the portal's pages: the full policy
    CONSOLE = "console"  # the operations console (/ops/): the full policy, staff only
    API = "api"  # /api/: session or bearer token, through the DRF pair
    PROVIDER = "provider"  # /provider/v1/: provider tokens only, never a session


PUBLIC_URLS = frozenset(
    {
        "home",
        "set_language",
        "service_notices",  # ANON-6: public announcements
        "security_notices",  # SEC-4: public announcements
        "favicon",
        "healthz",  # load-balancer probes: ok/failing per part, nothing more
        "readyz",
        "dev_sms_outbox",  # development only (404 otherwise)
        "dev_deletion_notices",  # development only: the demo provider's receiver
        "dev_deletion_notice_receive",
        "consent:policy_list",
        "consent:policy_current",
        "consent:policy_version",
        "consent:cookie_choices",  # visitors decide before signing in (CON-3)
        "consent:contacts_key",  # the published contact-matching key (CON-4)
        "api-schema",
        "api-docs",
        "api-redoc",
        "config.api_urls.not_found",  # any other address under /api/: a 404, nothing else
        "django.views.static.serve",  # uploaded files, served by Django in development only
    }
)
SIGN_IN_URLS = frozenset(
    {
        "accounts:register",
        "accounts:login",
        "accounts:sign_in_second_step",
        "accounts:logout",
        "accounts:password_reset",
        "accounts:two_factor_enroll",
        "accounts:two_factor_verify",
        "accounts:two_factor_recovery_codes",
        "accounts:two_factor_recovery_codes_download",
        "console_login",  # /ops/login/ hands over to the portal's sign-in
        "admin:logout",
    }
)


class Action(enum.StrEnum):
    """SEC-1: the actions that need a fresh proof of identity."""

    REVEAL = "reveal"
    APPOINT_ADMINISTRATOR = "appoint-administrator"
    CHANGE_RIGHTS = "change-rights"
    REMOVE_ADMINISTRATOR = "remove-administrator"
    CREATE_TOKEN = "create-token"
    TRANSFER_OWNERSHIP = "transfer-ownership"
    DISBAND = "disband"


ANY_METHOD = None
# Each sensitive action, once, with the pages and endpoints that carry it out and the
# methods that do (ANY_METHOD: the page itself, so the form is only shown after the proof).
SENSITIVE_ACTIONS: MappingProxyType[Action, dict[str, frozenset[str] | None]] = MappingProxyType(
    {
        Action.REVEAL: {
            "organizations:member_reveal": ANY_METHOD,
            "api-member-reveal": frozenset({"POST"}),
            # console reveals: every "admin:<app>_<model>_reveal" (``_console_action``)
        },
        Action.APPOINT_ADMINISTRATOR: {
            "organizations:admin_appoint": ANY_METHOD,
            "api-administrators": frozenset({"POST"}),
        },
        Action.CHANGE_RIGHTS: {
            "organizations:admin_edit": ANY_METHOD,
            "api-administrator": frozenset({"PATCH", "PUT"}),
        },
        Action.REMOVE_ADMINISTRATOR: {
            "organizations:admin_remove": ANY_METHOD,
            "api-administrator": frozenset({"DELETE"}),
        },
        Action.CREATE_TOKEN: {
            "accounts:api_tokens": ANY_METHOD,
            "api-token-list": frozenset({"POST"}),
        },
        Action.TRANSFER_OWNERSHIP: {"organizations:transfer": ANY_METHOD},
        Action.DISBAND: {
            "organizations:disband": frozenset({"POST"}),
            "api-disband": frozenset({"POST"}),
        },
    }
)
_ACTION_BY_URL: dict[str, list[tuple[Action, frozenset[str] | None]]] = {}
for _action, _urls in SENSITIVE_ACTIONS.items():
    for _name, _methods in _urls.items():
        _ACTION_BY_URL.setdefault(_name, []).append((_action, _methods))


def classify(match: ResolverMatch) -> Area:
    """The area of a resolved URL. Anything not named here is a portal page: a new URL
    gets the whole policy until someone decides otherwise (and the URLconf matrix test
    asks them to)."""
    name = match.view_name
    if name in PUBLIC_URLS:
        return Area.PUBLIC
    if name in SIGN_IN_URLS:
        return Area.SIGN_IN
    if match.route.startswith("provider/"):
        return Area.PROVIDER
    if match.route.startswith("api/"):
        return Area.API
    if "admin" in match.namespaces or match.route.startswith("ops/"):
        return Area.CONSOLE  # the admin site and the console's own pages beside it
    return Area.PORTAL


def sensitive_action(match: ResolverMatch | None, method: str) -> Action | None:
    """The sensitive action a request to ``match`` with ``method`` carries out, if any."""
    if match is None:
        return None
    if "admin" in match.namespaces and match.url_name and match.url_name.endswith("_reveal"):
        return Action.REVEAL  # the console's audited reveals of sensitive values
    for action, methods in _ACTION_BY_URL.get(match.view_name, ()):
        if methods is ANY_METHOD or method in methods:
            return action
    return None


# --------------------------------------------------------------------------- the decision


class Missing(enum.StrEnum):
    """What a refused request lacks (the value of the refusal header)."""

    SIGN_IN = "sign-in"  # the session ended (idle) or there is none
    SECOND_FACTOR = "second-factor"
    FRESH_PROOF = "fresh-proof"
    SESSION = "session"  # tokens cannot do this: only a signed-in session


def refusal(assurance: Assurance, area: Area, action: Action | None) -> Missing | None:
    """The one decision: what ``assurance`` lacks for a request to ``area`` carrying out
    ``action`` (None: nothing, go ahead). Being signed in at all is the views' business
    (``login_required``, DRF's ``IsAuthenticated``); this decides how well."""
    if area in (Area.PUBLIC, Area.SIGN_IN, Area.PROVIDER) or assurance.channel == Channel.ANONYMOUS:
        return None
    if not assurance.satisfies_second_factor:
        return Missing.SECOND_FACTOR
    if action is None:
        return None
    if action == Action.CREATE_TOKEN and assurance.channel != Channel.SESSION:
        return Missing.SESSION
    if not assurance.has_fresh_proof():
        return Missing.FRESH_PROOF
    return None


def second_factor_message(assurance: Assurance):
    if assurance.channel == Channel.TOKEN:
        return _(
            "This token was created by a session that had not passed two-factor authentication. "
            "Create a new token after verifying your second factor."
        )
    return _(
        "Two-factor authentication is required for this. Verify your second factor in the browser first "
        "(or use an API token created after verifying it)."
    )


class NamesWhatIsMissing:
    """Every refusal carries ``Custodia-Assurance: <what is missing>``, as pages say it
    too (the API's exception handler puts ``response_headers`` on the answer)."""

    missing: Missing

    @property
    def response_headers(self) -> dict[str, str]:
        return {REFUSAL_HEADER: str(self.missing)}


class SecondFactorRequired(NamesWhatIsMissing, PermissionDenied):
    """Raised where the second factor is missing (the organization gate). Pages turn it
    into a redirect to enrollment or verification; the API into 403
    ``second_factor_required``."""

    missing = Missing.SECOND_FACTOR
    api_code = "second_factor_required"


def require_second_factor(user, *, required: bool) -> None:
    """SEC-1, for the organization gate: raise ``SecondFactorRequired`` when ``required``
    and the caller's sign-in has not passed the second factor. A user loaded without a
    request (a Celery task, a service acting for someone) carries no assurance: the
    request that started the work was checked."""
    current = getattr(user, "assurance", None)
    if required and current is not None and not current.second_factor:
        raise SecondFactorRequired(second_factor_message(current))


# --------------------------------------------------------------------------- pages and the console


def _resolved(user):
    """The object behind the lazy ``request.user`` of the authentication middleware."""
    if isinstance(user, SimpleLazyObject):
        if user._wrapped is empty:
            user._setup()
        return user._wrapped
    return user


def annotate(request, user):
    """Give ``user`` the request's assurance, and django-otp's ``is_verified()`` read from
    the session (no query)."""
    session = getattr(request, "session", None)
    user.is_verified = lambda: two_factor.is_verified(session, user)
    user.assurance = session_assurance(request, user)
    return user


def come_back_to(request) -> str:
    """Where to return after the missing step: this page; for a POST (never replayed,
    and nothing was written) the page its form was on, else this path."""
    if request.method in ("GET", "HEAD"):
        return request.get_full_path()
    return same_site_path(request, request.META.get("HTTP_REFERER", "")) or request.path


def reauthentication_url(request) -> str:
    """The re-authentication page, coming back afterwards (``come_back_to``)."""
    return url_with_next("accounts:reauthenticate", come_back_to(request))


def _refused(response, missing: Missing):
    response[REFUSAL_HEADER] = str(missing)
    return response


def _signed_out_response(request):
    """Sign-in page with ``?next=`` and a message. The messages middleware runs after this
    one, so the message is written through the storage directly."""
    minutes = settings.SESSION_IDLE_TIMEOUT_SECONDS // 60
    response = redirect_to_login(come_back_to(request), settings.LOGIN_URL)
    storage = default_storage(request)
    storage.add(
        message_levels.INFO,
        ngettext(
            "You were signed out after %(minutes)d minute without activity. Sign in again to continue.",
            "You were signed out after %(minutes)d minutes without activity. Sign in again to continue.",
            minutes,
        )
        % {"minutes": minutes},
    )
    storage.update(response)
    return _refused(response, Missing.SIGN_IN)


def second_factor_redirect(request):
    """To verification (the person has an authenticator) or enrollment (not yet). Only a
    page that was read is returned to afterwards: a POST is never replayed."""
    target = request.get_full_path() if request.method in ("GET", "HEAD") else ""
    step = (
        "accounts:two_factor_verify" if two_factor.has_confirmed_device(request.user) else "accounts:two_factor_enroll"
    )
    return _refused(HttpResponseRedirect(url_with_next(step, target)), Missing.SECOND_FACTOR)


def _page_response(request, missing: Missing):
    if missing == Missing.SECOND_FACTOR:
        return second_factor_redirect(request)
    return _refused(HttpResponseRedirect(reauthentication_url(request)), missing)


def resolve_request(request) -> ResolverMatch | None:
    try:
        return resolve(request.path_info, getattr(request, "urlconf", None))
    except Resolver404:
        return None


class AssuranceMiddleware:
    """The policy for pages and the console (after authentication, before the views and
    the policy-notice middleware): idle sign-out for every request with a session,
    then the second factor and the fresh proof for pages."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not hasattr(request, "user"):
            return self.get_response(request)
        original = request.user
        request.user = SimpleLazyObject(lambda: annotate(request, _resolved(original)))
        match = resolve_request(request)
        area = classify(match) if match is not None else Area.PORTAL
        request.assurance_area = area
        session = request.session
        signed_in = settings.SESSION_COOKIE_NAME in request.COOKIES and auth.SESSION_KEY in session
        now = _now()
        last = session.get(LAST_ACTIVITY_KEY) if signed_in else None
        if last is not None and now - int(last) > settings.SESSION_IDLE_TIMEOUT_SECONDS:
            auth.logout(request)  # flushes the session: a new key, nothing of the old one
            request.session_ended = True
            if area in (Area.PORTAL, Area.CONSOLE):
                return _signed_out_response(request)
        elif last is not None and now - int(last) >= ACTIVITY_WRITE_INTERVAL:
            session[LAST_ACTIVITY_KEY] = now
        if area in (Area.PORTAL, Area.CONSOLE) and signed_in and request.user.is_authenticated:
            missing = refusal(request.user.assurance, area, sensitive_action(match, request.method))
            if missing is not None:
                return _page_response(request, missing)
        response = self.get_response(request)
        if signed_in and last is None and session.modified and auth.SESSION_KEY in session:
            # A session from before the stamp: stamp it when it is saved anyway, never
            # with a write of its own.
            session.setdefault(LAST_ACTIVITY_KEY, now)
        return response

    def process_exception(self, request, exception):
        """The organization gate found the second factor missing: send the person to it."""
        if not isinstance(exception, SecondFactorRequired):
            return None
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        return second_factor_redirect(request)
