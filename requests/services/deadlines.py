"""Due dates of data-subject requests (REQ-4): pure date arithmetic.

The law of the person's jurisdiction decides how long the controller has to answer:

============== ===================================== ==================================
jurisdiction   first due date                        extension (recorded, with reason)
============== ===================================== ==================================
mainland       15 calendar days (ZH 五)              none
international  15 working days (EN IX)               none
eea            one calendar month (GDPR art. 12(3))  up to two more months
california     45 calendar days (CCPA)               one more 45 days
japan          15 working days                       none
australia      30 calendar days (APP 12)             none
============== ===================================== ==================================

Conventions, so that every function here agrees with the others:

* The clock starts on the *local* date the request was received (``TIME_ZONE``); day 1
  is the day after. A request received on 1 March at 23:30 Shanghai time is due on
  16 March in the mainland, whatever the UTC date was.
* "One month" is the same day of the next month, clamped to that month's last day
  (31 January -> 28 or 29 February): the reading of art. 12(3) GDPR regulators use.
* A working day is a weekday that is not a holiday of the jurisdiction, or a weekend
  day that the jurisdiction's calendar marks as worked (China's make-up working days,
  ``Holiday.working_day``). ``add_working_days(d, n)`` is the n-th working day after
  ``d`` (``d`` itself never counts); ``count_working_days(a, b)`` counts working days in
  ``(a, b]``, so the two are inverses.
* A pause stops the clock (REQ-4): its length is counted in the unit of the
  jurisdiction's deadline (calendar days, or working days where the deadline is in
  working days) and the due date moves by exactly that many of the same unit.

Nothing here writes; ``HolidayCalendar.load`` is the only query (one per call of a
function that needs it), and it can be passed in to compute many dates in a loop.
"""

from __future__ import annotations

import calendar as _calendar
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.utils import timezone

from requests.models import Holiday, Jurisdiction

# Deadlines in calendar days, or (working-day jurisdictions) in working days.
CALENDAR_DAYS: dict[str, int] = {
    Jurisdiction.MAINLAND: 15,
    Jurisdiction.CALIFORNIA: 45,
    Jurisdiction.AUSTRALIA: 30,
}
WORKING_DAYS: dict[str, int] = {
    Jurisdiction.INTERNATIONAL: 15,
    Jurisdiction.JAPAN: 15,
}
MONTHS: dict[str, int] = {Jurisdiction.EEA: 1}
# REQ-4: the one recorded extension each jurisdiction allows, counted from the first
# due date (not from the current one, so pauses cannot stretch the legal limit twice).
EXTENSION_MONTHS: dict[str, int] = {Jurisdiction.EEA: 2}
EXTENSION_DAYS: dict[str, int] = {Jurisdiction.CALIFORNIA: 45}


def counts_working_days(jurisdiction: str) -> bool:
    return jurisdiction in WORKING_DAYS


@dataclass(frozen=True)
class HolidayCalendar:
    """The non-working weekdays (``holidays``) and worked weekend days (``worked``) of
    one jurisdiction, as sets: a working-day question is a set lookup, never a query."""

    holidays: frozenset[date] = field(default_factory=frozenset)
    worked: frozenset[date] = field(default_factory=frozenset)

    @classmethod
    def load(cls, jurisdiction: str) -> HolidayCalendar:
        """One query: every Holiday row of the jurisdiction."""
        holidays, worked = set(), set()
        for day, working_day in Holiday.objects.filter(jurisdiction=jurisdiction).values_list("date", "working_day"):
            (worked if working_day else holidays).add(day)
        return cls(frozenset(holidays), frozenset(worked))

    @classmethod
    def of(cls, holidays: Iterable[date] = (), worked: Iterable[date] = ()) -> HolidayCalendar:
        return cls(frozenset(holidays), frozenset(worked))

    def is_working_day(self, day: date) -> bool:
        if day in self.worked:
            return True
        if day in self.holidays:
            return False
        return day.weekday() < 5


# A calendar of plain weekdays: what a jurisdiction without Holiday rows gets.
WEEKDAYS = HolidayCalendar()


