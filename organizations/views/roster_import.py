"""Placeholder until this area is built in this change; every view answers 404."""

from django.http import Http404


def import_upload(request, **kwargs):
    raise Http404


def import_detail(request, **kwargs):
    raise Http404


def import_report(request, **kwargs):
    raise Http404


def roster_export(request, **kwargs):
    raise Http404
