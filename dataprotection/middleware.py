"""Strict security headers on every response (SEC-5).

Django 5.2 has no built-in Content-Security-Policy, so this small middleware adds one
from ``settings.CONTENT_SECURITY_POLICY`` plus a Permissions-Policy that denies the
powerful browser features a privacy portal never needs.
"""

from django.conf import settings

PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()"
# Django's technical error pages (the DEBUG 404 and 500 pages) carry their styles and their
# small script inline, in a head that also holds this tag. The admin's pages hold the tag
# too but never an inline style, and no page of ours may (CSP).
DEBUG_PAGE_MARKER = b'<meta name="robots" content="NONE,NOARCHIVE">'
INLINE_STYLE = b"<style"
DEBUG_PAGE_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; "
    "form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
)


def is_technical_debug_page(response) -> bool:
    """Only with ``DEBUG`` on (never in production, which refuses to start with it): an
    HTML response from Django's own debug views, recognized by their marker tag."""
    if not settings.DEBUG or getattr(response, "streaming", False):
        return False
    if not response.get("Content-Type", "").startswith("text/html"):
        return False
    head = response.content[:4096]
    return DEBUG_PAGE_MARKER in head and INLINE_STYLE in head


class SecurityHeadersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        policy = getattr(settings, "CONTENT_SECURITY_POLICY", "")
        if policy and is_technical_debug_page(response):
            # A developer's debug page keeps its inline styles and script; still no
            # network access from it (default-src 'none').
            policy = DEBUG_PAGE_POLICY
        if policy:
            response.headers.setdefault("Content-Security-Policy", policy)
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        response.headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
        return response
