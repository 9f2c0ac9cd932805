"""``manage.py seed_demo``: create the demo organization (ORG-3, ORG-4, ORG-10).

A presenter or load tester gets one realistic enterprise -- a department tree, a roster
whose sensitive values are encrypted, attendance and approvals -- and a login for every
role (owner, sub-administrator, member, each operations role), each with its journey
ready to walk, in seconds even at 100k members. Running it again changes nothing (a demo
made by an older version gets what its journeys lack); ``--reset`` replaces the demo
organization and the demo users.
"""

from __future__ import annotations

import unicodedata

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from organizations.services.demo_data.journeys import DEFAULT_PORTAL_URL
from organizations.services.demo_data.logins import DEMO_PASSWORD, DemoDataError
from organizations.services.demo_data.seeding import (
    MAX_DAYS,
    MAX_MEMBERS,
    delete_demo_data,
    seed_demo_organization,
    validate_demo_arguments,
)


class Command(BaseCommand):
    help = "Create the demo organization with N members, attendance, approvals and demo logins."

    def add_arguments(self, parser):
        parser.add_argument("--members", type=int, default=200, help=f"roster size, 1 to {MAX_MEMBERS:,} (default 200)")
        parser.add_argument(
            "--days", type=int, default=5, help=f"working days of attendance, 0 to {MAX_DAYS} (default 5)"
        )
        parser.add_argument("--seed", type=int, default=2026, help="random seed; the same seed, the same roster")
        parser.add_argument(
            "--reset", action="store_true", help="delete the demo organization and demo users first, then seed"
        )
        parser.add_argument(
            "--portal-url",
            default=DEFAULT_PORTAL_URL,
            help=f"where the portal is served (default {DEFAULT_PORTAL_URL}): the demo provider's deletion "
            "endpoint is the development receiver there",
        )

    def handle(self, *args, members: int, days: int, seed: int, reset: bool, portal_url: str, **options):
        try:
            validate_demo_arguments(members=members, days=days)
            # One transaction: a failed re-seed leaves the previous demo data in place.
            with transaction.atomic():
                if reset:
                    delete_demo_data(stdout=self.stdout)
                result = seed_demo_organization(
                    members=members, days=days, seed=seed, portal_url=portal_url.rstrip("/"), stdout=self.stdout
                )
        except DemoDataError as exc:
            raise CommandError(str(exc)) from exc

        verb = "Seeded" if result.created else "Found existing"
        self.stdout.write(self.style.SUCCESS(f"{verb} demo organization: {result.organization.name}"))
        for name, count in result.counts.items():
            self.stdout.write(f"  {name.replace('_', ' '):<20} {count:>12,}")
        total_rows = sum(result.counts.values())
        self.stdout.write(f"  {'elapsed seconds':<20} {result.elapsed:>12.2f}")
        if result.created and result.elapsed > 0:
            self.stdout.write(f"  {'rows per second':<20} {total_rows / result.elapsed:>12,.0f}")
        added = {name: count for name, count in result.journeys.items() if count}
        if added:
            self.stdout.write("Prepared for the role journeys: " + ", ".join(name.replace("_", " ") for name in added))
        self.stdout.write("")
        self.stdout.write(f"Demo logins (every one uses the password {DEMO_PASSWORD}):")
        self.stdout.write(f"  {'Role':<62} {'Phone':<16} Password")
        for login in result.logins:
            self.stdout.write(f"  {_pad(login.label, 62)} {login.phone:<16} {login.password}")
        self.stdout.write(
            "The owner, the sub-administrator and the operations logins set up an authenticator app at their "
            "first sign-in."
        )


def _pad(text: str, width: int) -> str:
    """Left-justify by display width: CJK characters take two terminal columns."""
    columns = sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)
    return text + " " * max(0, width - columns)
