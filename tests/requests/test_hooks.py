"""``requests.hooks.connect`` (called once by ``RequestsConfig.ready``) fills every
registry of the lower layers that the requests app needs, and calling it again changes
nothing."""

from __future__ import annotations

from dataprotection import anonymization, liveness, rotation
from dataprotection.models import JobKind
from organizations.services import disband
from requests import hooks
from requests.models import AGENT_PROOF_FILE_PURPOSE, EVIDENCE_FILE_PURPOSE
from requests.services import fulfilment, workflow
from requests.services.exporting import EXPORT_PURPOSE


def registries() -> tuple:
    return (
        rotation.file_columns(),
        {kind.key for kind in liveness.kinds()},
        set(disband.NOT_ORGANIZATION_DATA),
        {kind: list(planners) for kind, planners in anonymization._planners.items()},
        {kind: list(finishers) for kind, finishers in anonymization._finishers.items()},
    )


def test_the_registries_after_setup_and_again():
    """SEC-5, REQ-5, REQ-7, REQ-8, ORG-11: what the app registers at setup."""
    after_setup = registries()
    files, recoverable, kept, planners, finishers = after_setup
    assert files["requests.DataSubjectRequest"] == {
        "evidence": (EVIDENCE_FILE_PURPOSE,),
        "agent_proof": (AGENT_PROOF_FILE_PURPOSE,),
    }
    assert files["requests.ExportArchive"] == {"stored_file": (EXPORT_PURPOSE,)}
    assert "export_archive" in recoverable
    assert "requests.DataSubjectRequest" in kept
    assert workflow.hand_over_on_disband in finishers[JobKind.DISBAND]
    assert fulfilment.plan_member_erasure in planners[JobKind.MEMBER_ERASURE]
    assert fulfilment.plan_person_requests in planners[JobKind.ACCOUNT_DELETION]
    assert fulfilment.finish_request_deletion in finishers[JobKind.ACCOUNT_DELETION]
    hooks.connect()
    assert registries() == after_setup
