"""Pluggable SMS senders (ACC-1). ``settings.SMS_BACKEND`` names the class.

- ``ConsoleBackend`` prints messages (development).
- ``FileBackend`` appends JSON lines to ``settings.SMS_FILE_PATH`` (development default,
  so a demo can read codes without a phone).
- ``LocmemBackend`` keeps messages in ``outbox`` (tests).
A real gateway implements ``send(phone, body)`` and raises ``SMSDeliveryError`` on a
failure worth retrying.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from functools import lru_cache

from django.conf import settings
from django.utils.module_loading import import_string


class SMSDeliveryError(Exception):
    """The gateway did not accept the message; delivery will be retried."""


class BaseBackend:
    def send(self, phone: str, body: str) -> None:
        raise NotImplementedError


class ConsoleBackend(BaseBackend):
    def send(self, phone: str, body: str) -> None:
        sys.stdout.write(f"[sms to {phone}] {body}\n")
        sys.stdout.flush()


class FileBackend(BaseBackend):
    def send(self, phone: str, body: str) -> None:
        path = settings.SMS_FILE_PATH
        path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"to": phone, "body": body, "at": datetime.now(UTC).isoformat()}, ensure_ascii=False)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")


def read_file_outbox(limit: int = 20) -> list[dict]:
    """The newest ``limit`` messages the file backend wrote, newest first."""
    path = settings.SMS_FILE_PATH
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()[-limit:]
    return [json.loads(line) for line in reversed(lines) if line.strip()]


class LocmemBackend(BaseBackend):
    outbox: list[dict] = []

    def send(self, phone: str, body: str) -> None:
        type(self).outbox.append({"to": phone, "body": body})


@lru_cache(maxsize=8)
def _backend_class(path: str) -> type[BaseBackend]:
    return import_string(path)


def get_backend() -> BaseBackend:
    return _backend_class(settings.SMS_BACKEND)()
