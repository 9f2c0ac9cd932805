"""The demo-data generators produce valid-format, realistic, reproducible PII (ORG-4, ORG-10).

Masking, validation and keyed-hash lookups (ORG-10) are only exercised realistically when
the fake ID numbers, bank cards and mobiles would pass the same checks as real ones.
"""

from __future__ import annotations

import random
import re
from datetime import date, timedelta
from decimal import Decimal

import phonenumbers
import pytest
from phonenumbers import PhoneNumberType

from dataprotection.identifiers import id_number_check_digit, is_valid_bank_card, is_valid_id_number
from organizations.models import ApprovalKind, LaborContractStatus
from organizations.services.demo_data import generators
from organizations.services.demo_data.tree import MEMBERS_PER_TEAM, plan_department_tree

TODAY = date(2026, 3, 2)
CJK = re.compile(r"^[\u4e00-\u9fff]{2,4}$")


@pytest.fixture(scope="module")
def people() -> list[generators.DemoPerson]:
    generator = generators.PersonGenerator(random.Random(7), TODAY)
    return [generator.person() for _ in range(3000)]


def age_on(day: date, born: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def test_id_numbers_are_valid_and_match_the_person(people):
    """ORG-10: every ID number validates, carries the GB 11643 check digit, a real
    region code, a birth date giving an age of 18-60, and the gender's sequence parity."""
    for person in people:
        value = person.id_number
        assert is_valid_id_number(value), value
        assert value[17] == id_number_check_digit(value[:17])
        assert value[:6] in generators.REGION_CODES
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
        assert born == person.born
        assert 18 <= age_on(TODAY, born) <= 60
        assert int(value[16]) % 2 == (1 if person.name.male else 0)


def test_birth_dates_cover_the_whole_age_range():
    """ORG-4: ages spread over 18-60 instead of clustering, so age filters have data."""
    rng = random.Random(1)
    ages = {age_on(TODAY, generators.birth_date(rng, TODAY)) for _ in range(5000)}
    assert min(ages) == 18
    assert max(ages) == 60


def test_bank_cards_pass_luhn_with_a_real_bin(people):
    """ORG-10: payroll card numbers pass Luhn and start with a known issuer BIN."""
    lengths = dict(generators.CARD_BINS)
    seen_lengths = set()
    for person in people:
        card = person.bank_card
        assert is_valid_bank_card(card), card
        assert lengths[card[:6]] == len(card)
        seen_lengths.add(len(card))
    assert seen_lengths == {16, 19}


def test_mobiles_are_valid_mainland_mobiles_outside_the_demo_block(people):
    """ORG-10: mobiles are E.164 mainland MOBILE numbers and never collide with the
    +86 138 0000 00xx block reserved for the demo logins."""
    for person in people:
        parsed = phonenumbers.parse(person.mobile)
        assert phonenumbers.is_valid_number(parsed), person.mobile
        assert phonenumbers.number_type(parsed) == PhoneNumberType.MOBILE
        assert phonenumbers.region_code_for_number(parsed) == "CN"
        assert phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164) == person.mobile
        assert not person.mobile.startswith(generators.RESERVED_MOBILE_PREFIX)


@pytest.mark.parametrize("prefix", generators.MOBILE_PREFIXES)
def test_every_mobile_prefix_yields_mobile_numbers(prefix):
    """Each listed prefix is live: numbers across its range are valid MOBILE numbers."""
    for subscriber in (0, 12_345_678, 55_555_555, 99_999_999):
        parsed = phonenumbers.parse(f"+86{prefix}{subscriber:08d}")
        assert phonenumbers.is_valid_number(parsed)
        assert phonenumbers.number_type(parsed) == PhoneNumberType.MOBILE


def test_names_mix_chinese_and_english(people):
    """ORG-4: about 70% Chinese and 30% English names, like a multinational roster."""
    chinese = [p.name for p in people if p.name.chinese]
    english = [p.name for p in people if not p.name.chinese]
    assert 0.65 <= len(chinese) / len(people) <= 0.75
    assert all(CJK.match(name.display) for name in chinese)
    assert all(re.fullmatch(r"[A-Z][a-z]+ [A-Z][a-z]+", name.display) for name in english)
    assert {name.male for name in chinese} == {True, False}


