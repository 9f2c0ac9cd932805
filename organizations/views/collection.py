"""Placeholder until this area is built in this change; every view answers 404."""

from django.http import Http404


def collection_settings(request, **kwargs):
    raise Http404
