"""Personal-data declarations (ANON-1 to ANON-4): what each model field holds and how it
is anonymized.

Every model that lives in our database declares, next to its fields, which of them can
hold personal data and the strategy that erases them, and which of them cannot::

    class WorkLog(models.Model):
        ...
        personal_data = PersonalData(
            subject="member__user",
            row=DELETE_ROW,
            fields={"content": REDACT_TEXT},
            non_personal={"id", "organization", "member", "day", "created_at"},
        )

Models we do not own (Django's and django-guardian's) are declared with ``declare`` in
``dataprotection.third_party_personal_data``. ``tests/dataprotection/
test_personal_data_declarations.py`` fails when a field is declared neither way, so a new
column cannot slip past the anonymization engine. This module only declares; the engine
that applies the strategies is `dataprotection/anonymization.py`. It imports no app.
"""

from __future__ import annotations

import enum
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from django.db import models


class Strategy(enum.StrEnum):
    DELETE_ROW = "delete_row"  # the whole row goes with the value
    SET_NULL = "set_null"  # the column becomes NULL (nullable columns only)
    REDACT = "redact"  # replaced by a fixed value ("" or a constant)
    PSEUDONYMIZE = "pseudonymize"  # a keyed pseudonym, stable per subject (crypto.keyed_hash)
    LEGAL_HOLD = "legal_hold"  # kept until the hold ends, then ``after`` applies (ANON-4)
    ERASE_FILE = "erase_file"  # the referenced file is erased, then the reference blanked


@dataclass(frozen=True)
class LegalHold:
    """A statutory retention period (ANON-4): data under it is kept, isolated, and purged
    when it ends."""

    name: str
    months: int
    basis: str = ""

    def __str__(self) -> str:
        return f"{self.name} {self.months} months"


SERVICE_LOGS = LegalHold("service-logs", 6, "Cybersecurity Law: service logs at least six months")
TRANSACTIONS = LegalHold("transactions", 36, "E-commerce Law: transactions at least three years after completion")


@dataclass(frozen=True)
class FieldPolicy:
    """How one field is anonymized."""

    strategy: Strategy
    value: object = None  # REDACT: the replacement
    purpose: str = ""  # PSEUDONYMIZE: the keyed-hash purpose
    hold: LegalHold | None = None  # LEGAL_HOLD: the hold
    after: FieldPolicy | None = None  # LEGAL_HOLD: what happens when the hold ends
    since: str = ""  # LEGAL_HOLD: the date or time field the hold runs from
    note: str = ""

    def __post_init__(self):
        problems = policy_problems(self)
        if problems:
            raise ValueError("; ".join(problems))


def policy_problems(policy: FieldPolicy) -> list[str]:
    """Why a policy is not valid (empty when it is)."""
    problems = []
    if not isinstance(policy.strategy, Strategy):
        problems.append(f"unknown strategy {policy.strategy!r}")
    if policy.strategy is Strategy.REDACT and policy.value is None:
        problems.append("REDACT needs a replacement value (use SET_NULL for NULL)")
    if policy.strategy is Strategy.PSEUDONYMIZE and not policy.purpose:
        problems.append("PSEUDONYMIZE needs a keyed-hash purpose")
    if policy.strategy is Strategy.LEGAL_HOLD:
        if policy.hold is None or not policy.hold.name or policy.hold.months <= 0:
            problems.append("LEGAL_HOLD needs a named hold with a positive period")
        if policy.after is None:
            problems.append("LEGAL_HOLD needs the policy applied when the hold ends (after=)")
        elif policy.after.strategy not in {Strategy.SET_NULL, Strategy.REDACT}:
            problems.append("a hold ends in SET_NULL or REDACT (the retention sweep applies it in place)")
        if not policy.since:
            problems.append("LEGAL_HOLD needs the date or time field the hold runs from (since=)")
        elif policy.after.strategy is Strategy.LEGAL_HOLD:
            problems.append("a hold cannot end in another hold")
    return problems


ANONYMIZED = "已匿名 / anonymized"
SELF = "self"  # ``subject`` of the user model itself: the row is the person

DELETE_ROW = FieldPolicy(Strategy.DELETE_ROW)
SET_NULL = FieldPolicy(Strategy.SET_NULL)
REDACT_BLANK = FieldPolicy(Strategy.REDACT, value="")
REDACT_TEXT = FieldPolicy(Strategy.REDACT, value=ANONYMIZED)
ERASE_FILE = FieldPolicy(Strategy.ERASE_FILE)


def redact(value: object, note: str = "") -> FieldPolicy:
    return FieldPolicy(Strategy.REDACT, value=value, note=note)


def pseudonymize(purpose: str, note: str = "") -> FieldPolicy:
    return FieldPolicy(Strategy.PSEUDONYMIZE, purpose=purpose, note=note)


def legal_hold(hold: LegalHold, after: FieldPolicy, since: str = "", note: str = "") -> FieldPolicy:
    return FieldPolicy(Strategy.LEGAL_HOLD, hold=hold, after=after, since=since, note=note)


_registry: weakref.WeakKeyDictionary[type[models.Model], PersonalData] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class PersonalData:
    """The declaration of one model.

    ``subject``: the lookup path from the model to the person the row is about
    (``"user"``, ``"member__user"``; ``None`` for organization data or when the person
    has no account). ``fields``: each field that can hold personal data, with its policy.
    ``non_personal``: the fields that cannot. ``row``: what happens to the whole row when
    its subject's account is deleted or its organization disbanded (``None``: the row is
    kept and its personal fields anonymized).
    """

    subject: str | None = None
    fields: Mapping[str, FieldPolicy] = field(default_factory=dict)
    non_personal: Iterable[str] = frozenset()
    row: FieldPolicy | None = None
    note: str = ""

    def __post_init__(self):
        object.__setattr__(self, "non_personal", frozenset(self.non_personal))
        object.__setattr__(self, "fields", dict(self.fields))

    def contribute_to_class(self, cls: type[models.Model], name: str) -> None:
        # Django hands class-body attributes with this method to us: the declaration
        # belongs to exactly this class, not to subclasses that inherit the attribute.
        setattr(cls, name, self)
        _registry[cls] = self

    @property
    def declared_names(self) -> set[str]:
        return set(self.fields) | set(self.non_personal)


def declare(model: type[models.Model], declaration: PersonalData) -> PersonalData:
    """Declare a model we do not own (see ``third_party_personal_data``)."""
    _registry[model] = declaration
    return declaration


def declaration_for(model: type[models.Model]) -> PersonalData | None:
    return _registry.get(model._meta.concrete_model or model)


def declared_models() -> list[type[models.Model]]:
    return list(_registry)


def model_field_names(model: type[models.Model]) -> list[str]:
    """The names to declare: concrete fields (foreign keys by ``field.name``) and
    many-to-many fields."""
    opts = model._meta
    return [f.name for f in opts.concrete_fields] + [f.name for f in opts.many_to_many]


def undeclared_fields(model: type[models.Model]) -> list[str]:
    declaration = declaration_for(model)
    declared = declaration.declared_names if declaration else set()
    return [name for name in model_field_names(model) if name not in declared]
