"""The API providers call (SVC-2, SVC-3, SVC-4, SVC-5), under ``/provider/v1/``.

- ``POST token``: client credentials (``client_id`` = the service's code,
  ``client_secret``) and either ``organization`` (the organization's open ID, for an
  open grant) or ``user`` (the person's open ID, for a mini-program they authorized).
- ``GET members``: the organization's roster with the basic information and only the
  scopes the administrator confirmed that the organization collects, keyset-paginated.
  SEC-3: never a child's entry; the answer says how many were left out.
- ``GET members/<member_id>``: one child's entry, only where the child's guardian agreed
  that this service receives it (``consent.services.child_sharing``); audited.
- ``GET me``: a mini-program's person, basic information only.

Every answer is JSON; bad input is a 4xx with ``{"error": code, "message": text}``.
People and organizations appear only by the pseudonymous IDs of ``consent.services.open_ids``;
every member returned is recorded as a disclosure (SVC-5).

SEC-6: a service hosted outside the deployment's data region receives only people who
consent now to the cross-border transfer (``Purpose.CROSS_BORDER``, checked at every
call, so a withdrawal stops the flow at the next one). ``members`` leaves the others out
in its query and says how many (``cross_border.members_withheld``); ``me`` answers 403
``cross_border_consent_required``. Each such call writes an audit event."""

from __future__ import annotations

import hashlib
import hmac
import json

from django.conf import settings
from django.db import transaction
from django.db.models import Prefetch
from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from consent.models.ledger import Purpose
from consent.models.sharing import DataScope, GrantStatus, PersonalAuthorization, Service, ServiceKind, SharingGrant
from consent.services import disclosures, tokens
from consent.services.child_sharing import shared_child
from consent.services.ledger import has_consent
from consent.services.open_ids import member_open_id, organization_open_id, user_open_id
from consent.services.sharing import (
    children_withheld,
    cross_border_counts,
    effective_scopes,
    members_consenting_abroad,
    provider_roster,
    transfer_facts,
)
from dataprotection.audit import record_event
from dataprotection.crypto import DecryptionError, decrypt, encrypt
from organizations.models import Department
from organizations.services.collection import collected_fields

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_BODY_BYTES = 16 * 1024
CURSOR_PURPOSE = "consent.provider.cursor"
BASIC_SCOPE = "basic"
# A digest no secret hashes to: unknown clients are compared against it, so a wrong
# client_id takes as long as a wrong secret.
_NO_SECRET = "0" * 64

# Each roster scope and the member fields it sends, each only if the organization
# collects it (ORG-5). Activity scopes (attendance, approvals, ...) are not part of the
# roster and are not served by this endpoint.
MEMBER_FIELDS = {
    DataScope.NAME: ("name",),
    DataScope.MOBILE: ("mobile",),
    DataScope.OFFICE_EMAIL: ("office_email",),
    DataScope.OFFICE_PHONE: ("office_phone",),
    DataScope.EMPLOYEE_NUMBER: ("employee_number",),
    DataScope.POSITION: ("position", "grade"),
}


