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

        from dataprotection import anonymization
        from dataprotection.models import JobKind
        from dataprotection.rotation import register_file_column
        from organizations.services import disband
        from requests.services import filing, fulfilment, workflow

        # SEC-5: the columns naming encrypted files, for key rotation.
        register_file_column("requests.DataSubjectRequest", "evidence", filing.EVIDENCE_FILE_PURPOSE)
        register_file_column("requests.DataSubjectRequest", "agent_proof", filing.AGENT_PROOF_FILE_PURPOSE)
        register_file_column("requests.ExportArchive", "stored_file", fulfilment.EXPORT_PURPOSE)

        # A person's request stays theirs when the organization it was filed with is
        # disbanded; the workflow hands its open requests to operations staff instead.
        disband.keep_on_disband("requests.DataSubjectRequest")
        anonymization.register_kind(JobKind.DISBAND, finisher=workflow.hand_over_on_disband)
        # REQ-8: deletion requests run on the anonymization engine and complete with it.
        fulfilment.register()

        from dataprotection import liveness
        from requests import tasks_exports
        from requests.models import ExportArchive

        # REQ-7: archives whose builder died or whose message was lost are built again.
        liveness.register(
            liveness.RecoverableKind(
                key="export_archive",
                label=_("Export archives"),
                model=ExportArchive,
                needs_worker=tasks_exports.needs_worker,
                enqueue=tasks_exports.resume,
            )
        )

        from organizations.services.demo_data.journeys import register_demo_step
        from requests.services import demo_data

        # seed_demo: a request waiting for the operations request handler.
        register_demo_step(
            "request_for_operations", demo_data.ensure_demo_request, reset=demo_data.forget_demo_requests
        )
