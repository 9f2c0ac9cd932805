"""Serializers that refuse what they do not know (issue 7, bad input): a field the
endpoint does not take is a 400 naming it, never silently dropped, so a typo in an
integration does not look like success."""

from __future__ import annotations

from django.utils.translation import gettext as _
from rest_framework import serializers


class StrictFieldsMixin:
    def to_internal_value(self, data):
        if isinstance(data, dict):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            unknown = sorted(set(data) - writable)
            if unknown:
                raise serializers.ValidationError({name: [_("This field is not accepted here.")] for name in unknown})
        elif not isinstance(data, dict) and not getattr(self, "many", False):
            raise serializers.ValidationError({"non_field_errors": [_("Send a JSON object.")]})
        return super().to_internal_value(data)


class StrictSerializer(StrictFieldsMixin, serializers.Serializer):
    pass


class StrictModelSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    pass
