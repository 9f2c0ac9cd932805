"""Placeholder until this area is built in this change; every view answers 404."""

from django.http import Http404


def roster_list(request, **kwargs):
    raise Http404


def member_detail(request, **kwargs):
    raise Http404


def member_edit(request, **kwargs):
    raise Http404


def member_reveal(request, **kwargs):
    raise Http404