def error(status: int, code: str, message: str, **headers) -> JsonResponse:
    response = JsonResponse({"error": code, "message": message}, status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def unauthorized(message: str = "The access token is missing, expired or revoked.") -> JsonResponse:
    return error(401, "invalid_token", message, WWW_Authenticate='Bearer error="invalid_token"')


def _no_store(response: JsonResponse) -> JsonResponse:
    response["Cache-Control"] = "no-store"
    return response


# --------------------------------------------------------------------------- token


def _credentials(request: HttpRequest) -> dict | None:
    if len(request.body) > MAX_BODY_BYTES:
        return None
    if request.content_type == "application/json":
        try:
            data = json.loads(request.body or b"{}")
        except (ValueError, UnicodeDecodeError):
            return None
        return data if isinstance(data, dict) else None
    return request.POST.dict()


def _text(data: dict, name: str) -> str:
    value = data.get(name, "")
    return value if isinstance(value, str) else ""


def _find_by_open_id(pairs, make_id, wanted: str):
    """The key whose open ID is ``wanted``: open IDs are keyed one-way pseudonyms, so
    the candidates (this service's open grants or authorizations) are hashed and
    compared."""
    for key, subject_id in pairs:
        if hmac.compare_digest(make_id(subject_id), wanted):
            return key
    return None


@csrf_exempt
@never_cache
@require_POST
def token(request: HttpRequest) -> JsonResponse:
    """SVC-3: an access token for an open grant (or a mini-program authorization)."""
    data = _credentials(request)
    if data is None:
        return error(400, "invalid_request", "Send the credentials as a form or a JSON object.")
    client_id, client_secret = _text(data, "client_id"), _text(data, "client_secret")
    organization, user = _text(data, "organization"), _text(data, "user")
    if not client_id or not client_secret:
        return error(400, "invalid_request", "client_id and client_secret are required.")
    if bool(organization) == bool(user):
        return error(400, "invalid_request", "Give exactly one of organization or user.")
    service = (
        Service.objects.exclude(kind=ServiceKind.FIRST_PARTY)
        .filter(code=client_id[:50])
        .only("pk", "code", "kind", "client_secret_digest")
        .first()
    )
    stored = service.client_secret_digest if service is not None and service.client_secret_digest else _NO_SECRET
    presented = hashlib.sha256(client_secret.encode()).hexdigest()
    if not hmac.compare_digest(presented, stored) or stored == _NO_SECRET:
        return error(401, "invalid_client", "Unknown client or wrong secret.")
    if organization:
        grants = SharingGrant.objects.filter(service=service, status=GrantStatus.ACTIVE).values_list(
            "pk", "organization_id"
        )
        grant_pk = _find_by_open_id(grants, lambda pk: organization_open_id(service.code, pk), organization)
        if grant_pk is None:
            return error(403, "no_active_grant", "The organization has not opened this service.")
        raw, _token = tokens.issue_token(grant=SharingGrant.objects.get(pk=grant_pk))
    else:
        if service.kind != ServiceKind.MINI_PROGRAM:
            return error(403, "no_active_grant", "Only a mini-program is authorized by a person.")
        authorizations = PersonalAuthorization.objects.filter(service=service, status=GrantStatus.ACTIVE).values_list(
            "pk", "user_id"
        )
        authorization_pk = _find_by_open_id(authorizations, lambda pk: user_open_id(service.code, pk), user)
        if authorization_pk is None:
            return error(403, "no_active_grant", "The person has not authorized this mini-program.")
        raw, _token = tokens.issue_token(authorization=PersonalAuthorization.objects.get(pk=authorization_pk))
    return _no_store(
        JsonResponse(
            {"access_token": raw, "token_type": "Bearer", "expires_in": settings.PROVIDER_TOKEN_LIFETIME_SECONDS}
        )
    )


# --------------------------------------------------------------------------- data


def bearer(request: HttpRequest):
    header = request.headers.get("Authorization", "")
    scheme, _, raw = header.partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        return None
    return tokens.authenticate_token(raw.strip())


def _limit(value: str | None) -> int | None:
    if value in (None, ""):
        return DEFAULT_LIMIT
    if not value.isdigit() or not 1 <= int(value) <= MAX_LIMIT:
        return None
    return int(value)


def make_cursor(grant_id: int, member_id: int) -> str:
    """Opaque to the provider (encrypted): it reveals no internal key and works only
    with the grant that received it."""
    return encrypt(f"{grant_id}:{member_id}", CURSOR_PURPOSE)


def read_cursor(cursor: str, grant_id: int) -> int | None:
    try:
        grant_part, _, member_part = decrypt(cursor[:500], CURSOR_PURPOSE).partition(":")
    except (DecryptionError, ValueError, TypeError):
        return None
    if grant_part != str(grant_id) or not member_part.isdigit():
        return None
    return int(member_part)


def avatar_url(request: HttpRequest, user) -> str | None:
    if user is None or not user.avatar:
        return None
    return request.build_absolute_uri(user.avatar.url)


def _grant_of(request: HttpRequest):
    """The grant of the request's provider token, or the error answer."""
    access_token = bearer(request)
    if access_token is None:
        return None, None, unauthorized()
    if access_token.grant is None:
        return (
            None,
            None,
            error(403, "wrong_token", "This token belongs to a person's authorization; use /provider/v1/me."),
        )
    return access_token, access_token.grant, None


def _sent_scopes(grant: SharingGrant) -> tuple[list[str], dict[str, tuple[str, ...]]]:
    """The scopes this grant sends and the member fields of each: only what the
    administrator confirmed and the organization collects (ORG-5); a scope none of
    whose fields is collected sends nothing."""
    collected = collected_fields(grant.organization)
    scopes = [scope for scope in effective_scopes(grant) if scope == DataScope.DEPARTMENTS or scope in MEMBER_FIELDS]
    fields_by_scope = {
        scope: tuple(name for name in MEMBER_FIELDS.get(scope, ()) if name in collected) for scope in scopes
    }
    sent = [scope for scope in scopes if scope == DataScope.DEPARTMENTS or fields_by_scope[scope]]
    return sent, fields_by_scope


def _member_item(request: HttpRequest, service, member, sent_scopes, fields_by_scope) -> dict:
    item = {
        "member_id": member_open_id(service.code, member.pk),
        "user_id": user_open_id(service.code, member.user_id) if member.user_id else None,
        "nickname": member.user.nickname if member.user_id else "",
        "avatar_url": avatar_url(request, member.user if member.user_id else None),
    }
    for scope in sent_scopes:
        if scope == DataScope.DEPARTMENTS:
            item["departments"] = [department.name for department in member.departments.all()]
        else:
            for name in fields_by_scope[scope]:
                item[name] = getattr(member, name)
    return item


@never_cache
@require_GET
def members(request: HttpRequest) -> JsonResponse:
    """SVC-2, SVC-5: the organization's members as the provider may see them. SEC-3:
    never a child's entry (each list says how many were left out)."""
    access_token, grant, refused = _grant_of(request)
    if refused is not None:
        return refused
    limit = _limit(request.GET.get("limit"))
    if limit is None:
        return error(400, "invalid_limit", f"limit must be a whole number from 1 to {MAX_LIMIT}.")
    after = 0
    if request.GET.get("cursor"):
        after = read_cursor(request.GET["cursor"], grant.pk)
        if after is None:
            return error(400, "invalid_cursor", "The cursor is not one this API gave for this token.")
    service = grant.service
    organization = grant.organization
    sent_scopes, fields_by_scope = _sent_scopes(grant)
    columns = {"pk", "user", "user__nickname", "user__avatar"} | {
        name for scope in sent_scopes for name in fields_by_scope.get(scope, ())
    }
    abroad = service.hosted_outside_region
    withheld = 0
    if abroad:
        # SEC-6: only members whose person consents now, filtered in the same query.
        counts = cross_border_counts(organization)
        withheld = counts["total"] - counts["consenting"]
        roster = members_consenting_abroad(organization)
    else:
        roster = provider_roster(organization)
    children = children_withheld(organization)
    queryset = roster.filter(pk__gt=after).select_related("user").only(*columns).order_by("pk")
    if DataScope.DEPARTMENTS in sent_scopes:
        queryset = queryset.prefetch_related(
            Prefetch("departments", queryset=Department.objects.only("pk", "name").order_by("path"))
        )
    page = list(queryset[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    data = [_member_item(request, service, member, sent_scopes, fields_by_scope) for member in page]
    with transaction.atomic():
        disclosures.record_disclosures(
            service,
            [BASIC_SCOPE, *sent_scopes],
            organization_id=organization.pk,
            members=[(member.pk, member.user_id) for member in page],
        )
        tokens.touch_token(access_token)
        if abroad:
            _audit_cross_border_page(grant, sent=len(page), withheld=withheld, first_page=not after)
        if children and not after:  # SEC-3: once per walk through the roster
            record_event(
                "children.withheld",
                target=grant,
                organization=organization.pk,
                metadata={"service": service.code, "members": children},
                actor_kind="system",
            )
    body = {
        "organization": organization_open_id(service.code, organization.pk),
        "scopes": [BASIC_SCOPE, *sent_scopes],
        "data": data,
        "next_cursor": make_cursor(grant.pk, page[-1].pk) if more else None,
        "children": {
            "members_withheld": children,
            "reason": "Children's entries are never listed. One can be read at /provider/v1/members/<member_id> "
            "where the child's guardian agreed that this service receives it.",
        },
    }
    if abroad:
        body["cross_border"] = {
            "hosting_region": service.hosting_region,
            "data_region": settings.DATA_REGION,
            "members_withheld": withheld,
            "reason": "Members who have not consented to the transfer outside the data region are left out.",
        }
    return _no_store(JsonResponse(body))


@never_cache
@require_GET
def member(request: HttpRequest, member_id: str) -> JsonResponse:
    """SEC-3, SVC-5: one child's entry, only where the child's guardian agreed that this
    service receives it; every read is recorded (a disclosure and ``child.disclosed``)."""
    access_token, grant, refused = _grant_of(request)
    if refused is not None:
        return refused
    child = shared_child(grant, member_id[:64])
    if child is None:
        return error(
            404,
            "not_found",
            "No entry with this ID can be read one at a time: only a child's whose guardian agreed to this "
            "service (everyone else is in the member list).",
        )
    service = grant.service
    if service.hosted_outside_region and not (child.user_id and has_consent(child.user, Purpose.CROSS_BORDER)):
        return error(
            403,
            "cross_border_consent_required",
            "The person has not consented to the transfer of their data outside the data region where it is "
            "kept; nothing is sent until they do.",
        )
    sent_scopes, fields_by_scope = _sent_scopes(grant)
    item = _member_item(request, service, child, sent_scopes, fields_by_scope)
    with transaction.atomic():
        disclosures.record_disclosures(
            service,
            [BASIC_SCOPE, *sent_scopes],
            organization_id=grant.organization_id,
            members=[(child.pk, child.user_id)],
        )
        tokens.touch_token(access_token)
        record_event(
            "child.disclosed",
            subject=child.user,
            target=child,
            organization=grant.organization_id,
            metadata={"service": service.code, "scopes": [BASIC_SCOPE, *sent_scopes]},
            actor_kind="system",
        )
    return _no_store(JsonResponse({"scopes": [BASIC_SCOPE, *sent_scopes], "data": item}))


def _audit_cross_border_page(grant: SharingGrant, *, sent: int, withheld: int, first_page: bool) -> None:
    """SEC-6: the consented transfer of this page, and the refusal of the members left
    out (counted once per walk through the roster, on its first page)."""
    common = transfer_facts(grant.service)
    if sent:
        record_event(
            "cross_border.transferred",
            target=grant,
            organization=grant.organization_id,
            metadata={**common, "members": sent},
            actor_kind="system",
        )
    if withheld and first_page:
        record_event(
            "cross_border.withheld",
            target=grant,
            organization=grant.organization_id,
            metadata={**common, "members": withheld, "reason": "no_cross_border_consent"},
            actor_kind="system",
        )


@never_cache
@require_GET
def me(request: HttpRequest) -> JsonResponse:
    """SVC-4, SVC-5: a mini-program's person: basic information only."""
    access_token = bearer(request)
    if access_token is None:
        return unauthorized()
    authorization = access_token.authorization
    if authorization is None:
        return error(403, "wrong_token", "This token belongs to an organization's grant; use /provider/v1/members.")
    user = authorization.user
    service = authorization.service
    if service.hosted_outside_region and not has_consent(user, Purpose.CROSS_BORDER):
        # SEC-6: the person withdrew the cross-border consent (or never gave it).
        with transaction.atomic():
            record_event(
                "cross_border.refused",
                subject=user,
                target=authorization,
                metadata=transfer_facts(service),
                actor_kind="system",
            )
        return error(
            403,
            "cross_border_consent_required",
            "The person has not consented to the transfer of their data outside the data region where it is "
            "kept; nothing is sent until they do.",
        )
    with transaction.atomic():
        disclosures.record_personal_disclosure(authorization, [BASIC_SCOPE])
        tokens.touch_token(access_token)
        if service.hosted_outside_region:
            record_event(
                "cross_border.transferred",
                subject=user,
                target=authorization,
                metadata={**transfer_facts(service), "members": 1},
                actor_kind="system",
            )
    return _no_store(
        JsonResponse(
            {
                "user_id": user_open_id(authorization.service.code, user.pk),
                "nickname": user.nickname,
                "avatar_url": avatar_url(request, user),
            }
        )
    )


def _method_not_allowed_as_json(view):
    """``require_GET``/``require_POST`` answer 405 with an HTML body; providers get JSON."""

    def wrapped(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        if response.status_code == 405 and not isinstance(response, JsonResponse):
            allowed = response.get("Allow", "")
            json_response = error(405, "method_not_allowed", f"Use {allowed}.")
            json_response["Allow"] = allowed
            return json_response
        return response

    wrapped.csrf_exempt = getattr(view, "csrf_exempt", False)
    return wrapped


urlpatterns = [
    path("provider/v1/token", _method_not_allowed_as_json(token), name="provider_token"),
    path("provider/v1/members", _method_not_allowed_as_json(members), name="provider_members"),
    path("provider/v1/members/<str:member_id>", _method_not_allowed_as_json(member), name="provider_member"),
    path("provider/v1/me", _method_not_allowed_as_json(me), name="provider_me"),
]