def add_working_days(start: date, days: int, calendar: HolidayCalendar = WEEKDAYS) -> date:
    """The ``days``-th working day after ``start`` (``start`` itself does not count);
    ``start`` unchanged for 0. Never a weekend day unless the calendar says it is worked,
    never a holiday."""
    if days < 0:
        raise ValueError("days must not be negative")
    day = start
    remaining = days
    while remaining:
        day += timedelta(days=1)
        if calendar.is_working_day(day):
            remaining -= 1
    return day


def count_working_days(start: date, end: date, calendar: HolidayCalendar = WEEKDAYS) -> int:
    """Working days in ``(start, end]``: 0 when ``end <= start``. The inverse of
    ``add_working_days``: ``count_working_days(d, add_working_days(d, n)) == n``."""
    count = 0
    day = start
    while day < end:
        day += timedelta(days=1)
        if calendar.is_working_day(day):
            count += 1
    return count


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, clamped to the last day of that month
    (31 January + 1 month = 28 or 29 February)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, _calendar.monthrange(year, month)[1]))


def local_date(moment: datetime | date) -> date:
    """The date in the portal's time zone (``TIME_ZONE``) of an aware moment."""
    if isinstance(moment, datetime):
        return timezone.localdate(moment) if timezone.is_aware(moment) else moment.date()
    return moment


def initial_due_on(jurisdiction: str, received_at: datetime, *, calendar: HolidayCalendar | None = None) -> date:
    """REQ-4: the first due date of a request received at ``received_at``.

    ``calendar`` defaults to the jurisdiction's Holiday rows (one query, and only for a
    working-day jurisdiction)."""
    received = local_date(received_at)
    if jurisdiction in CALENDAR_DAYS:
        return received + timedelta(days=CALENDAR_DAYS[jurisdiction])
    if jurisdiction in MONTHS:
        return add_months(received, MONTHS[jurisdiction])
    if jurisdiction in WORKING_DAYS:
        if calendar is None:
            calendar = HolidayCalendar.load(jurisdiction)
        return add_working_days(received, WORKING_DAYS[jurisdiction], calendar)
    raise ValueError(f"Unknown jurisdiction: {jurisdiction!r}")


def extension_limit_on(request) -> date | None:
    """REQ-4: the latest due date one recorded extension may give, counted from the first
    due date: EEA two more months, California 45 more days; None where the law of the
    jurisdiction allows no extension."""
    if request.jurisdiction in EXTENSION_MONTHS:
        return add_months(request.original_due_on, EXTENSION_MONTHS[request.jurisdiction])
    if request.jurisdiction in EXTENSION_DAYS:
        return request.original_due_on + timedelta(days=EXTENSION_DAYS[request.jurisdiction])
    return None


def paused_days_between(
    paused_on: date, resumed_on: date, jurisdiction: str, *, calendar: HolidayCalendar | None = None
) -> int:
    """How long a pause from ``paused_on`` to ``resumed_on`` stopped the clock, in the
    unit of the jurisdiction's deadline: calendar days, or working days where the
    deadline is counted in working days. A pause within one day counts 0."""
    if counts_working_days(jurisdiction):
        if calendar is None:
            calendar = HolidayCalendar.load(jurisdiction)
        return count_working_days(paused_on, resumed_on, calendar)
    return max((resumed_on - paused_on).days, 0)


def due_on_after_pause(
    due_on: date, paused_days: int, jurisdiction: str, *, calendar: HolidayCalendar | None = None
) -> date:
    """REQ-4: the due date after a pause of ``paused_days`` (in the unit
    ``paused_days_between`` returns): later by exactly that many calendar days, or
    working days in a working-day jurisdiction."""
    if paused_days < 0:
        raise ValueError("paused_days must not be negative")
    if counts_working_days(jurisdiction):
        if calendar is None:
            calendar = HolidayCalendar.load(jurisdiction) if paused_days else WEEKDAYS
        return add_working_days(due_on, paused_days, calendar)
    return due_on + timedelta(days=paused_days)
