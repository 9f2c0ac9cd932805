"""Human labels of the audit trail's action codes (SEC-2).

The trail stores codes (``member.revealed``); people read labels, in their language:
the organization's audit log, "who accessed my data" and the operations console show
``action_label(code)``. Every code the services record has a label here
(``tests/dataprotection/test_audit_labels.py`` finds them in the source); a code without
one still reads as a sentence -- the label of its domain -- never as the raw code.
"""

from __future__ import annotations

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

ACTION_LABELS = {
    # accounts
    "account.registered": _("Account registered"),
    "account.signed_in": _("Signed in"),
    "account.reauthenticated": _("Identity confirmed again"),
    "account.password_changed": _("Password changed"),
    "account.password_reset": _("Password reset"),
    "account.locked_out": _("Account locked after failed sign-ins"),
    "account.deletion_requested": _("Account deletion requested"),
    "account.deletion_cancelled": _("Account deletion cancelled"),
    "account.deleted": _("Account deleted"),
    "sign_in.address_locked": _("Network address locked after failed sign-ins"),
    "profile.updated": _("Profile updated"),
    "identity.submitted": _("Real-person authentication submitted"),
    "identity.removed": _("Real-person authentication removed"),
    "api_token.created": _("API token created"),
    "api_token.revoked": _("API token revoked"),
    "two_factor.enabled": _("Two-factor authentication turned on"),
    "two_factor.replaced": _("Authenticator app replaced"),
    "two_factor.verified": _("Second factor verified"),
    "two_factor.recovery_code_used": _("Recovery code used"),
    "two_factor.recovery_codes_regenerated": _("New recovery codes created"),
    "two_factor.disabled": _("Two-factor authentication turned off"),
    # organizations
    "organization.registered": _("Organization registered"),
    "organization.ownership_transferred": _("Ownership transferred"),
    "organization.retention_changed": _("Retention settings changed"),
    "organization.two_factor_requirement_changed": _("Two-factor requirement for administrators changed"),
    "organization.disband_requested": _("Disband requested"),
    "organization.disband_cancelled": _("Disband cancelled"),
    "organization.disbanded": _("Organization disbanded"),
    "residency.organization_refused": _("Registration refused: data region"),
    "certification.submitted": _("Certification submitted"),
    "certification.approved": _("Certification approved"),
    "certification.rejected": _("Certification rejected"),
    "certification.file_viewed": _("Certification document viewed"),
    "certification.revealed": _("Certification value revealed"),
    "collection.updated": _("Data collection settings changed"),
    "department.created": _("Department created"),
    "department.updated": _("Department changed"),
    "department.deleted": _("Department deleted"),
    "administrator.appointed": _("Administrator appointed"),
    "administrator.rights_changed": _("Administrator rights changed"),
    "administrator.removed": _("Administrator removed"),
    "invitation.sent": _("Invitation sent"),
    "invitation.revoked": _("Invitation withdrawn"),
    "invitation.accepted": _("Invitation accepted"),
    "invitation.declined": _("Invitation declined"),
    "member.updated": _("Roster entry changed"),
    "member.revealed": _("Sensitive field revealed"),
    "member.viewed": _("Roster entry viewed"),
    "member.face_templates_erased": _("Face recognition templates erased"),
    "roster.upserted": _("Roster entry added or updated by an integration"),
    "roster.import_uploaded": _("Roster file uploaded"),
    "roster.import_discarded": _("Roster file discarded"),
    "roster.import_report_downloaded": _("Import error report downloaded"),
    "roster.imported": _("Roster imported"),
    "roster.exported": _("Roster exported"),
    "roster.members_moved": _("Members moved to a department"),
    "roster.members_removed": _("Members removed from the roster"),
    "roster.selection_exported": _("Selected members exported"),
    "child.viewed": _("Child's record viewed"),
    "child.guardian_consent_recorded": _("Guardian's consent recorded"),
    "child.guardian_consent_withdrawn": _("Guardian's consent withdrawn"),
    "children.settings_changed": _("Children's data settings changed"),
    "child.disclosed": _("Child's entry disclosed to a service provider"),
    "child.sharing_allowed": _("Child's entry allowed for a service"),
    "child.sharing_withdrawn": _("Child's entry withdrawn from a service"),
    "children.withheld": _("Children's entries withheld from a service provider"),
    "incident.registered": _("Security incident registered"),
    "incident.updated": _("Security incident updated"),
    "incident.notices_sent": _("Security incident notices sent"),
    "incident.notices_read": _("Security incident notices read"),
    "incident.report_exported": _("Security incident report exported"),
    "service.shutdown_announced": _("Service shutdown announced"),
    "service.shutdown_cancelled": _("Service shutdown cancelled"),
    "service.shutdown_done": _("Service shutdown carried out"),
    "demo.seeded": _("Demo data created"),
    "demo.reset": _("Demo data reset"),
    "demo.journeys_prepared": _("Demo prepared for every role's journey"),
    # consent
    "consent.granted": _("Consent given"),
    "consent.withdrawn": _("Consent withdrawn"),
    "consent.contacts_matched": _("Contacts matched"),
    "privacy.findable_by_phone_changed": _("Discoverability by phone number changed"),
    "privacy.device_permissions_changed": _("Device permissions changed"),
    "policy.draft_created": _("Privacy policy draft created"),
    "policy.draft_changed": _("Privacy policy draft changed"),
    "policy.text_saved": _("Privacy policy text saved"),
    "policy.text_deleted": _("Privacy policy text deleted"),
    "policy.published": _("Privacy policy published"),
    "policy.acknowledged": _("Privacy policy acknowledged"),
    "service.catalog_added": _("Service added to the catalog"),
    "service.catalog_changed": _("Service changed in the catalog"),
    "service.opened": _("Service opened"),
    "service.scopes_confirmed": _("Service's data scopes confirmed"),
    "service.closed": _("Service closed"),
    "service.token_issued": _("Provider token issued"),
    "service.deletion_notice_queued": _("Deletion notice queued"),
    "service.deletion_notice_acknowledged": _("Deletion notice acknowledged"),
    "service.deletion_notices_retried": _("Deletion notices retried"),
    "mini_program.authorized": _("Mini-program authorized"),
    "mini_program.revoked": _("Mini-program authorization revoked"),
    "cross_border.consented": _("Consent to a cross-border transfer given"),
    "cross_border.transferred": _("Data transferred across the border"),
    "cross_border.withheld": _("Cross-border transfer withheld"),
    "cross_border.refused": _("Cross-border transfer refused"),
    # requests
    "request.filed": _("Request filed"),
    "request.escalated": _("Request escalated"),
    "request.received": _("Request received"),
    "request.verifying": _("Request being verified"),
    "request.in_progress": _("Request in progress"),
    "request.paused": _("Request paused"),
    "request.resumed": _("Request resumed"),
    "request.extended": _("Request deadline extended"),
    "request.completed": _("Request completed"),
    "request.refused": _("Request refused"),
    "request.withdrawn": _("Request withdrawn"),
    "request.assigned": _("Request assigned"),
    "request.handed_over": _("Request handed over"),
    "request.reminded": _("Reminder about a request sent"),
    "request.note": _("Internal note added to a request"),
    "request.message": _("Message sent about a request"),
    "request.details_viewed": _("Request details viewed"),
    "request.evidence_viewed": _("Request evidence viewed"),
    "request.correction_applied": _("Correction applied"),
    "request.deletion_started": _("Deletion started"),
    "request.export_started": _("Copy of the data being prepared"),
    "request.export_ready": _("Copy of the data ready"),
    "request.export_downloaded": _("Copy of the data downloaded"),
    "request.export_expired": _("Expired copy of the data deleted"),
    "requests.holidays_loaded": _("Public holidays loaded"),
    "automated_decision.made": _("Automated decision made"),
    # operations
    "console.value_revealed": _("Hidden value revealed in the console"),
    "anonymization.job_retried": _("Anonymization job retried"),
    "audit_chain.verification_requested": _("Audit trail verification requested"),
    "audit_chain.verification_failed": _("Audit trail verification failed"),
    "staff_roles.synced": _("Staff roles synchronized"),
}

# What a code without its own label reads as: the label of its domain (before the dot).
DOMAIN_LABELS = {
    "account": _("Account action"),
    "administrator": _("Administrator change"),
    "certification": _("Certification action"),
    "child": _("Action on a child's record"),
    "consent": _("Consent action"),
    "department": _("Department change"),
    "invitation": _("Invitation action"),
    "member": _("Action on a roster entry"),
    "organization": _("Organization action"),
    "policy": _("Privacy policy action"),
    "request": _("Action on a request"),
    "roster": _("Roster action"),
    "service": _("Service action"),
    "two_factor": _("Two-factor authentication action"),
}
OTHER_ACTION = _("Other recorded action")


def action_label(code: str) -> str:
    """The label of ``code`` in the active language; never the code itself."""
    label = ACTION_LABELS.get(code) or DOMAIN_LABELS.get(code.partition(".")[0], OTHER_ACTION)
    return str(label)


def field_label(target_type: str, name: str) -> str:
    """The label of a changed field named in an event: the verbose name of the field of
    the event's target model (``organizations.member``), else the name as stored."""
    try:
        return str(capfirst(apps.get_model(target_type)._meta.get_field(name).verbose_name))
    except (LookupError, ValueError, FieldDoesNotExist):
        return name
