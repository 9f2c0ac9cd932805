"""Writes and reads of the consent ledger (CON-1, CON-2, CON-5, CON-7).

A decision is one appended ``ConsentRecord`` plus one audit event, in one transaction.
The current state of a purpose is its latest record; no record means "not granted":
additional functions stay off until the person opts in (CON-1, EN I).

``record_consent`` is idempotent: it writes only when the decision differs from the
current state, so granting twice leaves one record and a GPC signal sent on every
request withdraws once (CON-7). A decision made on a form carries the policy version
the person saw; if a newer version was published meanwhile, nothing is written and
the person is asked to review the policy first (CON-2, CON-6).
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils.translation import gettext as _

from accounts.models import DataRegion, User
from consent.models import PURPOSES, Actor, Channel, ConsentRecord, Decision, PolicyEdition, PolicyVersion, Purpose
from consent.services import sensitive
from dataprotection.audit import record_event

CURRENT = "current"

# SEC-6: the deployment's data region decides which edition of the policy applies.
EDITION_OF_REGION = {
    DataRegion.MAINLAND_CHINA: PolicyEdition.MAINLAND,
    DataRegion.SINGAPORE: PolicyEdition.INTERNATIONAL,
}


class StalePolicyVersion(ValidationError):
    """The person decided on a policy version that is no longer the current one."""


def deployment_edition() -> str:
    return EDITION_OF_REGION.get(settings.DATA_REGION, PolicyEdition.INTERNATIONAL)


def current_policy_version() -> PolicyVersion | None:
    """The latest published version of the edition that applies here, or None when none
    is published yet (one query)."""
    return (
        PolicyVersion.objects.filter(edition=deployment_edition(), published_at__isnull=False)
        .order_by("-published_at", "-pk")
        .first()
    )


def _stale_error() -> StalePolicyVersion:
    return StalePolicyVersion(
        _("The privacy policy changed since you opened this page. Review the current policy, then decide again."),
        code="stale_policy",
    )


def check_seen_policy_version(seen: str | int | None) -> PolicyVersion | None:
    """The policy version a form was shown with (its primary key, or empty when no
    version was published), checked against the current one. Raises
    ``StalePolicyVersion`` when they differ."""
    current = current_policy_version()
    seen_pk = str(seen or "").strip()
    if (current is None and seen_pk) or (current is not None and seen_pk != str(current.pk)):
        raise _stale_error()
    return current


def _resolve_policy_version(policy_version) -> PolicyVersion | None:
    if policy_version is None:
        return None
    current = current_policy_version()
    if policy_version == CURRENT:
        return current
    seen_pk = policy_version.pk if isinstance(policy_version, PolicyVersion) else int(policy_version)
    if current is None or current.pk != seen_pk:
        raise _stale_error()
    return current


def validate_purpose(purpose: str) -> str:
    if purpose not in PURPOSES:
        raise ValidationError(
            _("“%(purpose)s” is not a purpose of Custodia. Choose one of: %(known)s."),
            code="unknown_purpose",
            params={"purpose": purpose, "known": ", ".join(PURPOSES)},
        )
    return purpose


def _subject_records(user, visitor_key: str):
    if user is not None:
        return ConsentRecord.objects.of_person(user)
    return ConsentRecord.objects.of_visitor(visitor_key)


def record_consent(
    *,
    user: User | None = None,
    visitor_key: str = "",
    purpose: str,
    decision: str,
    channel: str,
    actor: str = Actor.SELF,
    actor_user: User | None = None,
    policy_version=None,
    ip: str | None = None,
) -> ConsentRecord | None:
    """Append a decision about ``purpose`` for a person (``user``) or a visitor
    (``visitor_key``) and audit it (CON-2). Returns the new record, or None when the
    decision equals the current state (nothing written).

    ``policy_version``: None (no policy involved, e.g. a GPC signal), ``"current"``
    (the version in force now), or the version (object or primary key) the person
    saw, which must still be the current one (else ``StalePolicyVersion``)."""
    validate_purpose(purpose)
    if decision not in Decision.values:
        raise ValidationError(_("A decision is either granted or withdrawn."), code="unknown_decision")
    if channel not in Channel.values:
        raise ValidationError(_("“%(channel)s” is not a channel."), code="unknown_channel", params={"channel": channel})
    if actor not in Actor.values:
        raise ValidationError(_("“%(actor)s” is not an actor."), code="unknown_actor", params={"actor": actor})
    if (user is None) == (not visitor_key):
        raise ValidationError(_("A decision belongs to either a person or a visitor."), code="no_subject")
    if actor != Actor.SELF and actor_user is None:
        raise ValidationError(
            _("A decision made by a guardian or an authorized agent must name who made it."), code="actor_required"
        )
    with transaction.atomic():
        if user is not None:
            # Serializes two decisions of one person, so that a double submit cannot
            # append two identical records (no-op on SQLite, whose writes are serial).
            User.objects.select_for_update().filter(pk=user.pk).exists()
        latest = _subject_records(user, visitor_key).filter(purpose=purpose).order_by("-pk").first()
        if latest is not None and latest.decision == decision:
            return None
        # No record and a withdrawal: still written, as evidence of the refusal (and so
        # that the cookie banner knows the choice was made).
        version = _resolve_policy_version(policy_version)
        record = ConsentRecord.objects.create(
            user=user,
            visitor_key="" if user is not None else visitor_key,
            purpose=purpose,
            decision=decision,
            policy_version=version,
            channel=channel,
            actor=actor,
            actor_user=actor_user,
        )
        record_event(
            f"consent.{decision}",
            actor=actor_user or user,
            subject=user,
            target=record,
            ip=ip,
            metadata={
                "purpose": purpose,
                "channel": channel,
                "actor": actor,
                "policy_version": version.version if version else None,
                **({"visitor": True} if user is None else {}),
            },
            # A visitor deciding (banner, GPC signal) is a person without an account.
            actor_kind="person" if actor_user is None and user is None else None,
        )
        if user is not None and decision == Decision.WITHDRAWN:
            # CON-5: withdrawing a sensitive purpose stops the processing itself.
            sensitive.stop_processing(user, purpose, ip)
    return record


def current_consents(user: User) -> dict[str, ConsentRecord]:
    """Purpose -> the person's latest record about it (one query)."""
    return {record.purpose: record for record in ConsentRecord.objects.of_person(user).latest_per_purpose()}


