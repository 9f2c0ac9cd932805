"""Placeholder until this area is built in this change; every view answers 404."""

from django.http import Http404


def department_tree(request, **kwargs):
    raise Http404


def department_create(request, **kwargs):
    raise Http404


def department_edit(request, **kwargs):
    raise Http404


def department_delete(request, **kwargs):
    raise Http404
