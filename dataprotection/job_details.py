"""The details of an anonymization job -- its preview and its deletion report -- as the
operations console shows them (ORG-11, ANON-2, ANON-7): labelled facts and tables in
the reader's language instead of raw JSON. Table names are read again from the model
label, so a report a worker wrote in one language reads in the reader's.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import formats, timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.text import capfirst
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from dataprotection import anonymization
from dataprotection.models import StageAction

FACT_LABELS = {
    "verified": _("Verified"),
    "verified_at": _("Verified at"),
    "rows_left": _("Personal values left"),
    "members": _("Roster entries"),
    "members_with_accounts": _("Entries with a personal account (the accounts stay)"),
    "administrators": _("Administrators who lose their rights"),
    "services": _("Services closed"),
    "grace_days": _("Grace window (days)"),
    "request_id": _("Request"),
    "member_ids": _("Roster entries (ids)"),
    "values": _("Personal values compared"),
    "columns": _("Columns scanned"),
    "skipped": _("Scan skipped"),
    "matches": _("Copies found"),
}
STAGE_COLUMNS = {
    "name": _("Records"),
    "action": _("What happens"),
    "rows": _("Rows"),
    "planned": _("Planned"),
    "changed": _("Changed"),
    "files_erased": _("Files erased"),
    "held_fields": _("Kept under a legal hold"),
    "left": _("Left"),
}
ACTIONS = dict(StageAction.choices)


def _records_name(row: dict) -> str:
    try:
        return str(capfirst(anonymization.model_of(row["model"])._meta.verbose_name_plural))
    except (KeyError, LookupError, ValueError):
        return str(row.get("name") or row.get("model") or "—")


def _value(key: str, value) -> str | SafeString:
    if isinstance(value, bool):
        return gettext("Yes") if value else gettext("No")
    if value in (None, "", [], {}):
        return "—"
    if key.endswith("_at") and isinstance(value, str):
        try:
            return formats.date_format(timezone.localtime(datetime.fromisoformat(value)), "Y-m-d H:i:s")
        except ValueError:
            return value
    if key == "matches" and isinstance(value, list):
        return format_html_join(
            ", ", "{} · {} ({})", ((_records_name(m), m.get("field", ""), m.get("rows", 0)) for m in value)
        )
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    if isinstance(value, dict):
        return _facts(value)
    return str(value)


def _label(key: str) -> str:
    return str(FACT_LABELS.get(key) or capfirst(key.replace("_", " ")))


def _facts(data: dict) -> SafeString:
    rows = [(_label(key), _value(key, value)) for key, value in data.items() if key != "stages"]
    return format_html('<dl class="job-facts">{}</dl>', format_html_join("", "<dt>{}</dt><dd>{}</dd>", rows))


def _stages_table(stages: list[dict]) -> SafeString:
    columns = [key for key in STAGE_COLUMNS if any(key in stage for stage in stages)]
    head = format_html_join("", '<th scope="col">{}</th>', ((STAGE_COLUMNS[key],) for key in columns))
    body = format_html_join(
        "",
        "<tr>{}</tr>",
        (
            (
                format_html_join(
                    "",
                    "<td>{}</td>",
                    (
                        (
                            _records_name(stage)
                            if key == "name"
                            else str(ACTIONS.get(stage.get(key), stage.get(key)))
                            if key == "action"
                            else _value(key, stage.get(key)),
                        )
                        for key in columns
                    ),
                ),
            )
            for stage in stages
        ),
    )
    return format_html('<table class="job-stages"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>', head, body)


def render_job_details(data: dict | None) -> SafeString | str:
    """A job's preview or report: its facts, then its per-table stages as a table."""
    if not data:
        return "—"
    parts = [_facts(data)]
    if data.get("stages"):
        parts.append(_stages_table(data["stages"]))
    return format_html_join("", "{}", ((part,) for part in parts))
