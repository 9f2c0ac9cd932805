"""The significant-change notice at sign-in (CON-6, EN VIII: "we will notify you in a
prominent way").

At sign-in ``flag_pending_policy_notice`` (connected to ``user_logged_in`` in
``consent.hooks``) stores the ids of the significant versions the person has not
acknowledged in the session: one query at sign-in, none on later requests. While the
list is not empty, ``PolicyNoticeMiddleware`` sends the person to the acknowledge page
before anything else, except the pages needed to read the policies, switch language or
sign out. The acknowledge page clears the flag.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpResponseRedirect
from django.urls import reverse

from accounts.assurance import Area
from consent.selectors.policies import pending_significant_versions

SESSION_KEY = "consent_pending_policy_versions"


def flag_pending_policy_notice(sender, request, user, **kwargs):
    """CON-6: remember at sign-in which significant versions the person must read."""
    if request is None or not hasattr(request, "session"):
        return
    pending = [version.pk for version in pending_significant_versions(user)]
    set_pending(request, pending)


def set_pending(request, version_ids) -> None:
    if version_ids:
        request.session[SESSION_KEY] = sorted(version_ids)
    else:
        request.session.pop(SESSION_KEY, None)


def pending_ids(request) -> list[int]:
    return list(request.session.get(SESSION_KEY) or ()) if hasattr(request, "session") else []


class PolicyNoticeMiddleware:
    """Redirects a signed-in person with a pending significant change to the acknowledge
    page. Operations staff are people too: the console (/ops/) is not exempt."""

    def __init__(self, get_response):
        self.get_response = get_response
        self._paths: tuple[tuple[str, ...], tuple[str, ...]] | None = None

    def _exempt_paths(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(reachable with any method, reachable with GET/HEAD only); resolved once,
        after the URLconf has loaded."""
        if self._paths is None:
            any_method = [
                reverse("consent:policy_acknowledge"),
                reverse("accounts:logout"),
                reverse("set_language"),
                "/i18n/",
            ]
            for prefix in (settings.STATIC_URL, settings.MEDIA_URL):
                if prefix:
                    any_method.append(prefix if prefix.startswith("/") else f"/{prefix}")
            read_only = [reverse("consent:policy_list")]
            self._paths = (tuple(any_method), tuple(read_only))
        return self._paths

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and pending_ids(request):
            any_method, read_only = self._exempt_paths()
            path = request.path_info
            exempt = (
                path.startswith(any_method)
                or (request.method in ("GET", "HEAD") and path.startswith(read_only))
                # The steps of signing in (second factor) come first (SEC-1).
                or getattr(request, "assurance_area", None) == Area.SIGN_IN
            )
            if not exempt:
                target = reverse("consent:policy_acknowledge")
                # Only a page a person can come back to is remembered; a POST elsewhere
                # is not replayed, it just ends on the notice (nothing is written).
                if request.method in ("GET", "HEAD"):
                    target = f"{target}?{urlencode({'next': request.get_full_path()})}"
                return HttpResponseRedirect(target)
        return self.get_response(request)
