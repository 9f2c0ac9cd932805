"""REQ-4: due-date arithmetic, by properties and by examples per jurisdiction."""

from __future__ import annotations

import calendar as pycalendar
import io
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command
from hypothesis import given, settings
from hypothesis import strategies as st

from requests.models import Holiday, Jurisdiction
from requests.services import deadlines
from requests.services.deadlines import (
    WEEKDAYS,
    HolidayCalendar,
    add_months,
    add_working_days,
    count_working_days,
    due_on_after_pause,
    extension_limit_on,
    initial_due_on,
    paused_days_between,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
DATES = st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 12, 31))
ALL = list(Jurisdiction.values)


@st.composite
def calendars(draw):
    """A random calendar: holidays on any day, worked days on weekends only."""
    base = draw(st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 1, 1)))
    offsets = st.integers(min_value=0, max_value=400)
    holidays = {base + timedelta(days=o) for o in draw(st.lists(offsets, max_size=40))}
    worked = {d for d in (base + timedelta(days=o) for o in draw(st.lists(offsets, max_size=10))) if d.weekday() >= 5}
    return HolidayCalendar.of(holidays - worked, worked)


def at_noon(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12, tzinfo=SHANGHAI)


# --------------------------------------------------------------------------- properties


@given(DATES, st.integers(min_value=-24, max_value=36))
def test_add_months_clamps_to_the_month_end(day, months):
    """REQ-4: same day in the target month, or its last day when it is shorter."""
    result = add_months(day, months)
    assert (result.year * 12 + result.month) - (day.year * 12 + day.month) == months
    last = pycalendar.monthrange(result.year, result.month)[1]
    assert result.day == min(day.day, last)


@given(DATES)
def test_eea_month_is_never_earlier_than_received_and_at_most_31_days(day):
    """REQ-4: one calendar month for the EEA."""
    due = initial_due_on(Jurisdiction.EEA, at_noon(day))
    assert day < due <= day + timedelta(days=31)


@given(st.sampled_from(ALL), DATES, calendars())
@settings(max_examples=200)
def test_due_date_is_after_the_received_date(jurisdiction, day, calendar):
    """REQ-4: a due date is never on or before the day a request arrived."""
    assert initial_due_on(jurisdiction, at_noon(day), calendar=calendar) > day


@given(st.sampled_from(ALL), DATES, DATES, calendars())
@settings(max_examples=200)
def test_due_date_is_monotonic_in_the_received_date(jurisdiction, a, b, calendar):
    """REQ-4: a request received later is never due earlier."""
    first, second = sorted((a, b))
    assert initial_due_on(jurisdiction, at_noon(first), calendar=calendar) <= initial_due_on(
        jurisdiction, at_noon(second), calendar=calendar
    )


@given(DATES, st.integers(min_value=1, max_value=60), calendars())
def test_working_day_results_are_working_days(day, n, calendar):
    """REQ-4: a working-day deadline never lands on a weekend (unless worked) or a holiday."""
    result = add_working_days(day, n, calendar)
    assert calendar.is_working_day(result)
    assert result not in calendar.holidays
    assert result.weekday() < 5 or result in calendar.worked


@given(DATES, st.integers(min_value=0, max_value=60), calendars())
def test_counting_back_gives_the_days_added(day, n, calendar):
    """REQ-4: adding n working days then counting them back gives n."""
    assert count_working_days(day, add_working_days(day, n, calendar), calendar) == n


@given(DATES, st.integers(min_value=0, max_value=60))
def test_working_days_are_at_least_as_long_as_calendar_days(day, n):
    assert add_working_days(day, n) >= day + timedelta(days=n)


@given(st.sampled_from(ALL), DATES, st.integers(min_value=0, max_value=120), calendars())
def test_pause_pushes_the_due_date_by_exactly_the_paused_days(jurisdiction, due, days, calendar):
    """REQ-4: the due date moves by exactly the days paused, in the deadline's unit."""
    after = due_on_after_pause(due, days, jurisdiction, calendar=calendar)
    if deadlines.counts_working_days(jurisdiction):
        assert count_working_days(due, after, calendar) == days
    else:
        assert (after - due).days == days


