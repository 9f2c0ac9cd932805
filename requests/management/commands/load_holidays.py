"""Load a jurisdiction's holiday calendar from a CSV file (REQ-4).

    manage.py load_holidays --jurisdiction mainland --file mainland-2026.csv

The file has a header row ``date,name[,working_day]``: an ISO date, the holiday's name,
and optionally ``1``/``true``/``yes`` for a weekend day that is worked (a make-up working
day). A file name that does not exist as given is looked up among the bundled calendars
in ``requests/holiday_calendars/`` (whose README says which data still needs checking).

Every row is checked before anything is written; then the rows are created or updated in
one transaction (a date already in the calendar takes the file's name and flag). Staff
maintain the calendar in the console afterwards.
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from dataprotection.audit import record_event
from requests.models import Holiday, Jurisdiction

BUNDLED = Path(__file__).resolve().parents[2] / "holiday_calendars"
TRUE = {"1", "true", "yes", "y"}
FALSE = {"", "0", "false", "no", "n"}


def parse_rows(path: Path) -> list[tuple[date, str, bool]]:
    """The calendar's rows, or CommandError naming every bad line."""
    rows: list[tuple[date, str, bool]] = []
    errors: list[str] = []
    seen: set[date] = set()
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or not {"date", "name"} <= {n.strip() for n in reader.fieldnames}:
            raise CommandError(f"{path}: the header must be date,name[,working_day]")
        for line, raw in enumerate(reader, start=2):
            row = {(k or "").strip(): (v or "").strip() for k, v in raw.items()}
            try:
                day = date.fromisoformat(row["date"])
            except ValueError:
                errors.append(f"line {line}: {row['date']!r} is not a date (YYYY-MM-DD)")
                continue
            flag = row.get("working_day", "").lower()
            if flag not in TRUE | FALSE:
                errors.append(f"line {line}: working_day must be 1 or empty, not {flag!r}")
                continue
            if not row["name"] or len(row["name"]) > Holiday._meta.get_field("name").max_length:
                errors.append(f"line {line}: a name of 1 to 100 characters is required")
                continue
            if day in seen:
                errors.append(f"line {line}: {day} appears twice")
                continue
            seen.add(day)
            rows.append((day, row["name"], flag in TRUE))
    if errors:
        raise CommandError("Nothing was loaded:\n" + "\n".join(errors))
    return rows


class Command(BaseCommand):
    help = "Load a jurisdiction's holidays and make-up working days from a CSV file (REQ-4)."

    def add_arguments(self, parser):
        parser.add_argument("--jurisdiction", required=True, choices=Jurisdiction.values)
        parser.add_argument("--file", required=True, help="CSV path, or the name of a bundled calendar")

    def handle(self, *args, jurisdiction: str, file: str, **options):
        path = Path(file)
        if not path.exists() and (BUNDLED / file).exists():
            path = BUNDLED / file
        if not path.exists():
            raise CommandError(f"No such file: {file}")
        rows = parse_rows(path)
        created = updated = 0
        with transaction.atomic():
            for day, name, working_day in rows:
                _holiday, was_created = Holiday.objects.update_or_create(
                    jurisdiction=jurisdiction, date=day, defaults={"name": name, "working_day": working_day}
                )
                created += was_created
                updated += not was_created
            record_event(
                "requests.holidays_loaded",
                metadata={"jurisdiction": jurisdiction, "file": path.name, "created": created, "updated": updated},
            )
        self.stdout.write(f"{jurisdiction}: {created} created, {updated} updated from {path.name}")
