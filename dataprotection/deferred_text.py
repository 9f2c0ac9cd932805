"""Text the portal writes now for a person to read later, in the reader's language.

A worker (or a service acting for someone else) runs in whatever language is active
there, usually the default one; text it renders and stores would reach an
English-speaking person in Chinese, and a handler reading the same timeline in the
person's language. So what the portal itself writes is stored as the message's key
(its English msgid, marked for extraction with ``gettext_noop``) and its parameters,
and rendered when it is shown, in the language of whoever reads it:

    note = deferred(gettext_noop("Due on %(due)s."), due=request.due_on)
    event.message = note.dumps()           # stored
    DeferredText.loads(event.message)      # read back; str() renders it now

Parameters are plain values (kept as they are), dates and datetimes (shown in the
reader's time zone), lazy translations such as a choice's label, or other deferred
texts: those are translated at display time too. Free text a person typed (a handler's
answer) is stored as typed; it has no key.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.utils import formats, timezone, translation
from django.utils.functional import Promise
from django.utils.text import capfirst as capitalize

DATETIME_DISPLAY = "Y-m-d H:i"


def msgid_of(text: Promise | str) -> str:
    """The untranslated msgid behind a lazy translation (a model field's verbose name,
    a choice's label); a plain string is returned as it is."""
    if isinstance(text, Promise):
        with translation.override(None):  # no catalog: a lazy translation yields its msgid
            return str(text)
    return str(text)


@dataclass(frozen=True)
class DeferredText:
    """A message key with its parameters, rendered by ``str()`` in the active language."""

    msgid: str
    params: Mapping[str, Any] = field(default_factory=dict)
    capfirst: bool = False

    # ------------------------------------------------------------------ rendering

    def render(self) -> str:
        text = translation.gettext(self.msgid)
        if self.params:
            values = {name: _render(value) for name, value in self.params.items()}
            try:
                text = text % values
            except (KeyError, ValueError, TypeError):  # a broken translation: the key's own wording
                text = self.msgid % values
        return capitalize(text) if self.capfirst else text

    def __str__(self) -> str:
        return self.render()

    # ------------------------------------------------------------------ storage

    def as_json(self) -> dict:
        data: dict[str, Any] = {"msgid": self.msgid}
        if self.params:
            data["params"] = {name: _encode(value) for name, value in self.params.items()}
        if self.capfirst:
            data["capfirst"] = True
        return data

    def dumps(self) -> str:
        return json.dumps(self.as_json(), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, data: Mapping) -> DeferredText:
        return cls(str(data["msgid"]), dict(data.get("params") or {}), bool(data.get("capfirst")))

    @classmethod
    def loads(cls, raw: str) -> DeferredText | None:
        """The stored message, or None for an empty column."""
        if not raw:
            return None
        return cls.from_json(json.loads(raw))


def deferred(msgid: str, /, **params) -> DeferredText:
    """A message to render later; ``msgid`` is a string marked with ``gettext_noop``."""
    return DeferredText(msgid, {name: _encode(value) for name, value in params.items()})


def label(text: Promise | str, *, capfirst: bool = False) -> DeferredText:
    """A lazy label (a field's verbose name, a choice's label) kept for later rendering."""
    return DeferredText(msgid_of(text), capfirst=capfirst)


def render_stored(raw: str, fallback: str = "") -> str:
    """The stored message rendered now, or ``fallback`` (free text) when there is none."""
    message = DeferredText.loads(raw)
    return message.render() if message is not None else fallback


def as_columns(text: str | DeferredText | None) -> tuple[str, str]:
    """(free text, stored message) for a value that is either: a service takes both."""
    if isinstance(text, DeferredText):
        return "", text.dumps()
    return text or "", ""


# --------------------------------------------------------------------------- parameters


def _encode(value: Any) -> Any:
    if isinstance(value, DeferredText):
        return {"msgid": value.msgid, **value.as_json()}
    if isinstance(value, Promise):
        return {"msgid": msgid_of(value)}
    if isinstance(value, datetime):
        return {"datetime": value.isoformat()}
    if isinstance(value, date):
        return {"date": value.isoformat()}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Mapping) and ("msgid" in value or "datetime" in value or "date" in value):
        return dict(value)  # already encoded (a message read back and passed on)
    return str(value)


def _render(value: Any) -> Any:
    if isinstance(value, Mapping):
        if "msgid" in value:
            return DeferredText.from_json(value).render()
        if "datetime" in value:
            moment = datetime.fromisoformat(value["datetime"])
            if timezone.is_aware(moment):
                moment = timezone.localtime(moment)
            return formats.date_format(moment, DATETIME_DISPLAY)
        if "date" in value:
            return value["date"]
    return value
