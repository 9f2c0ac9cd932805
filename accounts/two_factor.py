"""Two-factor authentication (SEC-1): TOTP with recovery codes.

Placeholder: filled in by the two-factor work.
"""

from __future__ import annotations


class TwoFactorEnforcementMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)
