"""Who is a child (SEC-3): pure functions, no database access.

The source policies define a child as a minor under 14 (EN 1.9, ZH-DED 一.11, ZH-CN 一.7)
and, for individuals located in Australia, under 15 (EN, Addendum for Australia, 3).

Jurisdiction: a roster entry is judged by the organization that holds it. The owner
records on the children's data page whether the organization's people are located in
Australia (``Organization.children_jurisdiction``); everything else (mainland China, the
dedicated edition, the rest of the international edition) uses 14. The organization is
chosen, not the person's policy edition, because the roster belongs to the organization
(EN I(II)4), a child on a school roster often has no account at all, and the threshold
must be one constant per roster so that "is a child" stays a single indexed comparison
(``birthday > cutoff``) over the whole roster, never a decision per row in Python.

Age: a person is N years old from the Nth anniversary of their birthday; someone born on
29 February reaches it on 1 March in a common year (they are not yet N on 28 February).
"""

from __future__ import annotations

import calendar
from datetime import date

from django.db.models import Q

DEFAULT = "default"
AUSTRALIA = "australia"

# Under this age a person is a child, by jurisdiction.
AGE_THRESHOLDS = {DEFAULT: 14, AUSTRALIA: 15}

# The roster field the age comes from, and the fields that may be held about a child
# without a guardian's consent: what is needed to know the person is on the roster at
# all (the basic fields of ``organizations.collection``), their age and the entry's
# lifecycle status.
AGE_FIELD = "birthday"
CHILD_BASIC_FIELDS = frozenset({"name", "mobile", "employee_number", "position", AGE_FIELD, "status"})


def age_threshold(jurisdiction: str | None) -> int:
    return AGE_THRESHOLDS.get(jurisdiction or DEFAULT, AGE_THRESHOLDS[DEFAULT])


def age_on(birthday: date, today: date) -> int:
    """Completed years on ``today``."""
    return today.year - birthday.year - ((today.month, today.day) < (birthday.month, birthday.day))


def is_child(birthday: date | None, jurisdiction: str | None, today: date) -> bool:
    """SEC-3: under 14 (under 15 in Australia) on ``today``. Unknown birthday: not
    known to be a child."""
    if birthday is None:
        return False
    return age_on(birthday, today) < age_threshold(jurisdiction)


def child_cutoff(jurisdiction: str | None, today: date) -> date:
    """The latest birthday of someone who is no longer a child on ``today``: a person
    is a child exactly when ``birthday > child_cutoff(...)`` (the set-wise form of
    ``is_child``). On 29 February the cutoff year may be a common year: 28 February."""
    year = today.year - age_threshold(jurisdiction)
    day = min(today.day, calendar.monthrange(year, today.month)[1])
    return date(year, today.month, day)


def children_q(cutoff: date, prefix: str = "") -> Q:
    """Roster entries that are children: the entry's own birthday, or, when the
    organization has none, the birthday on the person's account (ACC-2)."""
    return Q(**{f"{prefix}birthday__gt": cutoff}) | Q(
        **{f"{prefix}birthday__isnull": True, f"{prefix}user__birthday__gt": cutoff}
    )


def children_anywhere_q(today: date, prefix: str = "") -> Q:
    """Roster entries that are children in whichever organization holds them (each
    organization's own threshold), for views across organizations: the console."""
    field = f"{prefix}organization__children_jurisdiction"
    return (Q(**{field: AUSTRALIA}) & children_q(child_cutoff(AUSTRALIA, today), prefix)) | (
        ~Q(**{field: AUSTRALIA}) & children_q(child_cutoff(DEFAULT, today), prefix)
    )
