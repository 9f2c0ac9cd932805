"""Throttling (issue 7): per token for integrations, per person for sessions, and per
client address for everyone (rates in settings, ``API_THROTTLE_*``)."""

from __future__ import annotations

from rest_framework import throttling

from accounts.models import ApiToken


class PerTokenThrottle(throttling.SimpleRateThrottle):
    scope = "token"

    def get_cache_key(self, request, view):
        token = request.auth
        if isinstance(token, ApiToken):
            return self.cache_format % {"scope": self.scope, "ident": f"t{token.pk}"}
        if request.user and request.user.is_authenticated:
            return self.cache_format % {"scope": self.scope, "ident": f"u{request.user.pk}"}
        return None


class PerAddressThrottle(throttling.SimpleRateThrottle):
    scope = "address"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
