"""Every URL pattern of the project, with a concrete address that resolves to it: the
rows of the URLconf-generated matrices (SEC-1 assurance, organization gate)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.urls import URLResolver, get_resolver, resolve

# A value for each path converter, or for a parameter known by its name.
CONVERTER_VALUES = {"int": "1", "str": "x", "slug": "x", "path": "1", "uuid": "00000000-0000-0000-0000-000000000001"}
# Named groups of regular-expression routes, by name.
REGEX_VALUES = {"reference": "R-ABCDEFGHJK", "pk": "1", "path": "x"}
_CONVERTER = re.compile(r"<(?:(?P<converter>\w+):)?(?P<name>\w+)>")
_GROUP = re.compile(r"\(\?P<(?P<name>\w+)>(?P<regex>[^)]*)\)")
_ALTERNATIVES = re.compile(r"\w+(?:\|\w+)*")


def _group_value(match: re.Match) -> str:
    if match["name"] in REGEX_VALUES:
        return REGEX_VALUES[match["name"]]
    if _ALTERNATIVES.fullmatch(match["regex"]):  # (?P<app_label>auth|accounts|…)
        return match["regex"].split("|")[0]
    return "x"


@dataclass(frozen=True)
class Route:
    route: str  # the pattern as written, all levels joined ("orgs/<int:org_id>/roster/")
    path: str  # a concrete address that resolves to it

    def with_values(self, **values: object) -> str:
        """The address with named parameters set (e.g. ``org_id=7``)."""
        path = "/" + self.route
        for name, value in values.items():
            path = re.sub(rf"\(\?P<{name}>[^)]*\)|<(?:\w+:)?{name}>", str(value), path)
        return _concrete(path)


def _concrete(route: str) -> str:
    path = _GROUP.sub(_group_value, route)
    path = _CONVERTER.sub(lambda m: CONVERTER_VALUES[m["converter"] or "str"], path)
    return path.replace("^", "").replace("$", "")


def _walk(patterns, prefix: str = ""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern)


def project_routes() -> list[Route]:
    """Every pattern, each with an address checked to resolve back to it. ``route`` is
    the resolver's own name for the pattern (``ResolverMatch.route``)."""
    routes: dict[str, Route] = {}
    for written in _walk(get_resolver().url_patterns):
        path = _concrete("/" + written)
        match = resolve(path)
        assert match.route.replace("^", "") == written.replace("^", ""), f"{path} is {match.route!r}, not {written!r}"
        # A pattern shadowed by an earlier one with the same route (the console's own
        # login, replaced by the hand-over) is reached through that one.
        routes.setdefault(match.route, Route(match.route, path))
    return list(routes.values())
