"""gunicorn's configuration (config/gunicorn.py): workers from the CPU count,
a request timeout below the proxy's, and an access log without personal data."""

from __future__ import annotations

import importlib
import os
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.core.exceptions import ImproperlyConfigured
from gunicorn.glogging import SafeAtoms

PROXY_READ_TIMEOUT = 60  # nginx's proxy_read_timeout default


def load(monkeypatch, **env):
    for name in ("WEB_CONCURRENCY", "GUNICORN_TIMEOUT", "GUNICORN_BIND"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    import config.gunicorn

    return importlib.reload(config.gunicorn)


def test_workers_follow_the_cpus_unless_told(monkeypatch):
    module = load(monkeypatch)
    assert module.workers == 2 * len(os.sched_getaffinity(0)) + 1
    assert load(monkeypatch, WEB_CONCURRENCY="3").workers == 3
    with pytest.raises(ImproperlyConfigured, match="WEB_CONCURRENCY must be an integer"):
        load(monkeypatch, WEB_CONCURRENCY="many")


def test_a_stuck_request_ends_here_before_the_proxy_gives_up(monkeypatch):
    module = load(monkeypatch)
    assert module.timeout < PROXY_READ_TIMEOUT
    assert module.worker_class == "sync" and module.control_socket_disable is True
    assert module.bind == ["127.0.0.1:8000"]


def access_line(module, path: str, query: str, fmt: str | None = None) -> str:
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": f"{path}?{query}",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "203.0.113.9",
        "HTTP_REFERER": f"https://custodia.example.org{path}?{query}",
        "HTTP_USER_AGENT": "Mozilla/5.0 (personal device)",
        "HTTP_COOKIE": "sessionid=secret-session",
    }
    request = SimpleNamespace(headers=[("COOKIE", "sessionid=secret-session"), ("REFERER", environ["HTTP_REFERER"])])
    response = SimpleNamespace(status="200 OK", sent=1234, headers=[("Set-Cookie", "csrftoken=secret-csrf")])
    logger = module.PrivacyAccessLogger.__new__(module.PrivacyAccessLogger)  # atoms() needs no set-up
    atoms = logger.atoms(response, request, environ, timedelta(milliseconds=12))
    return (fmt or module.access_log_format) % SafeAtoms(atoms)


def test_the_access_log_holds_no_query_string_address_or_cookie(monkeypatch):
    module = load(monkeypatch)
    line = access_line(module, "/orgs/1/roster/", "q=%E7%8E%8B%E4%BC%9F&phone=13912345678")
    assert '"GET /orgs/1/roster/ HTTP/1.1" 200 1234 12ms' in line
    for personal in ("q=", "13912345678", "203.0.113.9", "secret", "Mozilla", "example.org"):
        assert personal not in line
    # A format widened later still cannot reach them.
    widened = access_line(module, "/x/", "q=1", '%(h)s "%(r)s" %(q)s %(f)s %(a)s %({cookie}i)s %({set-cookie}o)s')
    assert widened == '- "-" - - - - -'


def test_secret_path_segments_are_masked(monkeypatch):
    module = load(monkeypatch)
    line = access_line(module, "/orgs/invitations/Zx9-secret-token/", "")
    assert "Zx9-secret-token" not in line and "/orgs/invitations/…/" in line
