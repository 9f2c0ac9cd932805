"""The portal's main navigation (a template context processor).

One list of grouped destinations for every page of the layout, with the one the visitor
is in marked: the destination whose path prefix is the longest match of the request's
path (``/orgs/my-data/`` is "My data in organizations", not "Organizations"). It reads
nothing from the database. It lives with the URL configuration because it joins the
apps' pages into one site, as ``config/urls.py`` does.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class NavItem:
    key: str
    label: str
    url: str
    prefixes: tuple[str, ...]
    current: bool = False


@dataclass(frozen=True)
class NavGroup:
    key: str
    label: str
    items: tuple[NavItem, ...]


def _groups(user) -> list[tuple[str, object, list[tuple[str, object, str, tuple[str, ...]]]]]:
    profile = reverse("accounts:profile")
    account_root = profile.rsplit("profile/", 1)[0]
    groups = [
        (
            "personal",
            _("My account"),
            [
                ("profile", _("My profile"), profile, (account_root,)),
                ("privacy", _("Privacy"), reverse("consent:privacy"), (reverse("consent:privacy"),)),
                ("requests", _("My requests"), reverse("data_requests:list"), (reverse("data_requests:list"),)),
                (
                    "my_data",
                    _("My data in organizations"),
                    reverse("organizations:my_data"),
                    (reverse("organizations:my_data"),),
                ),
                (
                    "security_notices",
                    _("Security notices"),
                    reverse("organizations:security_notices"),
                    (reverse("organizations:security_notices"),),
                ),
            ],
        ),
        (
            "administration",
            _("Administration"),
            [("organizations", _("Organizations"), reverse("organizations:list"), (reverse("organizations:list"),))],
        ),
    ]
    if user.is_staff:
        groups[1][2].append(("console", _("Operations console"), reverse("admin:index"), (reverse("admin:index"),)))
    return groups


def main_navigation(request) -> list[NavGroup]:
    """The groups of destinations for the signed-in visitor, the current one marked."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return []
    groups = _groups(user)
    path = request.path
    best = max(
        (
            (len(prefix), key)
            for _group, _label, items in groups
            for key, _item_label, _url, prefixes in items
            for prefix in prefixes
            if path.startswith(prefix)
        ),
        default=(0, None),
    )[1]
    return [
        NavGroup(
            key=group_key,
            label=str(group_label),
            items=tuple(
                NavItem(key=key, label=str(label), url=url, prefixes=prefixes, current=key == best)
                for key, label, url, prefixes in items
            ),
        )
        for group_key, group_label, items in groups
    ]


def navigation(request) -> dict:
    return {"main_nav": SimpleLazyObject(lambda: main_navigation(request))}
