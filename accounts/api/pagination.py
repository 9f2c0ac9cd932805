"""Pagination for list endpoints (issue 7): pages for small lists, an opaque cursor on
the primary key for large ones (a roster of 100,000 members), so a page costs the same
at the end as at the start. A malformed cursor is a 400 with a clear message."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, pagination


class PagePagination(pagination.PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class IdCursorPagination(pagination.CursorPagination):
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = "id"
    invalid_cursor_message = _("The cursor is not valid: use the next or previous link of an earlier page.")

    def decode_cursor(self, request):
        try:
            return super().decode_cursor(request)
        except exceptions.NotFound as exc:
            raise exceptions.ValidationError({"cursor": [self.invalid_cursor_message]}) from exc
