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

Every answer is JSON. Errors have the REST API's one body (``dataprotection.api.errors``):
``{"error": {"status", "code", "message", "fields"?}}``; the member list pages with the
shared id cursor (``dataprotection.api.pagination``): ``limit`` (1 to 200, default 50)
and ``cursor`` (the ``next_cursor`` of the page before), read strictly.
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

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.db.models import Prefetch
from django.urls import path
from django.views.decorators.cache import never_cache
from rest_framework import authentication, exceptions
from rest_framework.negotiation import BaseContentNegotiation, DefaultContentNegotiation
from rest_framework.pagination import Cursor
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

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
from dataprotection.api.errors import error_response
from dataprotection.api.pagination import IdCursorPagination, single_parameter
from dataprotection.audit import record_event
from dataprotection.crypto import DecryptionError, decrypt, encrypt
from organizations.models import Department
from organizations.services.collection import collected_fields

MAX_BODY_BYTES = 16 * 1024
CURSOR_PURPOSE = "consent.provider.cursor"
BASIC_SCOPE = "basic"
# A digest no secret hashes to: unknown clients are compared against it, so a wrong
# client_id takes as long as a wrong secret.
_NO_SECRET = "0" * 64
NO_CROSS_BORDER_CONSENT = (
    "The person has not consented to the transfer of their data outside the data region where it is "
    "kept; nothing is sent until they do."
)

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


# --------------------------------------------------------------------------- the plumbing


class InvalidToken(exceptions.AuthenticationFailed):
    default_detail = "The access token is missing, expired or revoked."
    default_code = "invalid_token"


class ProviderTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer <provider token>`` and nothing else: never a session
    cookie (``Area.PROVIDER`` of the assurance policy). A missing, unknown, expired or
    revoked token is a 401 ``invalid_token``."""

    def authenticate(self, request):
        scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not raw.strip():
            raise InvalidToken
        access_token = tokens.authenticate_token(raw.strip())
        if access_token is None:
            raise InvalidToken
        return AnonymousUser(), access_token

    def authenticate_header(self, request):
        return 'Bearer error="invalid_token"'


class JsonAlways(BaseContentNegotiation):
    """Providers get JSON whatever their ``Accept`` header says."""

    def select_parser(self, request, parsers):
        return DefaultContentNegotiation().select_parser(request, parsers)

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class ProviderView(APIView):
    """The provider API's views: the shared error body (``dataprotection.api.errors``,
    the project's exception handler), JSON only, no throttling or scope checks of the
    REST API, and not in its OpenAPI schema."""

    authentication_classes = (ProviderTokenAuthentication,)
    permission_classes = ()
    throttle_classes = ()
    renderer_classes = (JSONRenderer,)
    content_negotiation_class = JsonAlways
    schema = None


def _forbidden(code: str, message: str):
    return exceptions.PermissionDenied(message, code=code)


# --------------------------------------------------------------------------- token


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


def _credentials(request) -> dict | None:
    """The posted form or JSON object, or None when the body is too large or neither."""
    if len(request.body) > MAX_BODY_BYTES:
        return None
    try:
        data = request.data
    except exceptions.ParseError:
        return None
    if hasattr(data, "dict"):  # a form
        return data.dict()
    return data if isinstance(data, dict) else None


class TokenView(ProviderView):
    """SVC-3: an access token for an open grant (or a mini-program authorization)."""

    authentication_classes = ()
    parser_classes = (JSONParser, FormParser, MultiPartParser)

    def post(self, request):
        data = _credentials(request)
        if data is None:
            return error_response(400, "invalid_request", "Send the credentials as a form or a JSON object.")
        client_id, client_secret = _text(data, "client_id"), _text(data, "client_secret")
        organization, user = _text(data, "organization"), _text(data, "user")
        if not client_id or not client_secret:
            return error_response(400, "invalid_request", "client_id and client_secret are required.")
        if bool(organization) == bool(user):
            return error_response(400, "invalid_request", "Give exactly one of organization or user.")
        service = (
            Service.objects.exclude(kind=ServiceKind.FIRST_PARTY)
            .filter(code=client_id[:50])
            .only("pk", "code", "kind", "client_secret_digest")
            .first()
        )
        stored = service.client_secret_digest if service is not None and service.client_secret_digest else _NO_SECRET
        presented = hashlib.sha256(client_secret.encode()).hexdigest()
        if not hmac.compare_digest(presented, stored) or stored == _NO_SECRET:
            return error_response(401, "invalid_client", "Unknown client or wrong secret.")
        if organization:
            grants = SharingGrant.objects.filter(service=service, status=GrantStatus.ACTIVE).values_list(
                "pk", "organization_id"
            )
            grant_pk = _find_by_open_id(grants, lambda pk: organization_open_id(service.code, pk), organization)
            if grant_pk is None:
                raise _forbidden("no_active_grant", "The organization has not opened this service.")
            raw, _token = tokens.issue_token(grant=SharingGrant.objects.get(pk=grant_pk))
        else:
            if service.kind != ServiceKind.MINI_PROGRAM:
                raise _forbidden("no_active_grant", "Only a mini-program is authorized by a person.")
            authorizations = PersonalAuthorization.objects.filter(
                service=service, status=GrantStatus.ACTIVE
            ).values_list("pk", "user_id")
            authorization_pk = _find_by_open_id(authorizations, lambda pk: user_open_id(service.code, pk), user)
            if authorization_pk is None:
                raise _forbidden("no_active_grant", "The person has not authorized this mini-program.")
            raw, _token = tokens.issue_token(authorization=PersonalAuthorization.objects.get(pk=authorization_pk))
        return Response(
            {"access_token": raw, "token_type": "Bearer", "expires_in": settings.PROVIDER_TOKEN_LIFETIME_SECONDS}
        )


# --------------------------------------------------------------------------- data


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


class MemberPagination(IdCursorPagination):
    """The shared id cursor (keyset on the primary key, strict ``limit``) with a cursor
    of the provider API's own: encrypted and bound to the grant that received it."""

    page_size = 50
    max_page_size = 200
    page_size_query_param = "limit"
    invalid_cursor_message = "The cursor is not one this API gave for this token."

    def __init__(self, grant_id: int):
        self.grant_id = grant_id

    def decode_cursor(self, request):
        encoded = single_parameter(request, self.cursor_query_param)
        if not encoded:
            return None
        member_id = read_cursor(encoded, self.grant_id)
        if member_id is None:
            raise exceptions.ValidationError({self.cursor_query_param: [self.invalid_cursor_message]})
        return Cursor(offset=0, reverse=False, position=member_id)

    def encode_cursor(self, cursor) -> str:
        return make_cursor(self.grant_id, cursor.position)

    def next_cursor(self) -> str | None:
        return self.get_next_link()


