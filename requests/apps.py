from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RequestsConfig(AppConfig):
    name = "requests"
    verbose_name = _("Data-subject requests")

    def ready(self):
        from organizations.services import disband

        # A person's request stays theirs when the organization it was filed with is
        # disbanded; the workflow hands its open requests to operations staff instead.
        disband.keep_on_disband("requests.DataSubjectRequest")
