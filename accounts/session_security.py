"""Session security (SEC-1, SEC-5): idle expiry and recent-authentication checks.

Placeholder: filled in by the sign-in security work.
"""

from __future__ import annotations


class SessionSecurityMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)
