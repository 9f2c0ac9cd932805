"""Policy documents (CON-6, EN VIII): drafts, publishing, and each person's
acknowledgement of a significant change.

A version is a draft until ``publish_policy_version`` sets ``published_at``; from then on
neither the version nor its texts change, so every old version stays readable exactly as
it was published. Every write here refuses to touch a published version.
"""

from __future__ import annotations

import re
from datetime import date

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from consent.models import (
    PolicyAcknowledgement,
    PolicyEdition,
    PolicyPart,
    PolicyText,
    PolicyVersion,
    SignificantChange,
)
from consent.selectors import policies as selectors
from dataprotection.audit import record_event

ACK_TOKEN_SALT = "consent.policy-acknowledgement"
# Long enough to read a policy through; a stale page just asks to reload.
ACK_TOKEN_MAX_AGE = 24 * 60 * 60


def version_sort_key(label: str) -> tuple:
    """Labels such as ``2019-03`` or ``2020-05.1`` compare by their numbers."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.findall(r"\d+|[^\W\d_]+", label))


def _refuse_published(version: PolicyVersion) -> None:
    # Read the row, not the instance: a stale in-memory draft must not slip through.
    if version.pk and PolicyVersion.objects.filter(pk=version.pk, published_at__isnull=False).exists():
        raise ValidationError(
            _("Version %(version)s is published; its texts never change. Create a new version instead.")
            % {"version": version.version},
            code="published",
        )


def _check_changes(version: PolicyVersion) -> None:
    unknown = set(version.significant_changes or []) - set(SignificantChange.values)
    if unknown:
        raise ValidationError(
            _("Unknown kind of significant change: %(kinds)s.") % {"kinds": ", ".join(sorted(map(str, unknown)))},
            code="changes",
        )


# --------------------------------------------------------------------------- drafts


@transaction.atomic
def save_draft_version(version: PolicyVersion, *, actor=None, ip: str | None = None) -> PolicyVersion:
    """Create or change a draft version (operations console, ``load_policy``)."""
    _refuse_published(version)
    _check_changes(version)
    if version.edition not in PolicyEdition.values:
        raise ValidationError(_("Choose an edition."), code="edition")
    if not version.version.strip():
        raise ValidationError(_("Give the version a label, e.g. 2020-05."), code="version")
    version.published_at = None  # publishing goes through publish_policy_version only
    created = version.pk is None
    version.save()
    record_event(
        "policy.draft_created" if created else "policy.draft_changed",
        actor=actor,
        target=version,
        ip=ip,
        metadata={"edition": version.edition, "version": version.version},
    )
    return version


@transaction.atomic
def save_draft_text(text: PolicyText, *, actor=None, ip: str | None = None) -> PolicyText:
    """Create or change one text of a draft version."""
    _refuse_published(text.version)
    if text.pk:
        # Nor may a text be moved out of a published version.
        stored = PolicyText.objects.filter(pk=text.pk).select_related("version").first()
        if stored is not None and stored.version_id != text.version_id:
            _refuse_published(stored.version)
    if text.language not in dict(settings.LANGUAGES):
        raise ValidationError(_("Choose a language."), code="language")
    if text.part not in PolicyPart.values:
        raise ValidationError(_("Choose a part."), code="part")
    if not text.title.strip() or not text.body.strip():
        raise ValidationError(_("A policy text needs a title and a body."), code="empty")
    created = text.pk is None
    text.save()
    record_event(
        "policy.text_saved",
        actor=actor,
        target=text.version,
        ip=ip,
        changes=["created" if created else "changed"],
        metadata={"language": text.language, "part": text.part},
    )
    return text


@transaction.atomic
def delete_draft_text(text: PolicyText, *, actor=None, ip: str | None = None) -> None:
    _refuse_published(text.version)
    record_event(
        "policy.text_deleted",
        actor=actor,
        target=text.version,
        ip=ip,
        metadata={"language": text.language, "part": text.part},
    )
    text.delete()


@transaction.atomic
def add_draft_text(
    *,
    edition: str,
    version_label: str,
    language: str,
    part: str,
    title: str,
    body: str,
    effective_on: date | None = None,
    significant: bool = False,
    changes: list[str] | None = None,
    summary: str = "",
    actor=None,
) -> PolicyText:
    """Create a draft version (or extend an existing draft) with one text; an existing
    text of the same language and part is replaced. ``load_policy`` calls this."""
    version = PolicyVersion.objects.select_for_update().filter(edition=edition, version=version_label).first()
    if version is None:
        version = PolicyVersion(
            edition=edition, version=version_label, effective_on=effective_on or timezone.localdate()
        )
    else:
        _refuse_published(version)
        if effective_on:
            version.effective_on = effective_on
    if significant:
        version.significant = True
    if changes:
        version.significant_changes = sorted(set(version.significant_changes or []) | set(changes))
    if summary:
        version.summary = summary
    save_draft_version(version, actor=actor)
    text = PolicyText.objects.filter(version=version, language=language, part=part).first() or PolicyText(
        version=version, language=language, part=part
    )
    text.title, text.body = title, body
    return save_draft_text(text, actor=actor)


# --------------------------------------------------------------------------- publishing


def check_publishable(version: PolicyVersion) -> None:
    """Why ``version`` cannot be published (ValidationError), checked before anything is
    written: already published, no main text, a label or date older than the edition's
    current version, or a significant version that does not say what changed."""
    if version.published_at is not None:
        raise ValidationError(_("Version %(version)s is already published.") % {"version": version.version}, "done")
    if not version.texts.filter(part=PolicyPart.MAIN).exists():
        raise ValidationError(
            _("Version %(version)s has no main text yet; add the policy itself before publishing.")
            % {"version": version.version},
            code="no_main",
        )
    _check_changes(version)
    if version.significant and not (version.significant_changes or version.summary.strip()):
        raise ValidationError(
            _("A significant change must say what changed: choose its kinds or write a summary."), code="no_changes"
        )
    current = selectors.current_version(version.edition)
    if current is not None:
        if version_sort_key(version.version) <= version_sort_key(current.version):
            raise ValidationError(
                _("Version %(version)s is not newer than the current version %(current)s.")
                % {"version": version.version, "current": current.version},
                code="older",
            )
        if version.effective_on < current.effective_on:
            raise ValidationError(
                _("Version %(version)s takes effect before the current version %(current)s.")
                % {"version": version.version, "current": current.version},
                code="older",
            )


@transaction.atomic
def publish_policy_version(version: PolicyVersion, *, actor=None, ip: str | None = None) -> PolicyVersion:
    """CON-6: publish a draft. From now on it is readable at its stable URL, never
    changes, and (if significant) everyone it applies to who registered before now is
    asked to acknowledge it at their next sign-in."""
    version = PolicyVersion.objects.select_for_update().get(pk=version.pk)
    check_publishable(version)
    now = timezone.now()
    # Compare-and-set: of two staff publishing at once, one wins and one is told.
    if not PolicyVersion.objects.filter(pk=version.pk, published_at__isnull=True).update(published_at=now):
        raise ValidationError(_("Version %(version)s is already published.") % {"version": version.version}, "done")
    version.published_at = now
    record_event(
        "policy.published",
        actor=actor,
        target=version,
        ip=ip,
        metadata={
            "edition": version.edition,
            "version": version.version,
            "significant": version.significant,
            "changes": list(version.significant_changes or []),
        },
    )
    return version


# --------------------------------------------------------------------------- acknowledgement


def acknowledgement_token(user, version_ids) -> str:
    """A signed token that binds the acknowledge form to this person and these versions."""
    return signing.dumps({"u": user.pk, "v": sorted(int(pk) for pk in version_ids)}, salt=ACK_TOKEN_SALT)


def _check_token(user, version_ids: list[int], token: str) -> None:
    message = _("This acknowledgement could not be verified. Nothing was recorded; please read the changes again.")
    try:
        payload = signing.loads(token or "", salt=ACK_TOKEN_SALT, max_age=ACK_TOKEN_MAX_AGE)
    except signing.SignatureExpired as exc:
        raise ValidationError(
            _("This page has expired. Nothing was recorded; please read the changes again."), code="expired"
        ) from exc
    except signing.BadSignature as exc:
        raise ValidationError(message, code="token") from exc
    if not isinstance(payload, dict) or payload.get("u") != user.pk or payload.get("v") != sorted(version_ids):
        raise ValidationError(message, code="token")


@transaction.atomic
def acknowledge_policy_versions(
    user, version_ids, token: str, language: str, ip: str | None = None
) -> list[PolicyAcknowledgement]:
    """CON-6: record that ``user`` read the significant versions ``version_ids``.

    Nothing is written unless the signed token matches the person and the versions
    (``code="token"``), every version is a published significant version of an edition
    that applies to them (``"unknown"``) and none has been superseded by a newer
    significant version of its edition meanwhile (``"stale"``). Versions already
    acknowledged are skipped, so a replayed form adds no row. Returns the new rows."""
    try:
        ids = sorted({int(pk) for pk in version_ids})
    except (TypeError, ValueError) as exc:
        raise ValidationError(_("This acknowledgement could not be verified."), code="token") from exc
    if not ids:
        raise ValidationError(_("There is nothing to acknowledge."), code="unknown")
    _check_token(user, ids, token)
    latest = {version.edition: version for version in selectors.latest_significant_versions(user)}
    versions = list(
        selectors.published_versions().filter(pk__in=ids, significant=True, edition__in=selectors.editions_for(user))
    )
    if len(versions) != len(ids):
        raise ValidationError(_("This policy version cannot be acknowledged."), code="unknown")
    stale = [version for version in versions if latest[version.edition].pk != version.pk]
    if stale:
        raise ValidationError(
            _("A newer version of the %(edition)s was published meanwhile. Please read it first.")
            % {"edition": stale[0].get_edition_display()},
            code="stale",
        )
    if language not in dict(settings.LANGUAGES):
        language = settings.LANGUAGE_CODE
    done = set(PolicyAcknowledgement.objects.filter(user=user, version_id__in=ids).values_list("version_id", flat=True))
    now = timezone.now()
    new = [
        PolicyAcknowledgement(user=user, version=version, language=language, acknowledged_at=now)
        for version in versions
        if version.pk not in done
    ]
    if not new:
        return []
    # A double submit racing this one hits the unique constraint; the row is there either way.
    PolicyAcknowledgement.objects.bulk_create(new, ignore_conflicts=True)
    record_event(
        "policy.acknowledged",
        actor=user,
        subject=user,
        target=new[0].version,
        ip=ip,
        metadata={"versions": [f"{ack.version.edition} {ack.version.version}" for ack in new], "language": language},
    )
    return new
