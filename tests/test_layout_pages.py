"""The portal's layout: the main navigation marks where the visitor is; the
error pages (400, 403, 404, CSRF failure, 500) are in the layout, translated, with a
way back -- and the 500 page needs neither the database nor a signed-in user; Django's
technical debug pages keep their styles in development only (SEC-5: the strict CSP
everywhere else)."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.http import Http404
from django.test import Client, RequestFactory, override_settings
from django.urls import path, reverse
from django.utils import translation
from django.views.defaults import server_error

from config import urls as project_urls
from config.navigation import main_navigation
from dataprotection.middleware import DEBUG_PAGE_POLICY


def _raise(exception):
    def view(request):
        raise exception

    return view


# The project's URLs (the layout links to them) and four that fail on purpose.
urlpatterns = [
    path("boom/", _raise(RuntimeError("boom"))),
    path("forbidden/", _raise(PermissionDenied)),
    path("missing/", _raise(Http404)),
    path("bad/", _raise(SuspiciousOperation("bad"))),
    *project_urls.urlpatterns,
]


# --------------------------------------------------------------------------- navigation


def current(request_path: str, user) -> list[str]:
    request = RequestFactory().get(request_path)
    request.user = user
    return [item.key for group in main_navigation(request) for item in group.items if item.current]


@pytest.mark.django_db
def test_the_navigation_marks_the_section_of_the_page(cast):
    assert current("/accounts/profile/", cast.member_user) == ["profile"]
    assert current("/accounts/profile/access-log/", cast.member_user) == ["profile"]
    assert current("/orgs/my-data/", cast.member_user) == ["my_data"]
    assert current("/orgs/my-data/security-notices/", cast.member_user) == ["security_notices"]
    assert current(f"/orgs/{cast.organization.pk}/roster/", cast.owner) == ["organizations"]
    assert current("/privacy/apps/", cast.member_user) == ["privacy"]
    assert current("/", cast.member_user) == []


@pytest.mark.django_db
def test_the_navigation_is_grouped_and_offers_the_console_to_staff_only(cast):
    request = RequestFactory().get("/")
    request.user = cast.member_user
    groups = {group.key: [item.key for item in group.items] for group in main_navigation(request)}
    assert groups == {
        "personal": ["profile", "privacy", "requests", "my_data", "security_notices"],
        "administration": ["organizations"],
    }
    request.user = cast.staff
    assert [item.key for item in main_navigation(request)[1].items] == ["organizations", "console"]


@pytest.mark.django_db
def test_pages_mark_the_current_item_for_assistive_technology(client, cast):
    client.force_login(cast.owner)
    content = client.get(reverse("organizations:roster", args=[cast.organization.pk])).content.decode()
    assert 'data-nav="organizations" aria-current="page"' in content  # the main navigation
    assert content.count('aria-current="page"') == 2  # and the organization's: Roster
    assert '<nav aria-label="Main">' in content and 'class="nav-toggle"' in content


# --------------------------------------------------------------------------- error pages


@pytest.mark.django_db
@override_settings(ROOT_URLCONF="tests.test_layout_pages")
@pytest.mark.parametrize(
    ("url", "status", "title_en", "title_zh"),
    [
        ("/missing/", 404, "Page not found", "页面不存在"),
        ("/forbidden/", 403, "Access denied", "无权访问"),
        ("/bad/", 400, "Bad request", "请求无效"),
    ],
)
def test_error_pages_are_in_the_layout_translated_with_a_way_back(client, url, status, title_en, title_zh):
    for language, title in (("en", title_en), ("zh-hans", title_zh)):
        response = client.get(url, HTTP_ACCEPT_LANGUAGE=language)
        assert response.status_code == status
        content = response.content.decode()
        assert f"<title>{title} · Custodia</title>" in content
        assert 'href="/static/css/custodia.css"' in content and 'class="app-header"' in content
        assert f'href="{reverse("home")}"' in content  # the way back
        assert "data-history-back" in content
        assert 'lang="' + language + '"' in content


@pytest.mark.django_db
def test_404_offers_sign_in_to_visitors_and_the_profile_to_people(client, cast):
    content = client.get("/no-such-page/").content.decode()
    assert f'href="{reverse("accounts:login")}?next=/no-such-page/"' in content
    client.force_login(cast.member_user)
    content = client.get("/no-such-page/").content.decode()
    assert f'href="{reverse("accounts:profile")}"' in content and "?next=" not in content
    assert 'id="sidebar"' in content  # the signed-in layout, with its navigation


@pytest.mark.django_db
def test_csrf_failure_page_is_in_the_layout_and_translated(cast):
    client = Client(enforce_csrf_checks=True)
    response = client.post(reverse("accounts:login"), {}, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 403
    content = response.content.decode()
    assert "表单已过期" in content and 'class="app-header"' in content


def test_the_500_page_needs_no_database_and_no_user():
    """No ``db`` fixture: any query would fail this test. The page renders from the
    skeleton layout only, in the active language."""
    request = RequestFactory().get("/anything/")
    for language, title in (("en", "Something went wrong"), ("zh-hans", "出错了")):
        with translation.override(language):
            response = server_error(request)
        content = response.content.decode()
        assert response.status_code == 500
        assert f"<title>{title} · Custodia</title>" in content
        assert 'href="/static/css/custodia.css"' in content and f'href="{reverse("home")}"' in content
        assert 'id="sidebar"' not in content and "csrfmiddlewaretoken" not in content


@override_settings(ROOT_URLCONF="tests.test_layout_pages", DEBUG=False)
def test_an_unhandled_error_answers_with_the_500_page_without_touching_the_database():
    client = Client(raise_request_exception=False)
    response = client.get("/boom/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 500
    assert "出错了" in response.content.decode()


# --------------------------------------------------------------------------- CSP and debug pages


@pytest.mark.django_db
def test_debug_404_page_keeps_its_styles_only_with_debug(client, settings):
    settings.DEBUG = True
    debug = client.get("/no-such-page/")
    assert debug.status_code == 404 and b"<style" in debug.content
    assert debug["Content-Security-Policy"] == DEBUG_PAGE_POLICY
    assert "default-src 'none'" in debug["Content-Security-Policy"]  # still no network access
    ordinary = client.get(reverse("home"))
    assert ordinary["Content-Security-Policy"] == settings.CONTENT_SECURITY_POLICY  # our pages stay strict
    admin = client.get(reverse("admin:login"))
    assert admin["Content-Security-Policy"] == settings.CONTENT_SECURITY_POLICY  # admin pages too
    settings.DEBUG = False
    production = client.get("/no-such-page/")
    assert production["Content-Security-Policy"] == settings.CONTENT_SECURITY_POLICY
    assert b"<style" not in production.content
