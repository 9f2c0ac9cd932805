"""Placeholder until this area is built in this change; every view answers 404."""

from django.http import Http404


def administrator_list(request, **kwargs):
    raise Http404


def administrator_appoint(request, **kwargs):
    raise Http404


def administrator_edit(request, **kwargs):
    raise Http404


def administrator_remove(request, **kwargs):
    raise Http404
