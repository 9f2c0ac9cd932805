"""Every model field declares whether it holds personal data and how it is anonymized
(ANON-1: nothing left can identify the person; ANON-2 and ANON-3: the disband and
account-deletion cascades reach every personal field; ANON-4: legal holds are named and
timed). A new column that is declared neither way fails here."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.conf import settings
from django.db import models
from django.test.utils import isolate_apps

from dataprotection.fields import EncryptedTextField
from dataprotection.personal_data import (
    REDACT_BLANK,
    SELF,
    SET_NULL,
    FieldPolicy,
    LegalHold,
    PersonalData,
    Strategy,
    declaration_for,
    declared_models,
    legal_hold,
    model_field_names,
    policy_problems,
    undeclared_fields,
)

MODELS = apps.get_models()
HOW_TO = (
    "Declare them in the model's `personal_data = PersonalData(...)` (at the end of the class "
    "body; third-party models: dataprotection/third_party_personal_data.py): personal fields in "
    "`fields={name: policy}` (DELETE_ROW, SET_NULL, REDACT, PSEUDONYMIZE, LEGAL_HOLD, ERASE_FILE), "
    "the others in `non_personal={...}`. See docs/architecture.md, 'Personal-data declarations'."
)


def label(model) -> str:
    return model._meta.label


@pytest.mark.parametrize("model", MODELS, ids=label)
def test_every_field_is_declared(model):
    declaration = declaration_for(model)
    assert declaration is not None, f"{label(model)} has no personal-data declaration. {HOW_TO}"
    missing = undeclared_fields(model)
    assert not missing, f"{label(model)}: undeclared fields {missing}. {HOW_TO}"


@pytest.mark.parametrize("model", MODELS, ids=label)
def test_declared_names_are_fields_and_declared_once(model):
    declaration = declaration_for(model)
    assert declaration is not None
    unknown = sorted(declaration.declared_names - set(model_field_names(model)))
    assert not unknown, f"{label(model)} declares names that are not fields: {unknown}"
    both = sorted(set(declaration.fields) & declaration.non_personal)
    assert not both, f"{label(model)} declares {both} both personal and non-personal"


@pytest.mark.parametrize("model", MODELS, ids=label)
def test_policies_are_valid(model):
    declaration = declaration_for(model)
    assert declaration is not None
    policies = dict(declaration.fields)
    if declaration.row is not None:
        policies["<row>"] = declaration.row
    for name, policy in policies.items():
        assert isinstance(policy, FieldPolicy), f"{label(model)}.{name}: {policy!r} is not a FieldPolicy"
        assert not policy_problems(policy), f"{label(model)}.{name}: {policy_problems(policy)}"
        final = policy.after if policy.strategy is Strategy.LEGAL_HOLD else policy
        if policy.strategy is Strategy.LEGAL_HOLD:
            # ANON-4: the retention sweep counts the hold from this field.
            since = model._meta.get_field(policy.since)
            assert isinstance(since, models.DateField), f"{label(model)}.{name}: since={policy.since!r} is no date"
        if final.strategy is Strategy.SET_NULL and name != "<row>":
            assert model._meta.get_field(name).null, f"{label(model)}.{name} is SET_NULL but not nullable"
    assert declaration.row is None or declaration.row.strategy is Strategy.DELETE_ROW


@pytest.mark.parametrize("model", MODELS, ids=label)
def test_subject_path_leads_to_a_person(model):
    subject = declaration_for(model).subject
    if subject is None:
        return
    if subject == SELF:
        assert model._meta.label == settings.AUTH_USER_MODEL
        return
    current = model
    for part in subject.split("__"):
        current = current._meta.get_field(part).related_model
        assert current is not None, f"{label(model)}: subject {subject!r} does not follow relations"
    assert current._meta.label == settings.AUTH_USER_MODEL, f"{label(model)}: {subject!r} ends at {current}"


def test_every_encrypted_field_is_declared_personal():
    checked = 0
    for model in MODELS:
        declaration = declaration_for(model)
        for field in model._meta.concrete_fields:
            if isinstance(field, EncryptedTextField):
                checked += 1
                message = f"{label(model)}.{field.name} is encrypted: declare it personal"
                assert field.name in declaration.fields, message
                assert field.name not in declaration.non_personal
    assert checked >= 10


def test_declarations_cover_the_installed_models():
    assert set(MODELS) <= set(declared_models())


def test_an_undeclared_field_is_reported():
    """The check has teeth: a new column without a declaration is caught by name."""
    with isolate_apps("dataprotection"):

        class Probe(models.Model):  # noqa: DJ008
            nickname = models.CharField(max_length=20)
            favourite_colour = models.CharField(max_length=20)
            notes = EncryptedTextField(purpose="test.probe.notes", blank=True)

            personal_data = PersonalData(fields={"nickname": REDACT_BLANK}, non_personal={"id"})

            class Meta:
                app_label = "dataprotection"

        class Undeclared(models.Model):  # noqa: DJ008
            owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)

            class Meta:
                app_label = "dataprotection"

        class Subclass(Probe):  # noqa: DJ008
            extra = models.CharField(max_length=20)

            class Meta:
                app_label = "dataprotection"

    assert declaration_for(Probe).fields == {"nickname": REDACT_BLANK}
    assert undeclared_fields(Probe) == ["favourite_colour", "notes"]
    assert declaration_for(Undeclared) is None
    assert undeclared_fields(Undeclared) == ["id", "owner"]
    # An inherited attribute is not a declaration: the subclass's columns need their own.
    assert declaration_for(Subclass) is None
    assert "extra" in undeclared_fields(Subclass)


def test_invalid_policies_are_refused():
    with pytest.raises(ValueError, match="REDACT needs a replacement"):
        FieldPolicy(Strategy.REDACT)
    with pytest.raises(ValueError, match="positive period"):
        legal_hold(LegalHold("service-logs", 0), after=SET_NULL)
    with pytest.raises(ValueError, match="named hold"):
        legal_hold(LegalHold("", 6), after=SET_NULL)
    with pytest.raises(ValueError, match="after="):
        FieldPolicy(Strategy.LEGAL_HOLD, hold=LegalHold("transactions", 36))
    with pytest.raises(ValueError, match="keyed-hash purpose"):
        FieldPolicy(Strategy.PSEUDONYMIZE)
