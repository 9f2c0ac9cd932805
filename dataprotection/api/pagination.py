"""Pagination for list endpoints: pages for small lists, an opaque cursor on
the primary key for large ones (a roster of 100,000 members), so a page costs the same
at the end as at the start. Pagination parameters are taken strictly, as the schema
states them: a malformed page, page size or cursor is a 400 naming it (DRF would fall
back to a default silently), a page after the last one a 404."""

from __future__ import annotations

from base64 import b64decode
from urllib import parse

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, pagination


def single_parameter(request, name: str) -> str | None:
    """The parameter's one value, None if absent; sent twice is a 400 naming it."""
    values = request.query_params.getlist(name)
    if len(values) > 1:
        raise exceptions.ValidationError({name: [_("Send this parameter once.")]})
    return values[0] if values else None


def whole_number_parameter(request, name: str, *, maximum: int | None = None) -> int | None:
    """The parameter as a whole number from 1 (to ``maximum``), None if absent; anything
    else is a 400 naming the parameter."""
    value = single_parameter(request, name)
    if value is None:
        return None
    try:
        number = int(value) if value.isascii() and value.isdigit() else 0
    except ValueError:
        number = 0
    if number < 1 or (maximum is not None and number > maximum):
        message = (
            _("Send a whole number from 1 to %(maximum)d.") % {"maximum": maximum}
            if maximum
            else _("Send a whole number from 1.")
        )
        raise exceptions.ValidationError({name: [message]})
    return number


def _document(parameters: list[dict], limits: dict[str, int | None]) -> list[dict]:
    for parameter in parameters:
        if parameter["name"] in limits:
            schema = {**parameter["schema"], "type": "integer", "minimum": 1}
            if limits[parameter["name"]]:
                schema["maximum"] = limits[parameter["name"]]
            parameter["schema"] = schema
    return parameters


class PagePagination(pagination.PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    last_page_strings = ()  # the schema says a number: "last" is not one

    def get_page_number(self, request, paginator):
        return whole_number_parameter(request, self.page_query_param) or 1

    def get_page_size(self, request):
        return whole_number_parameter(request, self.page_size_query_param, maximum=self.max_page_size) or self.page_size

    def get_schema_operation_parameters(self, view):
        return _document(
            super().get_schema_operation_parameters(view),
            {self.page_query_param: None, self.page_size_query_param: self.max_page_size},
        )


class IdCursorPagination(pagination.CursorPagination):
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = "id"
    invalid_cursor_message = _("The cursor is not valid: use the next or previous link of an earlier page.")

    def get_page_size(self, request):
        return whole_number_parameter(request, self.page_size_query_param, maximum=self.max_page_size) or self.page_size

    def get_schema_operation_parameters(self, view):
        return _document(
            super().get_schema_operation_parameters(view), {self.page_size_query_param: self.max_page_size}
        )

    def paginate_queryset(self, queryset, request, view=None):
        self.model = queryset.model  # decode_cursor checks the position against it
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request):
        encoded = single_parameter(request, self.cursor_query_param)
        try:
            cursor = super().decode_cursor(request)
            if encoded is not None:
                # DRF reads any base64 text as "the first page"; only what it issued is
                # a cursor: the known keys, and a position of the ordering field's type
                # (a text position on an integer id would be a 500 in the query).
                tokens = parse.parse_qs(b64decode(encoded.encode("ascii")).decode("ascii"), keep_blank_values=True)
                if not tokens or set(tokens) - {"o", "r", "p"}:
                    raise exceptions.NotFound
                if cursor.position is not None:
                    self._ordering_field().to_python(cursor.position)
        except (exceptions.NotFound, DjangoValidationError, ValueError, TypeError) as exc:
            raise exceptions.ValidationError({"cursor": [self.invalid_cursor_message]}) from exc
        return cursor

    def _ordering_field(self):
        ordering = self.ordering if isinstance(self.ordering, str) else self.ordering[0]
        name = ordering.lstrip("-")
        meta = self.model._meta
        return meta.pk if name == "pk" else meta.get_field(name)
