"""Throttling: per token for integrations, per person for sessions, and per client
address for everyone (rates in settings, ``API_THROTTLE_*``)."""

from __future__ import annotations

from rest_framework import throttling


class PerTokenThrottle(throttling.SimpleRateThrottle):
    """Per token when the caller authenticated with one (``request.auth`` is the token's
    row: a personal access token), else per signed-in person."""

    scope = "token"

    def get_cache_key(self, request, view):
        token = request.auth
        if getattr(token, "pk", None) is not None:
            return self.cache_format % {"scope": self.scope, "ident": f"t{token.pk}"}
        if request.user and request.user.is_authenticated:
            return self.cache_format % {"scope": self.scope, "ident": f"u{request.user.pk}"}
        return None


class PerAddressThrottle(throttling.SimpleRateThrottle):
    scope = "address"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
