"""The columns a roster file may have (ORG-5, ORG-7, ORG-10): the importable fields,
their labels and the header texts that name them, the template's column order, and how a
sensitive value is masked when a report or a page shows it. Pure code, no database.

A header names a column by model field name (``employee_number``), by the field's label
in English or Chinese ("Employee number", "工号"), or ``department`` / "部门" for a
department path such as "Sales/Sales East".
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from django.utils import translation

from dataprotection import deferred_text
from dataprotection.deferred_text import DeferredText
from dataprotection.masking import mask_bank_card, mask_id_number, mask_middle, mask_phone
from organizations.models import Degree, Department, LaborContractStatus, Member
from organizations.models.children import AGE_FIELD
from organizations.services.collection import ALWAYS_COLLECTED, CATALOG, SENSITIVE_FIELDS

DEPARTMENT = "department"


# Fields an import may fill: the always-collected ones and the catalog, except the
# student photo, which is a reference to a stored image, not a value to type in.
# SEC-3: the birthday column is optional and always accepted (the age check).
IMPORTABLE_FIELDS: tuple[str, ...] = (
    *ALWAYS_COLLECTED,
    AGE_FIELD,
    *(f.name for f in CATALOG if f.name != "student_photo_ref"),
)


# Sensitive fields (ORG-10) a row may only fill for members the uploader may see them
# of. The mobile number is exempt: it is required on every row, it is the person's
# joining key and the key of the upsert, and it is never shown in clear by an import.
GUARDED_FIELDS = frozenset(SENSITIVE_FIELDS) - {"mobile"}


CHOICE_FIELDS = {"labor_contract_status": LaborContractStatus, "degree": Degree}


EMAIL_FIELDS = frozenset({"office_email", "personal_email"})


TEXT_LIMITS = {"home_address": 200, "emergency_contact_phone": 32}  # encrypted text columns have no max_length


def field_label(name: str) -> str:
    if name == DEPARTMENT:
        return str(Department._meta.verbose_name)
    return str(Member._meta.get_field(name).verbose_name)


def field_label_text(name: str) -> DeferredText:
    """``field_label`` kept for later: rendered in the language of whoever reads it."""
    if name == DEPARTMENT:
        return deferred_text.label(Department._meta.verbose_name)
    return deferred_text.label(Member._meta.get_field(name).verbose_name)


@lru_cache(maxsize=1)
def header_aliases() -> dict[str, str]:
    """Normalized header text -> field name: field names and the English and Chinese
    labels. A label two fields share would be ambiguous and is left out."""
    aliases: dict[str, str] = {}
    ambiguous: set[str] = set()
    names = (*IMPORTABLE_FIELDS, DEPARTMENT)
    for name in names:
        aliases[normalize_header(name)] = name
    for language in ("en", "zh-hans"):
        with translation.override(language):
            for name in names:
                key = normalize_header(field_label(name))
                if aliases.get(key, name) != name:
                    ambiguous.add(key)
                aliases.setdefault(key, name)
    for key in ambiguous:
        aliases.pop(key, None)
    return aliases


@lru_cache(maxsize=1)
def choice_lookup() -> dict[str, dict[str, str]]:
    """Choice field -> {normalized value or English/Chinese label: stored value}."""
    lookup: dict[str, dict[str, str]] = {}
    for name, choices in CHOICE_FIELDS.items():
        table: dict[str, str] = {}
        for value, label in choices.choices:
            table[value.casefold()] = value
            for language in ("en", "zh-hans"):
                with translation.override(language):
                    table[" ".join(str(label).split()).casefold()] = value
        lookup[name] = table
    return lookup


def normalize_header(text: str) -> str:
    return " ".join(str(text).replace("\ufeff", "").replace("*", " ").split()).casefold()


def template_columns(collected: Iterable[str]) -> list[str]:
    """The fields of a template file for an organization: name, mobile, department,
    then every other importable field it collects, in catalog order."""
    collected = set(collected)
    return ["name", "mobile", DEPARTMENT] + [
        name for name in IMPORTABLE_FIELDS if name not in ALWAYS_COLLECTED and name in collected
    ]


def mask_value(name: str | None, value: str) -> str:
    """A cell as the report may show it: sensitive columns masked (ORG-10)."""
    if name not in SENSITIVE_FIELDS or not value:
        return value
    compact = value.replace(" ", "").replace("-", "")
    if name == "mobile":
        return mask_phone(compact) if compact.startswith("+") else mask_middle(compact, 3, 4)
    if name == "id_number":
        return mask_id_number(compact)
    if name == "bank_card":
        return mask_bank_card(compact)
    if name == "emergency_contact_phone":
        return mask_middle(compact, 3, 2)
    return mask_middle(value, 2, 0)
