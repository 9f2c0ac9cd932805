from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RequestsConfig(AppConfig):
    name = "requests"
    verbose_name = _("Data-subject requests")

    def ready(self):
        # This app shadows the PyPI "requests" library on purpose. Django REST framework
        # imports "requests" as an optional extra and would take this app for it; tell
        # it the library is absent, before anything imports rest_framework.test.
        from rest_framework import compat

        compat.requests = None

        from requests import hooks

        hooks.connect()