def current_visitor_consents(visitor_key: str) -> dict[str, ConsentRecord]:
    """Purpose -> a visitor's latest record about it (one query; none without a key)."""
    if not visitor_key:
        return {}
    return {record.purpose: record for record in ConsentRecord.objects.of_visitor(visitor_key).latest_per_purpose()}


def has_consent(user: User, purpose: str) -> bool:
    """True only while the person's latest decision about ``purpose`` is a grant (one
    query). No record is no consent (CON-1)."""
    validate_purpose(purpose)
    if user is None or not user.is_authenticated:
        return False
    latest = ConsentRecord.objects.of_person(user).filter(purpose=purpose).order_by("-pk").values("decision").first()
    return latest is not None and latest["decision"] == Decision.GRANTED


def latest_decision(purpose: str, user_ref: str = "user_id") -> Subquery:
    """The latest decision (``granted``/``withdrawn``, NULL without a record) of the
    person at ``OuterRef(user_ref)`` about ``purpose``, as a subquery: filtering a
    queryset on it keeps only the people who consent now, in the same query, however
    many there are (SEC-6: the provider API's cross-border filter). It walks the
    ``consent_user_purpose`` index."""
    validate_purpose(purpose)
    return Subquery(
        ConsentRecord.objects.filter(user_id=OuterRef(user_ref), purpose=purpose).order_by("-pk").values("decision")[:1]
    )


def visitor_has_consent(visitor_key: str, purpose: str) -> bool:
    validate_purpose(purpose)
    if not visitor_key:
        return False
    latest = ConsentRecord.objects.of_visitor(visitor_key).filter(purpose=purpose).order_by("-pk").values("decision")
    first = latest.first()
    return first is not None and first["decision"] == Decision.GRANTED


def set_consents(
    *,
    user: User | None = None,
    visitor_key: str = "",
    decisions: dict[str, str],
    channel: str,
    policy_version=None,
    ip: str | None = None,
) -> list[ConsentRecord]:
    """Several decisions in one transaction (the cookie banner, "turn on all"): all
    are written or none. Sensitive purposes are refused here: each needs its own
    explicit confirmation (CON-5)."""
    for purpose in decisions:
        validate_purpose(purpose)
        if PURPOSES[purpose].sensitive and decisions[purpose] == Decision.GRANTED:
            raise ValidationError(
                _("%(purpose)s needs its own explicit consent; it is never granted together with other purposes."),
                code="sensitive_in_bulk",
                params={"purpose": Purpose(purpose).label},
            )
    written = []
    with transaction.atomic():
        for purpose, decision in decisions.items():
            record = record_consent(
                user=user,
                visitor_key=visitor_key,
                purpose=purpose,
                decision=decision,
                channel=channel,
                policy_version=policy_version,
                ip=ip,
            )
            if record is not None:
                written.append(record)
    return written


def record_sensitive_consent(sender, *, user, purpose: str, ip: str | None = None, **kwargs) -> None:
    """CON-5: a lower app's page took the person's explicit consent to sensitive
    processing (``accounts.signals.sensitive_processing_consented``)."""
    record_consent(
        user=user, purpose=purpose, decision=Decision.GRANTED, channel=Channel.WEB, policy_version=CURRENT, ip=ip
    )


def record_sensitive_stop(sender, *, user, purpose: str, ip: str | None = None, **kwargs) -> None:
    """CON-5: a lower app's page stopped sensitive processing at the person's request."""
    record_consent(user=user, purpose=purpose, decision=Decision.WITHDRAWN, channel=Channel.WEB, ip=ip)
