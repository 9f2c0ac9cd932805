"""The development SMS outbox page lets a demo read codes without a phone (ACC-1: the pluggable
console/file SMS backend in development); it never exists outside DEBUG."""

from __future__ import annotations

import pytest

from accounts.services.sms_gateway import FileBackend


@pytest.fixture
def file_outbox(settings, tmp_path):
    settings.SMS_BACKEND = "accounts.services.sms_gateway.FileBackend"
    settings.SMS_FILE_PATH = tmp_path / "outbox.jsonl"
    return settings


def test_outbox_lists_newest_messages_first_in_debug(client, file_outbox):
    file_outbox.DEBUG = True
    FileBackend().send("+8613900000001", "first 111111")
    FileBackend().send("+8613900000002", "second 222222")
    response = client.get("/dev/sms/")
    assert response.status_code == 200
    body = response.content.decode()
    assert body.index("second 222222") < body.index("first 111111")


def test_outbox_is_404_without_debug(client, file_outbox):
    file_outbox.DEBUG = False
    FileBackend().send("+8613900000001", "secret 333333")
    response = client.get("/dev/sms/")
    assert response.status_code == 404
    assert b"333333" not in response.content


def test_outbox_is_404_with_another_backend(client, settings):
    settings.DEBUG = True
    settings.SMS_BACKEND = "accounts.services.sms_gateway.ConsoleBackend"
    assert client.get("/dev/sms/").status_code == 404


def test_outbox_times_are_shown_in_the_viewers_time_zone_and_language(client, file_outbox):
    """The file holds UTC timestamps; the page shows local time (Asia/Shanghai, UTC+8)
    and how long ago, in the page's language -- not the raw ISO string."""
    import json
    from datetime import UTC, datetime, timedelta

    file_outbox.DEBUG = True
    file_outbox.TIME_ZONE = "Asia/Shanghai"
    sent = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    file_outbox.SMS_FILE_PATH.write_text(
        json.dumps({"to": "+8613900000001", "body": "code 444444", "at": sent.isoformat()}) + "\n", encoding="utf-8"
    )
    local = (sent + timedelta(hours=8)).strftime("%Y-%m-%d %H:%M:%S")
    page = client.get("/dev/sms/").content.decode()
    assert local in page and "5\xa0minutes ago" in page
    assert f">{sent.isoformat()}<" not in page  # never the raw UTC string as the text
    client.cookies["django_language"] = "zh-hans"
    page = client.get("/dev/sms/").content.decode()
    assert local in page and "5\xa0分钟前" in page


def test_favicon_ico_points_at_the_vendored_icon(client, db):
    """No 404 for /favicon.ico on any page: it redirects to the static icon, a real ICO."""
    from django.contrib.staticfiles import finders
    from PIL import Image

    response = client.get("/favicon.ico")
    assert response.status_code == 302 and response["Location"].endswith("favicon.ico")
    with Image.open(finders.find("favicon.ico")) as icon:
        assert icon.format == "ICO"
    assert 'rel="icon"' in client.get("/").content.decode()
