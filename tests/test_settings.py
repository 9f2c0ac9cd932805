"""Settings parse environment variables with typed helpers that fail loudly,
and the production profile passes `check --deploy` with no warnings (SEC-5)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_int, env_list, parse_database_url

ROOT = Path(__file__).resolve().parent.parent


def test_env_bool_rejects_garbage(monkeypatch):
    monkeypatch.setenv("FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="FLAG must be a boolean"):
        env_bool("FLAG", False)
    monkeypatch.setenv("FLAG", "Yes")
    assert env_bool("FLAG", False) is True
    monkeypatch.setenv("FLAG", "")
    assert env_bool("FLAG", True) is True


def test_env_int_rejects_non_numbers_and_values_below_minimum(monkeypatch):
    monkeypatch.setenv("N", "ten")
    with pytest.raises(ImproperlyConfigured, match="N must be an integer"):
        env_int("N", 1)
    monkeypatch.setenv("N", "3")
    with pytest.raises(ImproperlyConfigured, match="at least 5"):
        env_int("N", 10, minimum=5)
    monkeypatch.setenv("N", " 42 ")
    assert env_int("N", 1) == 42


def test_env_list_splits_and_trims(monkeypatch):
    monkeypatch.setenv("HOSTS", " a.example , b.example,, ")
    assert env_list("HOSTS", []) == ["a.example", "b.example"]


def test_database_url_parsing(tmp_path):
    sqlite = parse_database_url("DATABASE_URL", "sqlite:///var/x.sqlite3").as_django(tmp_path)
    assert sqlite["ENGINE"] == "django.db.backends.sqlite3"
    assert sqlite["NAME"] == str(tmp_path / "var" / "x.sqlite3")
    pg = parse_database_url("DATABASE_URL", "postgres://u%40x:p%2Fw@db.internal:6543/custodia?sslmode=require")
    django = pg.as_django(tmp_path)
    assert (django["USER"], django["PASSWORD"], django["HOST"], django["PORT"], django["NAME"]) == (
        "u@x",
        "p/w",
        "db.internal",
        "6543",
        "custodia",
    )
    assert django["OPTIONS"] == {"sslmode": "require"}
    with pytest.raises(ImproperlyConfigured, match="must start with sqlite:// or postgres://"):
        parse_database_url("DATABASE_URL", "mysql://x/y")
    with pytest.raises(ImproperlyConfigured, match="needs a database name"):
        parse_database_url("DATABASE_URL", "postgres://host/")
    with pytest.raises(ImproperlyConfigured, match="port"):
        parse_database_url("DATABASE_URL", "postgres://host:notaport/db")


def _manage(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)


def _production_env(tmp_path) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_", "CELERY_", "SECRET_", "DJANGO_ALLOW_ASYNC_UNSAFE"))
    }
    env.update(
        CUSTODIA_PROFILE="production",
        CUSTODIA_VAR_DIR=str(tmp_path),
        SECRET_KEY="x" * 30 + "-production-secret-for-the-deploy-check-" + "y" * 20,
        ALLOWED_HOSTS="custodia.example.org",
        DATABASE_URL="postgres://custodia@127.0.0.1:5432/custodia",
        REDIS_URL="redis://127.0.0.1:6379/0",
        CELERY_BROKER_URL="redis://127.0.0.1:6379/1",
        FIELD_ENCRYPTION_KEYS="k1:" + "A" * 43,
        FIELD_HASH_KEY="h" * 40,
    )
    return env


def test_production_profile_passes_check_deploy_with_zero_warnings(tmp_path):
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=_production_env(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_profile_refuses_to_start_without_its_secrets(tmp_path):
    env = _production_env(tmp_path)
    del env["SECRET_KEY"]
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY (or SECRET_KEY_FILE) is required" in result.stderr


def test_a_bad_environment_value_stops_start_up_with_a_clear_message(tmp_path):
    env = {**os.environ, "CUSTODIA_VAR_DIR": str(tmp_path), "SMS_CODE_TTL_SECONDS": "five minutes"}
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert "SMS_CODE_TTL_SECONDS must be an integer" in result.stderr


def test_security_headers_are_sent(client, db):  # db: every page reads the service notices (ANON-6)
    response = client.get("/")
    assert response.status_code == 200
    assert "default-src 'self'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "camera=()" in response["Permissions-Policy"]


def test_celery_reliability_settings():
    """Brief rule 5 / style-anchors (d): tasks are acked late, re-queued when a worker is
    lost, prefetched one at a time, time-limited below the visibility timeout, and keep
    no results."""
    from django.conf import settings

    from config.celery import app

    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1
    assert app.conf.task_ignore_result is True
    assert app.conf.task_soft_time_limit < app.conf.task_time_limit < settings.CELERY_BROKER_VISIBILITY_TIMEOUT
    assert app.conf.worker_cancel_long_running_tasks_on_connection_loss is True
    assert app.conf.task_serializer == "json"
    assert "delay_on_commit" in dir(app.Task)


def test_time_limit_must_stay_below_visibility_timeout(tmp_path):
    env = {**os.environ, "CUSTODIA_VAR_DIR": str(tmp_path), "CELERY_TASK_TIME_LIMIT": "4000"}
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert "CELERY_TASK_TIME_LIMIT must stay below CELERY_BROKER_VISIBILITY_TIMEOUT" in result.stderr


def test_default_language_is_simplified_chinese(client, settings, db):
    """The portal speaks zh-hans unless the browser or the switcher asks for English (the
    suite itself reads English: tests/conftest.py)."""
    import config.settings as project_settings

    assert project_settings.LANGUAGE_CODE == "zh-hans"
    settings.LANGUAGE_CODE = project_settings.LANGUAGE_CODE
    assert "注册账号" in client.get("/").content.decode()
    assert "Create an account" in client.get("/", headers={"accept-language": "en"}).content.decode()


# --------------------------------------------------------------------------- the production profile

PROBE = """
import django, json
django.setup()
from django.conf import settings
from django.test import Client
client = Client(HTTP_HOST=settings.ALLOWED_HOSTS[0])
print(json.dumps({
    "redirect": settings.SECURE_SSL_REDIRECT, "session_secure": settings.SESSION_COOKIE_SECURE,
    "csrf_secure": settings.CSRF_COOKIE_SECURE, "hsts": settings.SECURE_HSTS_SECONDS,
    "healthz": client.get("/healthz").status_code,
    "home": client.get("/").status_code if settings.SECURE_SSL_REDIRECT else None,  # a page: redirected
}))
"""


def _probe(env: dict) -> dict:
    import json

    result = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_redirects_to_https_but_not_the_health_probes(tmp_path):
    """Balancers probe the backend over plain HTTP: /healthz answers, a page redirects."""
    env = {**_production_env(tmp_path), "DJANGO_SETTINGS_MODULE": "config.settings"}
    seen = _probe(env)
    assert (seen["redirect"], seen["session_secure"], seen["csrf_secure"]) == (True, True, True)
    assert seen["hsts"] > 0
    assert (seen["healthz"], seen["home"]) == (200, 301)


def test_local_http_flag_relaxes_only_tls_and_only_on_loopback(tmp_path):
    """CUSTODIA_LOCAL_HTTP (make serve, the production-stack test): plain HTTP, no secure
    cookies, no HSTS; refused unless every allowed host is a loopback name."""
    env = {**_production_env(tmp_path), "DJANGO_SETTINGS_MODULE": "config.settings", "CUSTODIA_LOCAL_HTTP": "true"}
    refused = _manage("check", env=env)  # ALLOWED_HOSTS=custodia.example.org
    assert refused.returncode != 0
    assert "CUSTODIA_LOCAL_HTTP serves without TLS and is only for this machine" in refused.stderr
    seen = _probe({**env, "ALLOWED_HOSTS": "127.0.0.1,localhost"})
    assert (seen["redirect"], seen["session_secure"], seen["csrf_secure"], seen["hsts"]) == (False, False, False, 0)
    assert seen["healthz"] == 200


def test_the_embedded_broker_keeps_all_its_files_under_var(tmp_path):
    """The broker that needs no server (filesystem transport) writes its queue and its
    exchange tables under CUSTODIA_VAR_DIR, never into the directory it was started from
    (kombu's default ``control/``), so nothing of it lands in a checkout."""
    started_in = tmp_path / "elsewhere"
    started_in.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "CELERY_", "CUSTODIA_"))}
    env.update(CUSTODIA_VAR_DIR=str(tmp_path / "var"), PYTHONPATH=str(ROOT), DJANGO_SETTINGS_MODULE="config.settings")
    script = "import django; django.setup(); from config.celery import app; app.send_task('custodia.probe')"
    result = subprocess.run([sys.executable, "-c", script], cwd=started_in, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert not (started_in / "control").exists()
    assert (tmp_path / "var" / "broker" / "control" / "celery.exchange").exists()
    assert list((tmp_path / "var" / "broker" / "queue").iterdir())  # the message itself
