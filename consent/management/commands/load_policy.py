"""Create or extend a draft policy version from a text file (CON-6).

    manage.py load_policy --edition international --version 2021-01 --language en \\
        --part main --title "Privacy Policy" --file new.txt \\
        [--effective-on 2021-01-15] [--significant --change rights --change contact] \\
        [--summary "..."] [--publish]

Run it once per language and part; ``--publish`` on the last one publishes the version.
A published version is never changed: the command refuses and writes nothing.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from consent.models import PolicyEdition, PolicyPart, SignificantChange
from consent.services import policies as services


class Command(BaseCommand):
    help = "Create or extend a draft policy version from a plain-text file, and optionally publish it."

    def create_parser(self, prog_name, subcommand, **kwargs):
        # "--version" is the version label here, not Django's own --version flag.
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser):
        parser.add_argument("--edition", required=True, choices=PolicyEdition.values)
        parser.add_argument("--version", dest="label", required=True, help="version label, e.g. 2021-01")
        parser.add_argument("--language", required=True, choices=[code for code, _name in settings.LANGUAGES])
        parser.add_argument("--part", default=PolicyPart.MAIN, choices=PolicyPart.values)
        parser.add_argument("--title", required=True)
        parser.add_argument("--file", required=True, type=Path, help="UTF-8 plain text, one paragraph per line")
        parser.add_argument("--effective-on", type=date.fromisoformat, help="YYYY-MM-DD (default: today)")
        parser.add_argument("--significant", action="store_true")
        parser.add_argument(
            "--change", action="append", default=[], choices=SignificantChange.values, help="kind of significant change"
        )
        parser.add_argument("--summary", default="", help="what changed, shown to people")
        parser.add_argument("--publish", action="store_true")

    def handle(self, *args, **options):
        path: Path = options["file"]
        try:
            body = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"Cannot read {path}: {exc}") from exc
        if options["change"] and not options["significant"]:
            raise CommandError("--change needs --significant.")
        try:
            with transaction.atomic():  # the text and its publication land together or not at all
                text = services.add_draft_text(
                    edition=options["edition"],
                    version_label=options["label"],
                    language=options["language"],
                    part=options["part"],
                    title=options["title"],
                    body=body,
                    effective_on=options["effective_on"],
                    significant=options["significant"],
                    changes=options["change"],
                    summary=options["summary"],
                )
                if options["publish"]:
                    services.publish_policy_version(text.version)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        state = "published" if options["publish"] else "draft"
        self.stdout.write(
            f"{text.version.edition} {text.version.version} ({state}): {text.language}/{text.part} "
            f"{len(body)} characters."
        )