@given(st.sampled_from(ALL), DATES, st.integers(min_value=0, max_value=90), calendars())
def test_a_pause_counted_and_applied_agree(jurisdiction, paused_on, length, calendar):
    """REQ-4: the days a pause lasted, applied to a due date, shift it by the same count."""
    resumed_on = paused_on + timedelta(days=length)
    days = paused_days_between(paused_on, resumed_on, jurisdiction, calendar=calendar)
    assert 0 <= days <= length
    if not deadlines.counts_working_days(jurisdiction):
        assert days == length


@given(st.sampled_from(ALL), DATES)
def test_extension_limits_follow_the_jurisdiction(jurisdiction, original):
    """REQ-4: EEA two more months, California 45 more days, nobody else."""
    limit = extension_limit_on(SimpleNamespace(jurisdiction=jurisdiction, original_due_on=original))
    if jurisdiction == Jurisdiction.EEA:
        assert limit == add_months(original, 2)
        assert original + timedelta(days=58) <= limit <= original + timedelta(days=62)
    elif jurisdiction == Jurisdiction.CALIFORNIA:
        assert limit == original + timedelta(days=45)
    else:
        assert limit is None


# --------------------------------------------------------------------------- examples


@pytest.mark.parametrize(
    ("received", "expected"),
    [
        (date(2026, 1, 31), date(2026, 2, 28)),
        (date(2028, 1, 31), date(2028, 2, 29)),  # leap year
        (date(2026, 3, 31), date(2026, 4, 30)),
        (date(2026, 12, 15), date(2027, 1, 15)),
        (date(2024, 2, 29), date(2024, 3, 29)),
    ],
)
def test_eea_examples(received, expected):
    """REQ-4: EEA one calendar month, clamped at month ends."""
    assert initial_due_on(Jurisdiction.EEA, at_noon(received)) == expected


@pytest.mark.parametrize(
    ("jurisdiction", "expected"),
    [
        (Jurisdiction.MAINLAND, date(2026, 3, 17)),  # 15 calendar days
        (Jurisdiction.CALIFORNIA, date(2026, 4, 16)),  # 45 days
        (Jurisdiction.AUSTRALIA, date(2026, 4, 1)),  # 30 days
        (Jurisdiction.EEA, date(2026, 4, 2)),
        (Jurisdiction.INTERNATIONAL, date(2026, 3, 23)),  # 15 working days from Mon 2 Mar
        (Jurisdiction.JAPAN, date(2026, 3, 23)),
    ],
)
def test_each_jurisdiction(jurisdiction, expected):
    """REQ-4: the deadline of each jurisdiction, received Monday 2 March 2026."""
    assert initial_due_on(jurisdiction, at_noon(date(2026, 3, 2)), calendar=WEEKDAYS) == expected


def test_received_at_is_read_in_local_time():
    """REQ-4: 16:30 UTC on 1 March is already 2 March in Shanghai."""
    moment = datetime(2026, 3, 1, 16, 30, tzinfo=UTC)
    assert initial_due_on(Jurisdiction.MAINLAND, moment) == date(2026, 3, 17)


