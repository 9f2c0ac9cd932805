"""Health probes for load balancers: /healthz answers without the database,
/readyz names each part ok or failing (503 when one fails) and says nothing more."""

from __future__ import annotations

import pytest
from django.db import OperationalError
from django.urls import reverse

from config import health
from tests.servers import free_port


def test_health_urls_have_stable_names():
    assert (reverse("healthz"), reverse("readyz")) == ("/healthz", "/readyz")


def test_healthz_answers_without_touching_the_database(client):
    # No ``db`` fixture: any query would raise here.
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-store" in response["Cache-Control"]
    assert not response.cookies


def test_healthz_refuses_writes(client):
    assert client.post("/healthz").status_code == 405


def test_readyz_is_ok_when_every_part_answers(client, db, django_assert_max_num_queries):
    with django_assert_max_num_queries(3):  # SELECT 1; the migrations table exists, its rows
        response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "migrations": "ok", "broker": "ok"}}
    assert not response.cookies


def test_readyz_checks_the_cache_when_redis_is_configured(client, db, settings, monkeypatch):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # the cache itself stays local memory here
    assert client.get("/readyz").json()["checks"]["cache"] == "ok"
    monkeypatch.setattr(health.cache, "get", lambda *args, **kwargs: None)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "migrations": "ok", "cache": "failing", "broker": "ok"}


def test_readyz_names_an_unreachable_broker_and_nothing_else(client, db, monkeypatch, caplog):
    from config.celery import app

    port = free_port()
    unreachable = f"redis://127.0.0.1:{port}/0"  # nothing listens there
    monkeypatch.setattr(app.conf, "broker_url", unreachable)
    monkeypatch.setattr(app.conf, "broker_transport_options", {})
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "failing",
        "checks": {"database": "ok", "migrations": "ok", "broker": "failing"},
    }
    assert str(port) not in response.content.decode() and "redis" not in response.content.decode()
    assert "readiness: broker failing" in caplog.text  # the reason goes to the log only


def test_readyz_names_migrations_not_applied(client, db, monkeypatch):
    expected = health.expected_migrations() | {("organizations", "9999_from_the_next_release")}
    monkeypatch.setattr(health, "expected_migrations", lambda: expected)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "migrations": "failing", "broker": "ok"}
    assert "9999" not in response.content.decode()


def test_readyz_names_the_database_when_it_does_not_answer(client, db, monkeypatch):
    class Unreachable:
        vendor = "postgresql"

        def cursor(self):
            raise OperationalError("connection refused")

        def __getattr__(self, name):
            raise OperationalError("connection refused")

    monkeypatch.setattr(health, "connection", Unreachable())
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "failing", "migrations": "failing", "broker": "ok"}
    assert "refused" not in response.content.decode()


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_need_no_sign_in(client, db, path):
    response = client.get(path, follow=False)
    assert response.status_code == 200 and "location" not in response
