"""Small typed parsers for environment variables.

Every parser fails loudly (``ImproperlyConfigured``) on a value it cannot read, so a
typo in a deployment never silently falls back to a default. Secrets may also be read
from ``NAME_FILE`` (Docker and Kubernetes secrets), after healthchecks' ``envsecret``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def env_str(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false/1/0/yes/no), got {value!r}")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        parsed = int(value.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from None
    if minimum is not None and parsed < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {parsed}")
    return parsed


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = env_str(name, default)
    assert value is not None
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}; got {value!r}")
    return value


def env_secret(name: str, default: str | None = None) -> str | None:
    """Read a secret from ``NAME`` or from the file named by ``NAME_FILE``."""
    file_name = env_str(f"{name}_FILE")
    if file_name:
        try:
            return Path(file_name).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE points at {file_name!r}, which cannot be read: {exc}") from None
    return env_str(name, default)


@dataclass(frozen=True)
class DatabaseURL:
    """A parsed ``DATABASE_URL``: ``sqlite:///relative/or/absolute/path`` or
    ``postgres://user:password@host:port/name?sslmode=require``."""

    engine: str
    name: str
    user: str = ""
    password: str = ""
    host: str = ""
    port: str = ""
    options: tuple[tuple[str, str], ...] = ()

    def as_django(self, base_dir: Path) -> dict:
        if self.engine == "sqlite":
            path = Path(self.name)
            if not path.is_absolute():
                path = base_dir / path
            return {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": str(path),
                # WAL lets the web process read while a Celery worker writes; IMMEDIATE
                # transactions take the write lock up front instead of failing on upgrade.
                "OPTIONS": {
                    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                    "transaction_mode": "IMMEDIATE",
                    "timeout": 20,
                },
            }
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": self.name,
            "USER": self.user,
            "PASSWORD": self.password,
            "HOST": self.host,
            "PORT": self.port,
            "CONN_MAX_AGE": 60,
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": dict(self.options),
        }


def parse_database_url(name: str, value: str) -> DatabaseURL:
    parts = urlsplit(value)
    if parts.scheme == "sqlite":
        # sqlite:///var/db.sqlite3 is relative to the project, sqlite:////abs/path absolute.
        path = parts.path[1:] if parts.path.startswith("/") else parts.path
        if not path:
            raise ImproperlyConfigured(f"{name}: a sqlite URL needs a file path, e.g. sqlite:///var/custodia.sqlite3")
        return DatabaseURL(engine="sqlite", name=unquote(path))
    if parts.scheme in {"postgres", "postgresql", "pgsql"}:
        db_name = unquote(parts.path.lstrip("/"))
        if not db_name:
            raise ImproperlyConfigured(
                f"{name}: a PostgreSQL URL needs a database name, e.g. postgres://u:p@host/custodia"
            )
        try:
            port = str(parts.port or "")
        except ValueError:
            raise ImproperlyConfigured(f"{name}: the port in {value!r} is not a number") from None
        return DatabaseURL(
            engine="postgresql",
            name=db_name,
            user=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            host=unquote(parts.hostname or ""),
            port=port,
            options=tuple(parse_qsl(parts.query)),
        )
    raise ImproperlyConfigured(f"{name} must start with sqlite:// or postgres://, got {value!r}")