def avatar_url(request, user) -> str | None:
    if user is None or not user.avatar:
        return None
    return request.build_absolute_uri(user.avatar.url)


def _grant_of(request):
    """The grant of the request's provider token (a mini-program's token has none)."""
    grant = request.auth.grant
    if grant is None:
        raise _forbidden("wrong_token", "This token belongs to a person's authorization; use /provider/v1/me.")
    return grant


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


def _member_item(request, service, member, sent_scopes, fields_by_scope) -> dict:
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


class MembersView(ProviderView):
    """SVC-2, SVC-5: the organization's members as the provider may see them. SEC-3:
    never a child's entry (each list says how many were left out)."""

    def get(self, request):
        access_token, grant = request.auth, _grant_of(request)
        paginator = MemberPagination(grant.pk)
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
        queryset = roster.select_related("user").only(*columns)
        if DataScope.DEPARTMENTS in sent_scopes:
            queryset = queryset.prefetch_related(
                Prefetch("departments", queryset=Department.objects.only("pk", "name").order_by("path"))
            )
        page = paginator.paginate_queryset(queryset, request, view=self)
        first_page = paginator.cursor is None
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
                _audit_cross_border_page(grant, sent=len(page), withheld=withheld, first_page=first_page)
            if children and first_page:  # SEC-3: once per walk through the roster
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
            "next_cursor": paginator.next_cursor(),
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
        return Response(body)


class MemberView(ProviderView):
    """SEC-3, SVC-5: one child's entry, only where the child's guardian agreed that this
    service receives it; every read is recorded (a disclosure and ``child.disclosed``)."""

    def get(self, request, member_id: str):
        access_token, grant = request.auth, _grant_of(request)
        child = shared_child(grant, member_id[:64])
        if child is None:
            raise exceptions.NotFound(
                "No entry with this ID can be read one at a time: only a child's whose guardian agreed to this "
                "service (everyone else is in the member list)."
            )
        service = grant.service
        if service.hosted_outside_region and not (child.user_id and has_consent(child.user, Purpose.CROSS_BORDER)):
            raise _forbidden("cross_border_consent_required", NO_CROSS_BORDER_CONSENT)
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
        return Response({"scopes": [BASIC_SCOPE, *sent_scopes], "data": item})


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


class MeView(ProviderView):
    """SVC-4, SVC-5: a mini-program's person: basic information only."""

    def get(self, request):
        access_token = request.auth
        authorization = access_token.authorization
        if authorization is None:
            raise _forbidden("wrong_token", "This token belongs to an organization's grant; use /provider/v1/members.")
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
            raise _forbidden("cross_border_consent_required", NO_CROSS_BORDER_CONSENT)
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
        return Response(
            {
                "user_id": user_open_id(authorization.service.code, user.pk),
                "nickname": user.nickname,
                "avatar_url": avatar_url(request, user),
            }
        )


urlpatterns = [
    path("provider/v1/token", never_cache(TokenView.as_view()), name="provider_token"),
    path("provider/v1/members", never_cache(MembersView.as_view()), name="provider_members"),
    path("provider/v1/members/<str:member_id>", never_cache(MemberView.as_view()), name="provider_member"),
    path("provider/v1/me", never_cache(MeView.as_view()), name="provider_me"),
]