def test_unique_sensitive_values_and_emails(people):
    """ORG-10: a keyed-hash lookup in the demo finds one member, so values are unique."""
    for attribute in ("mobile", "id_number", "bank_card", "office_email"):
        values = [getattr(person, attribute) for person in people]
        assert len(set(values)) == len(values), attribute
    assert all(person.office_email.endswith("@" + generators.EMAIL_DOMAIN) for person in people)


def test_job_data_is_plausible(people):
    """ORG-4: contract statuses are real choices; hire dates follow from age and status."""
    statuses = {person.contract for person in people}
    assert statuses <= set(LaborContractStatus.values)
    assert {"regular", "probation", "intern"} <= statuses
    for person in people:
        assert person.hired_on <= TODAY - timedelta(days=7)
        assert age_on(person.hired_on, person.born) >= 16
        if person.contract in ("probation", "intern"):
            assert person.hired_on >= TODAY - timedelta(days=180)
        assert re.fullmatch(r"0\d{2,3}-\d{8}", person.office_phone)
    rng = random.Random(11)
    for division, positions in generators.POSITIONS.items():
        for _ in range(20):
            position, grade = generators.position_and_grade(rng, division)
            assert grade in dict(positions)[position]
            assert re.fullmatch(r"[PM]\d", grade)


def test_generators_are_deterministic():
    """The same seed reproduces the same roster, so demo screenshots stay stable."""

    def roster(seed: int) -> list[tuple[str, str, str, str]]:
        generator = generators.PersonGenerator(random.Random(seed), TODAY)
        return [(p.name.display, p.mobile, p.id_number, p.bank_card) for p in (generator.person() for _ in range(50))]

    assert roster(2026) == roster(2026)
    assert roster(2026) != roster(2027)


def test_recent_working_days_skip_weekends():
    days = generators.recent_working_days(date(2026, 3, 2), 7)  # a Monday
    assert len(days) == 7
    assert all(day.weekday() < 5 and day < date(2026, 3, 2) for day in days)
    assert days == sorted(days)
    assert days[-1] == date(2026, 2, 27)  # the Friday before
    assert generators.recent_working_days(date(2026, 3, 2), 0) == []


def test_punch_spots_and_photo_references():
    """ORG-4: punch locations sit at an office; photo names reveal nobody (ANON-1)."""
    rng = random.Random(3)
    for office in generators.OFFICES:
        for latitude, longitude in generators.punch_spots(rng, office):
            assert isinstance(latitude, Decimal)
            assert abs(float(latitude) - office.latitude) <= 0.0006
            assert abs(float(longitude) - office.longitude) <= 0.0006
            assert latitude.as_tuple().exponent >= -6
    assert re.fullmatch(r"punch-photos/[0-9a-f]{32}\.jpg", generators.photo_ref(rng))


def test_approval_drafts():
    """ORG-4: approvals use the model's kinds, carry bilingual titles, and amounts only
    where money is asked for."""
    rng = random.Random(5)
    drafts = [generators.approval(rng) for _ in range(500)]
    assert {draft.kind for draft in drafts} == set(ApprovalKind.values)
    for draft in drafts:
        assert re.search(r"[\u4e00-\u9fff]", draft.title)
        assert re.search(r"[A-Za-z]{3}", draft.title)
        assert len(draft.title) <= 200
        if draft.kind in ("expense", "purchase"):
            assert draft.amount is not None and draft.amount > 0
            assert draft.amount.as_tuple().exponent == -2
        else:
            assert draft.amount is None


@pytest.mark.parametrize("members", [1, 60, 2_000, 100_000])
def test_department_plan_scales_with_the_roster(members):
    """ORG-3: about one leaf team per 40 members under 7 divisions; leaves sit 3 or 4
    levels below the company."""
    root = plan_department_tree(members)
    assert len(root.children) == 7
    leaves, stack = [], [root]
    while stack:
        node = stack.pop()
        stack.extend(node.children)
        if not node.children:
            leaves.append(node)
    assert {leaf.depth for leaf in leaves} <= {3, 4}
    expected = max(1, members / MEMBERS_PER_TEAM)
    assert len(leaves) >= 7
    assert len(leaves) <= max(7, expected * 1.1 + 7)
    assert all(len(node.name) <= 200 for node in leaves)
