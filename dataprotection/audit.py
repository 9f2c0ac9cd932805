"""Writing audit events. Every service that touches personal data calls ``record_event``
inside its transaction, so the event commits or rolls back with the change itself.

Recording stays one INSERT: ``AuditEvent.save`` computes the event's keyed digests in
Python; the hash chain is added later by the sealer (``dataprotection/audit_chain.py``,
SEC-2), so concurrent writers never wait for each other."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.db import models

from dataprotection.models import AuditEvent


def client_ip(request) -> str | None:
    """The client address as Django sees it. Behind a proxy, configure the proxy to set
    REMOTE_ADDR (e.g. via uWSGI/gunicorn's forwarded-allow-ips), never trust raw headers."""
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def record_event(
    action: str,
    *,
    actor=None,
    subject=None,
    target: models.Model | None = None,
    organization=None,
    ip: str | None = None,
    changes: Iterable[str] = (),
    metadata: dict | None = None,
    actor_kind: str | None = None,
) -> AuditEvent:
    if actor_kind is None:
        actor_kind = "system" if actor is None else ("staff" if getattr(actor, "is_staff", False) else "person")
    return AuditEvent.objects.create(
        action=action,
        actor=actor if actor is not None and actor.is_authenticated else None,
        actor_kind=actor_kind,
        subject_user=subject,
        organization_id=getattr(organization, "pk", organization),
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        ip_address=ip,
        changes=sorted(changes),
        metadata=metadata or {},
    )


# --------------------------------------------------------------------------- names

OrganizationNamer = Callable[[set[int]], dict[int, str]]
_organization_namers: list[OrganizationNamer] = []


def register_organization_namer(namer: OrganizationNamer) -> None:
    """The apps above (organizations) register how to name organizations by id, so
    pages of lower apps can say "administrator of <organization>" without importing
    them (docs/architecture.md: hooks, never imports)."""
    if namer not in _organization_namers:
        _organization_namers.append(namer)


def organization_names(organization_ids) -> dict[int, str]:
    """Names of the organizations that the registered namers know (one query each)."""
    wanted = {int(pk) for pk in organization_ids if pk is not None}
    names: dict[int, str] = {}
    if not wanted:
        return names
    for namer in _organization_namers:
        for pk, name in namer(wanted - set(names)).items():
            names.setdefault(pk, name)
    return names
