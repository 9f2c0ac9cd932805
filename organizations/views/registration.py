"""Placeholder until this area is built in this change; every view answers 404."""

from django.http import Http404


def organization_list(request, **kwargs):
    raise Http404


def register_organization(request, **kwargs):
    raise Http404


def dashboard(request, **kwargs):
    raise Http404


def certification(request, **kwargs):
    raise Http404


def transfer_ownership(request, **kwargs):
    raise Http404
