"""Where to send a person back to after a missing sign-in step (SEC-1): local URLs only,
never an open redirect to another site. The policy that decides when a step is missing
is ``accounts.assurance``."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme


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
