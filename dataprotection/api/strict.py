"""Serializers that refuse what they do not know (bad input): a field the
endpoint does not take is a 400 naming it, never silently dropped, so a typo in an
integration does not look like success.

They also take JSON types at their word, as the OpenAPI schema states them: DRF would
read ``0`` as the text "0", ``"12"`` as the number 12 and ``"yes"`` as true; here a
text field wants a JSON string, a number field a JSON number (without a fraction for
whole numbers, and within the database's 64-bit range), a true/false field a JSON
boolean, a list field a JSON array. Otherwise an integration's bug would pass unseen,
and an id beyond 64 bits would reach the database as a 500."""

from __future__ import annotations

from django.utils.translation import gettext as _
from rest_framework import relations, serializers

INT64_MAX = 2**63 - 1


def _is_whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def type_error(field, value) -> str | None:
    """Why ``value`` (parsed JSON) is not of ``field``'s JSON type, or None."""
    if value is None:
        return None  # allow_null / required are the field's own business
    if isinstance(field, serializers.BooleanField):
        return None if isinstance(value, bool) else _("Send true or false.")
    if isinstance(field, serializers.IntegerField | relations.PrimaryKeyRelatedField):
        if isinstance(field, relations.PrimaryKeyRelatedField) and field.pk_field is not None:
            return None
        if not _is_whole(value):
            return _("Send a whole number.")
        if abs(value) > INT64_MAX:
            return _("This number is too large.")
        return None
    if isinstance(field, serializers.FloatField | serializers.DecimalField):
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            return _("Send a number.")
        if isinstance(value, int) and abs(value) > INT64_MAX:
            return _("This number is too large.")
        return None
    if isinstance(field, serializers.ChoiceField):
        if isinstance(field, serializers.MultipleChoiceField):
            return None if isinstance(value, list) else _("Send a list.")
        keys = list(field.choices)
        if keys and all(isinstance(key, str) for key in keys) and not isinstance(value, str):
            return _("Send one of the listed values as text.")
        return None
    if isinstance(
        field,
        serializers.CharField
        | serializers.DateField
        | serializers.DateTimeField
        | serializers.TimeField
        | serializers.UUIDField,
    ):
        return None if isinstance(value, str) else _("Send text.")
    if isinstance(field, serializers.ListField | serializers.ListSerializer | relations.ManyRelatedField):
        if not isinstance(value, list):
            return _("Send a list.")
        child = getattr(field, "child", None) or getattr(field, "child_relation", None)
        if child is not None and not isinstance(child, serializers.BaseSerializer):
            for item in value:
                problem = type_error(child, item)
                if problem:
                    return problem
        return None
    if isinstance(field, serializers.DictField | serializers.HStoreField):
        if not isinstance(value, dict):
            return _("Send an object.")
        child = getattr(field, "child", None)
        if child is not None:
            for item in value.values():
                problem = type_error(child, item)
                if problem:
                    return problem
        return None
    if isinstance(field, serializers.Serializer) and not isinstance(value, dict):
        return _("Send an object.")
    return None


class StrictFieldsMixin:
    def to_internal_value(self, data):
        if isinstance(data, dict):
            writable = {name: field for name, field in self.fields.items() if not field.read_only}
            unknown = sorted(set(data) - set(writable))
            if unknown:
                raise serializers.ValidationError({name: [_("This field is not accepted here.")] for name in unknown})
            wrong = {}
            for name, value in data.items():
                problem = type_error(writable[name], value)
                if problem:
                    wrong[name] = [problem]
            if wrong:
                # Report the other fields' problems too, in one answer.
                try:
                    super().to_internal_value({name: value for name, value in data.items() if name not in wrong})
                except serializers.ValidationError as exc:
                    if isinstance(exc.detail, dict):
                        for name, messages in exc.detail.items():
                            wrong.setdefault(name, messages)
                raise serializers.ValidationError(wrong)
        elif not getattr(self, "many", False):
            raise serializers.ValidationError({"non_field_errors": [_("Send a JSON object.")]})
        return super().to_internal_value(data)


class StrictSerializer(StrictFieldsMixin, serializers.Serializer):
    pass


class StrictModelSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    pass
