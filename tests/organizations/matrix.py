"""The roles of the permission matrix every organization view is tested with (brief
rule 4), and signing in as one of them."""

from __future__ import annotations

from django.urls import reverse

ROLES = ("owner", "sub_admin", "out_of_scope_sub_admin", "other_org_admin", "member_user", "anonymous")


def client_as(client, cast, role: str):
    if role != "anonymous":
        client.force_login(getattr(cast, role))
    return client


def org_url(name: str, cast) -> str:
    return reverse(f"organizations:{name}", args=[cast.organization.pk])
