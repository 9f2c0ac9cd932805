"""Placeholder until this area is built in this change; every view answers 404."""

from django.http import Http404


def invitation_answer(request, **kwargs):
    raise Http404


def invitation_list(request, **kwargs):
    raise Http404


def member_invite(request, **kwargs):
    raise Http404
