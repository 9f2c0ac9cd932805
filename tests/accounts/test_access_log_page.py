"""'Who accessed my data' (SEC-2): the signed-in person sees the audit events about them
that administrators, operations staff or the system caused -- when, who and in which
role, what -- and nothing about anyone else, nor the actors' addresses or details."""

from __future__ import annotations

import pytest
from django.urls import reverse

from dataprotection import audit
from dataprotection.audit import record_event
from organizations.models import Organization
from tests.organizations.matrix import ROLES, client_as

pytestmark = pytest.mark.django_db

URL = reverse("accounts:access_log")


@pytest.fixture
def organization_namer(monkeypatch):
    """What organizations registers from its AppConfig.ready(), pinned for these tests."""
    monkeypatch.setattr(
        audit,
        "_organization_namers",
        [lambda ids: dict(Organization.objects.filter(pk__in=ids).values_list("pk", "name"))],
    )


@pytest.fixture
def accesses(cast):
    """One event about each person of the matrix, caused by the owner; plus what the
    member sees: a staff view, a system action, and their own sign-in."""
    for role in ROLES[:-1]:
        record_event(
            "member.revealed",
            actor=cast.owner if role != "owner" else cast.sub_admin,
            subject=getattr(cast, role),
            organization=cast.organization,
            ip="203.0.113.7",
            metadata={"field": "id_number", "secret": f"value-of-{role}"},
        )
    record_event(
        "request.details_viewed",
        actor=cast.staff,
        subject=cast.member_user,
        ip="198.51.100.1",
        metadata={"reference": "R-9"},
    )
    record_event("request.export_ready", subject=cast.member_user, actor_kind="system")
    record_event("account.signed_in", actor=cast.member_user, subject=cast.member_user, ip="192.0.2.55")


@pytest.mark.parametrize("role", ROLES)
def test_each_person_sees_only_what_others_did_to_them(client, cast, accesses, organization_namer, role):
    """SEC-2 matrix: every signed-in person sees exactly the one reveal about them; the
    anonymous visitor is sent to sign in."""
    response = client_as(client, cast, role).get(URL)
    if role == "anonymous":
        assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:login"))
        return
    assert response.status_code == 200
    rows = response.context["rows"]
    reveals = [row for row in rows if row["what"] == "Revealed a hidden field of your organization record"]
    assert len(reveals) == 1
    page = response.content.decode()
    assert f"value-of-{role}" not in page
    for other in ROLES[:-1]:
        if other != role:
            assert f"value-of-{other}" not in page


def test_the_member_sees_who_when_and_what(client, cast, accesses, organization_namer):
    """SEC-2: names and roles of the actors, human-readable actions, newest first; never
    the actors' IP addresses, the events' details or the person's own actions."""
    client.force_login(cast.member_user)
    response = client.get(URL)
    rows = response.context["rows"]
    assert [(row["who"], row["role"], row["what"]) for row in rows] == [
        ("Custodia", "system", "Prepared a copy of your data"),
        ("Operations", "operations staff", "Viewed the details of your request"),
        ("Owner", "administrator of Hangzhou Example Co.", "Revealed a hidden field of your organization record"),
    ]
    page = response.content.decode()
    for hidden in ("203.0.113.7", "198.51.100.1", "192.0.2.55", "R-9", "id_number", "Signed in"):
        assert hidden not in page
    assert 'id="access-log"' in page


def test_unresolvable_organizations_and_deleted_actors(client, cast, monkeypatch):
    """SEC-2: without a registered namer (accounts alone) the role still says
    administrator; an actor whose account is gone shows as a deleted account; an action
    without a label of its own reads as its audit label, or its domain's, never as a
    code."""
    monkeypatch.setattr(audit, "_organization_namers", [])
    record_event("member.updated", actor=cast.owner, subject=cast.member_user, organization=cast.organization)
    record_event("request.completed", actor=cast.staff, subject=cast.member_user)
    record_event("request.frobbed", actor=cast.staff, subject=cast.member_user)
    record_event("widget.frobbed", actor=cast.sub_admin, subject=cast.member_user)
    cast.sub_admin.delete()
    client.force_login(cast.member_user)
    response = client.get(URL)
    rows = response.context["rows"]
    assert [(row["who"], row["role"], row["what"]) for row in rows] == [
        ("a deleted account", "another person", "Other recorded action"),
        ("Operations", "operations staff", "Action on a request"),
        ("Operations", "operations staff", "Request completed"),
        ("Owner", "administrator of an organization", "Changed your organization record"),
    ]
    page = response.content.decode()
    assert "frobbed" not in page and "request.completed" not in page


def test_rows_are_in_the_readers_language(client, cast, accesses, organization_namer):
    """SEC-2: a Chinese reader reads every row in Chinese: the roles, the actions, the
    system's name."""
    record_event("request.completed", actor=cast.staff, subject=cast.member_user)
    client.force_login(cast.member_user)
    response = client.get(URL, HTTP_ACCEPT_LANGUAGE="zh-hans")
    rows = response.context["rows"]
    whats = [row["what"] for row in rows]
    assert whats == ["请求已完成", "已准备好您的数据副本", "查看了您的请求详情", "查看了您在组织中的记录里隐藏的字段"]
    assert [row["role"] for row in rows][:2] == ["运营人员", "系统"]
    assert rows[1]["who"] == "Custodia"


def test_the_page_is_paginated_with_a_fixed_number_of_queries(
    client, cast, organization_namer, django_assert_num_queries
):
    """SEC-2: 25 events a page; queries: session, user, the page of events with their
    actors, the organization names -- whatever the page holds (the service-notice
    banner of every page is cached after the first request)."""
    for number in range(30):
        record_event(
            "member.viewed",
            actor=cast.owner if number % 2 else cast.staff,
            subject=cast.member_user,
            organization=cast.organization if number % 2 else None,
            metadata={"n": number},
        )
    client.force_login(cast.member_user)
    client.get(reverse("accounts:profile"))  # warms the site-wide banner cache
    with django_assert_num_queries(4):
        first = client.get(URL)
    assert len(first.context["rows"]) == 25 and first.context["has_next"]
    with django_assert_num_queries(4):
        second = client.get(URL, {"page": "2"})
    assert len(second.context["rows"]) == 5 and not second.context["has_next"]
    assert 'href="?page=1"' in second.content.decode()
    assert client.get(URL, {"page": "x"}).context["page"] == 1


def test_the_profile_links_to_the_page(client, cast):
    """SEC-2: the person finds the page from their profile."""
    client.force_login(cast.member_user)
    assert f'href="{URL}"' in client.get(reverse("accounts:profile")).content.decode()
