"""Where the requests app fills the registries of the layers below it
(``AppConfig.ready`` calls ``connect`` once, at setup)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from dataprotection import anonymization, liveness
from dataprotection.models import JobKind
from dataprotection.rotation import register_file_column
from organizations.services import disband
from organizations.services.demo_data.journeys import register_demo_step
from requests.models import AGENT_PROOF_FILE_PURPOSE, EVIDENCE_FILE_PURPOSE, ExportArchive
from requests.services import demo_data, fulfilment, workflow
from requests.services.exporting import EXPORT_PURPOSE
from requests.tasks import exports as export_tasks


def connect() -> None:
    # SEC-5: the columns naming encrypted files, for key rotation.
    register_file_column("requests.DataSubjectRequest", "evidence", EVIDENCE_FILE_PURPOSE)
    register_file_column("requests.DataSubjectRequest", "agent_proof", AGENT_PROOF_FILE_PURPOSE)
    register_file_column("requests.ExportArchive", "stored_file", EXPORT_PURPOSE)

    # A person's request stays theirs when the organization it was filed with is
    # disbanded; the workflow hands its open requests to operations staff instead.
    disband.keep_on_disband("requests.DataSubjectRequest")
    anonymization.register_kind(JobKind.DISBAND, finisher=workflow.hand_over_on_disband)
    # REQ-8: deletion requests run on the anonymization engine and complete with it.
    anonymization.register_kind(
        JobKind.MEMBER_ERASURE, fulfilment.plan_member_erasure, fulfilment.finish_request_deletion
    )
    anonymization.register_kind(
        JobKind.ACCOUNT_DELETION, fulfilment.plan_person_requests, fulfilment.finish_request_deletion
    )

    # REQ-7: archives whose builder died or whose message was lost are built again.
    liveness.register(
        liveness.RecoverableKind(
            key="export_archive",
            label=_("Export archives"),
            model=ExportArchive,
            needs_worker=export_tasks.needs_worker,
            enqueue=export_tasks.resume,
        )
    )

    # seed_demo: a request waiting for the operations request handler.
    register_demo_step("request_for_operations", demo_data.ensure_demo_request, reset=demo_data.forget_demo_requests)