@pytest.mark.django_db
def test_working_days_skip_holidays_and_count_worked_weekends(django_assert_num_queries):
    """REQ-4: the Holiday rows of the jurisdiction, loaded in one query."""
    Holiday.objects.create(jurisdiction=Jurisdiction.JAPAN, date=date(2026, 5, 4), name="Greenery Day")
    Holiday.objects.create(jurisdiction=Jurisdiction.JAPAN, date=date(2026, 5, 5), name="Children's Day")
    Holiday.objects.create(jurisdiction=Jurisdiction.JAPAN, date=date(2026, 5, 6), name="Substitute holiday")
    # Another jurisdiction's calendar does not count.
    Holiday.objects.create(jurisdiction=Jurisdiction.INTERNATIONAL, date=date(2026, 5, 7), name="Elsewhere")
    with django_assert_num_queries(1):
        due = initial_due_on(Jurisdiction.JAPAN, at_noon(date(2026, 5, 1)))
    # Fri 1 May + 15 working days, skipping 4-6 May: 7-8, 11-15, 18-22, 25-27 = Wed 27 May.
    assert due == date(2026, 5, 27)
    Holiday.objects.create(
        jurisdiction=Jurisdiction.JAPAN, date=date(2026, 5, 9), name="Worked Saturday", working_day=True
    )
    assert initial_due_on(Jurisdiction.JAPAN, at_noon(date(2026, 5, 1))) == date(2026, 5, 26)


@pytest.mark.django_db
def test_calendar_days_need_no_query(django_assert_num_queries):
    with django_assert_num_queries(0):
        initial_due_on(Jurisdiction.MAINLAND, at_noon(date(2026, 2, 10)))
        due_on_after_pause(date(2026, 2, 10), 3, Jurisdiction.EEA)


def test_working_day_pause_example():
    """REQ-4: a Japan request paused Friday to the next Friday stood still 5 working days
    and is due 5 working days later."""
    days = paused_days_between(date(2026, 3, 6), date(2026, 3, 13), Jurisdiction.JAPAN, calendar=WEEKDAYS)
    assert days == 5
    assert due_on_after_pause(date(2026, 3, 20), days, Jurisdiction.JAPAN, calendar=WEEKDAYS) == date(2026, 3, 27)


def test_negative_inputs_are_refused():
    with pytest.raises(ValueError):
        add_working_days(date(2026, 1, 1), -1)
    with pytest.raises(ValueError):
        due_on_after_pause(date(2026, 1, 1), -1, Jurisdiction.MAINLAND)
    with pytest.raises(ValueError):
        initial_due_on("mars", at_noon(date(2026, 1, 1)))


# --------------------------------------------------------------------------- load_holidays


@pytest.mark.django_db
def test_load_bundled_mainland_calendar():
    """REQ-4: the bundled 2026 calendar loads, with its make-up working days; loading it
    again updates in place."""
    out = io.StringIO()
    call_command("load_holidays", jurisdiction="mainland", file="mainland-2026.csv", stdout=out)
    assert "created" in out.getvalue()
    calendar = HolidayCalendar.load(Jurisdiction.MAINLAND)
    assert not calendar.is_working_day(date(2026, 10, 1))
    assert not calendar.is_working_day(date(2026, 2, 16))  # Spring Festival, a Monday
    assert calendar.is_working_day(date(2026, 2, 14))  # worked Saturday
    assert date(2026, 10, 10) in calendar.worked
    count = Holiday.objects.count()
    call_command("load_holidays", jurisdiction="mainland", file="mainland-2026.csv", stdout=io.StringIO())
    assert Holiday.objects.count() == count


@pytest.mark.django_db
def test_load_holidays_checks_every_row_first(tmp_path):
    """A bad row loads nothing and names the line."""
    path = tmp_path / "bad.csv"
    path.write_text("date,name,working_day\n2026-01-01,New Year,\n2026-13-01,Nope,\n2026-01-03,Sat,maybe\n")
    with pytest.raises(CommandError) as error:
        call_command("load_holidays", jurisdiction="japan", file=str(path))
    assert "line 3" in str(error.value) and "line 4" in str(error.value)
    assert not Holiday.objects.exists()


@pytest.mark.django_db
def test_load_holidays_without_flag_column(tmp_path):
    path = tmp_path / "jp.csv"
    path.write_text("date,name\n2026-01-01,New Year\n")
    call_command("load_holidays", jurisdiction="japan", file=str(path), stdout=io.StringIO())
    assert Holiday.objects.get().working_day is False
