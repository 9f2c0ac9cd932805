"""organizations fills the registries of the layers below it from one place,
``organizations.hooks.connect()`` (run by ``OrganizationsConfig.ready``); a second call
registers nothing twice."""

from __future__ import annotations

import pytest

from accounts.api import tokens
from accounts.services import deletion, two_factor
from accounts.services import profile as profile_policy
from dataprotection import anonymization, audit, liveness, rotation
from dataprotection.models import JobKind
from organizations import hooks
from organizations.selectors import dedicated_edition_locks
from organizations.services import disband, registration, retention, security
from organizations.services.incidents import plan_incident_rows_of_person
from organizations.services.roster_import import jobs as import_jobs
from tests.factories import AdministratorFactory, OrganizationFactory, UserFactory


def registrations() -> list[int]:
    """How often each of organizations' functions sits in its registry."""
    planners, finishers = anonymization._planners, anonymization._finishers
    return [
        profile_policy._providers.count(dedicated_edition_locks),  # ACC-6
        tokens._organization_checks.count(hooks.administers),
        two_factor._providers.count(security.admin_needs_second_factor),  # SEC-1
        planners[JobKind.DISBAND].count(disband.plan_disband),  # ORG-11
        finishers[JobKind.DISBAND].count(disband.finish_disband),
        planners[JobKind.ACCOUNT_DELETION].count(disband.plan_member_records_of_person),  # ACC-5
        planners[JobKind.ACCOUNT_DELETION].count(plan_incident_rows_of_person),  # SEC-4
        deletion._blockers.count(disband.owner_must_hand_over),  # ORG-12
        planners[JobKind.RETENTION].count(retention.plan_retention),  # ANON-5
        finishers[JobKind.RETENTION].count(retention.finish_retention),  # ANON-6
        audit._organization_namers.count(hooks.organization_names),  # SEC-2
    ]


def test_setup_fills_every_registry_once_and_connecting_again_changes_nothing():
    assert registrations() == [1] * 11
    hooks.connect()
    assert registrations() == [1] * 11


def test_encrypted_file_columns_and_the_recoverable_import_are_registered():
    # SEC-5: key rotation finds every column naming an encrypted file.
    columns = rotation.file_columns()
    purpose = registration.CERTIFICATION_FILE_PURPOSE
    assert columns["organizations.Certification"] == {
        "business_licence": (purpose,),
        "certification_letter": (purpose,),
    }
    assert columns["organizations.RosterImport"] == {
        "file_ref": (import_jobs.FILE_PURPOSE, import_jobs.PLAN_PURPOSE),
        "report_ref": (import_jobs.REPORT_PURPOSE,),
    }
    # ORG-7: the recovery sweep takes up imports whose worker died.
    (kind,) = [kind for kind in liveness.kinds() if kind.key == "roster_import"]
    assert kind.enqueue == import_jobs.resume
    assert kind.needs_worker == import_jobs.needs_worker


@pytest.mark.django_db
def test_a_token_is_restricted_only_to_an_organization_its_person_administers():
    administrator = AdministratorFactory()
    organization = administrator.organization
    assert tokens.administers(administrator.user, organization.pk)
    assert not tokens.administers(UserFactory(), organization.pk)
    assert not tokens.administers(administrator.user, OrganizationFactory().pk)
