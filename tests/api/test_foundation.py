"""The API foundation: bearer tokens, scopes, organization-restricted tokens,
CSRF for sessions, throttling, idempotency keys, and one error body for every 4xx."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.test import APIClient, APIRequestFactory
from rest_framework.views import APIView

from accounts.api.authentication import require_token_organization
from accounts.api.serializers import ApiTokenSerializer
from accounts.api.tokens import create_api_token, revoke_api_token
from accounts.models import ApiToken, TokenScope
from accounts.tasks import purge_idempotency_records
from dataprotection.api.pagination import IdCursorPagination
from dataprotection.api.strict import StrictSerializer
from dataprotection.api.throttling import PerAddressThrottle, PerTokenThrottle
from dataprotection.models import IdempotencyRecord
from tests.factories import UserFactory, verified_session

pytestmark = pytest.mark.django_db

ME = "/api/v1/me/"
TOKENS = "/api/v1/tokens/"


def bearer(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def assert_error(response, status: int, code: str | None = None) -> dict:
    """The one error body: {"error": {"status", "code", "message", "fields"?}}."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) <= {"status", "code", "message", "fields"}
    assert error["status"] == status
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["code"], str) and error["code"]
    if code is not None:
        assert error["code"] == code
    for messages in error.get("fields", {}).values():
        assert messages and all(isinstance(message, str) for message in messages)
    return error


@pytest.fixture
def person():
    return UserFactory(name="Integrator")


@pytest.fixture
def write_secret(person):
    secret, _token = create_api_token(person, minted_by=verified_session(), name="script", scope=TokenScope.WRITE)
    return secret


# ------------------------------------------------------------------ authentication


def test_a_valid_token_authenticates_and_records_its_use(person, write_secret):
    """The REST API: ``Authorization: Bearer cst_…`` reaches the person's own profile."""
    response = bearer(write_secret).get(ME)
    assert response.status_code == 200
    assert response.json()["id"] == person.pk
    assert ApiToken.objects.get(user=person).last_used_at is not None


@pytest.mark.parametrize(
    "spoil",
    ["unknown", "expired", "revoked", "inactive", "not_a_token"],
)
def test_an_unusable_token_is_a_401_with_the_error_body(person, write_secret, spoil):
    """Bad input: unknown, expired or revoked tokens, or an inactive person's,
    are refused with a clear 401, never treated as anonymous or as success."""
    token = ApiToken.objects.get(user=person)
    secret = write_secret
    if spoil == "unknown":
        secret = "cst_" + "x" * 40
    elif spoil == "expired":
        ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    elif spoil == "revoked":
        revoke_api_token(token, actor=person)
    elif spoil == "inactive":
        person.is_active = False
        person.save(update_fields=["is_active"])
    else:
        secret = "something else entirely"
    response = bearer(secret).get(ME)
    error = assert_error(response, 401, "authentication_failed")
    assert "unknown, expired or revoked" in error["message"]
    assert response["WWW-Authenticate"] == "Bearer"


def test_no_credentials_is_a_401_with_the_error_body():
    assert_error(APIClient().get(ME), 401, "not_authenticated")


def test_a_read_only_token_reads_but_cannot_write(person):
    """The REST API: a read scope token reads; any write is a 403 that says why."""
    secret, _token = create_api_token(person, minted_by=verified_session(), name="reader", scope=TokenScope.READ)
    client = bearer(secret)
    assert client.get(ME).status_code == 200
    error = assert_error(client.patch(ME, {"nickname": "Changed"}, format="json"), 403, "permission_denied")
    assert "only read" in error["message"]
    token = ApiToken.objects.get(user=person)
    assert_error(client.delete(f"{TOKENS}{token.pk}/"), 403)
    person.refresh_from_db()
    assert person.nickname != "Changed"
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None


class OrganizationProbe(APIView):
    """A stand-in organization endpoint: what every organization view does first."""

    def get(self, request, org_id):
        require_token_organization(request, org_id)
        return Response({"organization": org_id})


def test_an_organization_token_reaches_its_organization_only(cast):
    """The REST API: a token restricted to one organization reaches nothing of another one
    (404, as anything out of scope) and may not act as the person (403)."""
    secret, token = create_api_token(
        cast.owner,
        minted_by=verified_session(),
        name="HR sync",
        scope=TokenScope.WRITE,
        organization_id=cast.organization.pk,
    )
    factory = APIRequestFactory()
    view = OrganizationProbe.as_view()
    own = view(factory.get("/probe/", HTTP_AUTHORIZATION=f"Bearer {secret}"), org_id=cast.organization.pk)
    assert own.status_code == 200
    other = view(factory.get("/probe/", HTTP_AUTHORIZATION=f"Bearer {secret}"), org_id=cast.organization.pk + 1000)
    assert other.status_code == 404
    assert other.data["error"]["code"] == "not_found"

    client = bearer(secret)
    assert_error(client.get(ME), 403)
    assert_error(client.get(TOKENS), 403)
    assert_error(client.delete(f"{TOKENS}{token.pk}/"), 403)
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None


def test_a_token_is_restricted_only_to_an_organization_the_person_administers(cast):
    """The REST API: the restriction is validated through organizations' registered check."""
    client = APIClient()
    client.force_login(cast.owner)
    created = client.post(TOKENS, {"name": "HR", "organization_id": cast.organization.pk}, format="json")
    assert created.status_code == 201
    assert created.json()["organization_id"] == cast.organization.pk
    client.force_login(cast.member_user)
    error = assert_error(
        client.post(TOKENS, {"name": "HR", "organization_id": cast.organization.pk}, format="json"), 400
    )
    assert "organization_id" in error["fields"]
    assert ApiToken.objects.filter(user=cast.member_user).count() == 0


# ------------------------------------------------------------------ sessions and CSRF


def test_a_session_needs_the_csrf_token_for_unsafe_methods(person):
    """SEC: the browser's session cookie alone cannot write (cross-site requests)."""
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(person)
    assert client.get(ME).status_code == 200
    error = assert_error(client.patch(ME, {"nickname": "Forged"}, format="json"), 403)
    assert "CSRF" in error["message"]
    person.refresh_from_db()
    assert person.nickname != "Forged"

    client.get("/accounts/profile/")
    csrf = client.cookies[settings.CSRF_COOKIE_NAME].value
    response = client.patch(ME, {"nickname": "Real"}, format="json", HTTP_X_CSRFTOKEN=csrf)
    assert response.status_code == 200
    assert response.json()["nickname"] == "Real"


# ------------------------------------------------------------------ throttling


def test_throttling_per_token(monkeypatch, person, write_secret):
    """The REST API: per token; the 429 has the error body and Retry-After."""
    monkeypatch.setattr(PerTokenThrottle, "THROTTLE_RATES", {"token": "2/minute", "address": "100/minute"})
    monkeypatch.setattr(PerAddressThrottle, "THROTTLE_RATES", {"token": "2/minute", "address": "100/minute"})
    client = bearer(write_secret)
    assert client.get(ME).status_code == 200
    assert client.get(ME).status_code == 200
    response = client.get(ME)
    assert_error(response, 429, "throttled")
    assert int(response["Retry-After"]) > 0
    # Another token of the same address is not held back by the first one's budget.
    other_secret, _ = create_api_token(UserFactory(), minted_by=verified_session(), name="other")
    assert bearer(other_secret).get(ME).status_code == 200


def test_throttling_per_address(monkeypatch, person):
    """The REST API: per client address, whatever the token."""
    monkeypatch.setattr(PerTokenThrottle, "THROTTLE_RATES", {"token": "100/minute", "address": "3/minute"})
    monkeypatch.setattr(PerAddressThrottle, "THROTTLE_RATES", {"token": "100/minute", "address": "3/minute"})
    secrets = [create_api_token(person, minted_by=verified_session(), name=f"t{n}")[0] for n in range(4)]
    assert [bearer(secret).get(ME).status_code for secret in secrets] == [200, 200, 200, 429]
    elsewhere = bearer(secrets[3])
    assert elsewhere.get(ME, REMOTE_ADDR="10.1.2.3").status_code == 200


# ------------------------------------------------------------------ idempotency


def test_an_idempotency_key_replays_the_first_answer_without_the_secret(person):
    """The REST API: the same key and body get the first answer again and write nothing;
    the replay leaves out the token's secret, which is never stored."""
    client = APIClient()
    client.force_login(person)
    first = client.post(TOKENS, {"name": "CI"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first
    again = client.post(TOKENS, {"name": "CI"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    expected = {key: value for key, value in first.json().items() if key != "secret"}
    assert again.json() == expected
    assert ApiToken.objects.filter(user=person).count() == 1
    record = IdempotencyRecord.objects.get(user=person, key="k-1")
    assert first.json()["secret"] not in json.dumps(record.response_body)


def test_stored_answers_are_purged_after_a_day_by_beat(person):
    """Stored API answers are personal data: the hourly beat task deletes those older
    than a day and keeps the ones a client may still replay."""
    client = APIClient()
    client.force_login(person)
    for key in ("old", "new"):
        assert client.post(TOKENS, {"name": key}, format="json", HTTP_IDEMPOTENCY_KEY=key).status_code == 201
    IdempotencyRecord.objects.filter(key="old").update(created_at=timezone.now() - timedelta(days=1, minutes=1))
    schedule = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "accounts.tasks.purge_idempotency_records" in schedule
    assert purge_idempotency_records.delay().get() == "purged 1 stored answers"
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]


def test_an_idempotency_key_with_another_body_is_a_422(person):
    client = APIClient()
    client.force_login(person)
    assert client.post(TOKENS, {"name": "CI"}, format="json", HTTP_IDEMPOTENCY_KEY="k-2").status_code == 201
    response = client.post(TOKENS, {"name": "Other"}, format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    assert_error(response, 422, "idempotency_key_reused")
    assert ApiToken.objects.filter(user=person).count() == 1


def test_an_overlong_idempotency_key_is_a_400(person):
    client = APIClient()
    client.force_login(person)
    assert_error(client.post(TOKENS, {"name": "CI"}, format="json", HTTP_IDEMPOTENCY_KEY="k" * 101), 400)
    assert not ApiToken.objects.filter(user=person).exists()


def test_a_concurrent_duplicate_creates_one_row(monkeypatch, person):
    """The REST API: two requests with one key racing (the second's lookup ran before the
    first committed) end with one row: the loser's write is rolled back and it answers
    with the winner's body. (Before the fix, the loser deleted the winner's record.)"""
    client = APIClient()
    client.force_login(person)
    first = client.post(TOKENS, {"name": "CI"}, format="json", HTTP_IDEMPOTENCY_KEY="race")
    assert first.status_code == 201

    real_filter = IdempotencyRecord.objects.filter
    missed = []

    def late_lookup(*args, **kwargs):
        queryset = real_filter(*args, **kwargs)
        if "created_at__gte" in kwargs and not missed:
            missed.append(True)  # the racing request looked before the winner committed
            return queryset.none()
        return queryset

    monkeypatch.setattr(IdempotencyRecord.objects, "filter", late_lookup)
    second = client.post(TOKENS, {"name": "CI"}, format="json", HTTP_IDEMPOTENCY_KEY="race")
    assert missed
    assert second.status_code == 201
    assert second["Idempotent-Replayed"] == "true"
    assert second.json()["id"] == first.json()["id"]
    assert ApiToken.objects.filter(user=person).count() == 1
    assert IdempotencyRecord.objects.filter(user=person).count() == 1


# ------------------------------------------------------------------ bad input


def test_unknown_and_read_only_fields_are_a_400_naming_them(person, write_secret):
    """Bad input: a field the endpoint does not take is named, nothing saved."""
    client = bearer(write_secret)
    error = assert_error(
        client.patch(ME, {"nickname": "New", "nick_name": "typo", "phone": "+8613900000000"}, format="json"),
        400,
        "invalid",
    )
    assert set(error["fields"]) == {"nick_name", "phone"}
    person.refresh_from_db()
    assert person.nickname != "New"


def test_wrong_types_are_a_400_naming_the_field(person, write_secret):
    client = bearer(write_secret)
    error = assert_error(client.patch(ME, {"birthday": 12}, format="json"), 400, "invalid")
    assert list(error["fields"]) == ["birthday"]
    error = assert_error(client.patch(ME, ["not", "an", "object"], format="json"), 400, "invalid")
    assert "Send a JSON object." in error["message"]
    session = APIClient()
    session.force_login(person)
    error = assert_error(session.post(TOKENS, {"name": "x", "days": "many", "scope": "admin"}, format="json"), 400)
    assert set(error["fields"]) == {"days", "scope"}


def test_the_profile_pages_own_rules_apply(person, write_secret):
    """ACC-2: the API applies the profile form's validation (no future birthdays)."""
    future = (timezone.localdate() + timedelta(days=3)).isoformat()
    error = assert_error(bearer(write_secret).patch(ME, {"birthday": future}, format="json"), 400)
    assert error["fields"] == {"birthday": ["A birthday cannot be in the future."]}


def test_malformed_json_is_a_400(write_secret):
    response = bearer(write_secret).generic("PATCH", ME, "{not json", content_type="application/json")
    error = assert_error(response, 400, "parse_error")
    assert "JSON" in error["message"]


def test_a_huge_payload_is_a_413_with_the_error_body(write_secret):
    """The REST API: a body above DATA_UPLOAD_MAX_MEMORY_SIZE is refused with JSON, not
    Django's 400 page and never a 500."""
    body = json.dumps({"nickname": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10)})
    response = bearer(write_secret).generic("PATCH", ME, body, content_type="application/json")
    error = assert_error(response, 413, "request_too_large")
    assert str(settings.DATA_UPLOAD_MAX_MEMORY_SIZE) in error["message"]


def test_other_media_types_are_a_415(write_secret):
    response = bearer(write_secret).generic("PATCH", ME, "nickname=x", content_type="application/x-www-form-urlencoded")
    assert_error(response, 415, "unsupported_media_type")


def test_an_unsupported_method_is_a_405(write_secret):
    assert_error(bearer(write_secret).put(ME, {}, format="json"), 405, "method_not_allowed")


def test_not_found_is_a_404_with_the_error_body(write_secret):
    assert_error(bearer(write_secret).get(f"{TOKENS}999999/"), 404, "not_found")


def test_a_bad_page_number_is_a_400_and_a_page_past_the_end_a_404(write_secret):
    client = bearer(write_secret)
    assert client.get(TOKENS, {"page": 1}).status_code == 200
    assert "page" in assert_error(client.get(TOKENS, {"page": "abc"}), 400)["fields"]
    assert "page" in assert_error(client.get(TOKENS, {"page": -1}), 400)["fields"]
    assert_error(client.get(TOKENS, {"page": 99}), 404)


class CursorProbe(ListAPIView):
    serializer_class = ApiTokenSerializer
    pagination_class = IdCursorPagination

    def get_queryset(self):
        return ApiToken.objects.filter(user=self.request.user)


def test_an_invalid_cursor_is_a_400_naming_it(person, write_secret):
    """Bad input: a cursor that was not issued by the API is a 400."""
    for n in range(3):
        create_api_token(person, minted_by=verified_session(), name=f"more {n}")
    factory = APIRequestFactory()
    view = CursorProbe.as_view()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {write_secret}"}
    first = view(factory.get("/probe/", {"page_size": 2}, **auth))
    assert first.status_code == 200
    assert len(first.data["results"]) == 2
    following = view(factory.get(first.data["next"], **auth))
    assert following.status_code == 200
    assert len(following.data["results"]) == 2
    for cursor in ["%%%", "bm90IGEgY3Vyc29y", b64("p=abc"), b64("o=-1"), b64("r=x"), b64("x=1")]:
        bad = view(factory.get("/probe/", {"cursor": cursor}, **auth))
        assert bad.status_code == 400, cursor
        assert list(bad.data["error"]["fields"]) == ["cursor"]
    # A position far beyond any id is simply past the end, not an overflow.
    huge = view(factory.get("/probe/", {"cursor": b64(f"p={2**70}")}, **auth))
    assert huge.status_code == 200, huge.data
    assert huge.data["results"] == []


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# ------------------------------------------------------------------ the token endpoints


def test_a_token_cannot_mint_tokens(person, write_secret):
    """The REST API: creating a token needs the signed-in person, not another token."""
    error = assert_error(bearer(write_secret).post(TOKENS, {"name": "child", "scope": "write"}, format="json"), 403)
    assert "not with another token" in error["message"]
    assert ApiToken.objects.filter(user=person).count() == 1


def test_revocation_takes_effect_at_once(person, write_secret):
    client = bearer(write_secret)
    assert client.get(ME).status_code == 200
    token = ApiToken.objects.get(user=person)
    session = APIClient()
    session.force_login(person)
    assert session.delete(f"{TOKENS}{token.pk}/").status_code == 204
    assert_error(client.get(ME), 401)
    assert session.delete(f"{TOKENS}{token.pk}/").status_code == 204  # revoking twice is harmless


def test_the_secret_is_stored_only_as_its_digest(person):
    """The REST API: hashed at rest; the secret appears in the creation answer only."""
    session = APIClient()
    session.force_login(person)
    created = session.post(TOKENS, {"name": "CI", "scope": "write", "days": 7}, format="json").json()
    secret = created["secret"]
    assert secret.startswith("cst_") and len(secret) > 40
    token = ApiToken.objects.get(pk=created["id"])
    assert token.digest == hashlib.sha256(secret.encode()).hexdigest()
    stored = [str(value) for value in ApiToken.objects.filter(pk=token.pk).values().get().values()]
    assert not any(secret in value for value in stored)
    assert token.prefix == secret[:12]
    listed = session.get(TOKENS).json()["results"]
    assert [item["id"] for item in listed] == [token.pk]
    assert "secret" not in listed[0]
    assert "secret" not in session.get(f"{TOKENS}{token.pk}/").json()


def test_the_token_list_is_one_query_for_any_page_size(person, django_assert_num_queries):
    for n in range(5):
        create_api_token(person, minted_by=verified_session(), name=f"t{n}")
    session = APIClient()
    session.force_login(person)
    session.get(TOKENS)  # warm the session
    # session, user, count, page
    with django_assert_num_queries(4):
        assert len(session.get(TOKENS).json()["results"]) == 5
    with django_assert_num_queries(4):
        assert len(session.get(TOKENS, {"page_size": 2}).json()["results"]) == 2


def test_another_persons_token_is_not_found(person):
    _secret, theirs = create_api_token(UserFactory(), minted_by=verified_session(), name="theirs")
    session = APIClient()
    session.force_login(person)
    assert_error(session.get(f"{TOKENS}{theirs.pk}/"), 404)
    assert_error(session.delete(f"{TOKENS}{theirs.pk}/"), 404)
    assert ApiToken.objects.get(pk=theirs.pk).revoked_at is None


# ------------------------------------------------------------------ strict JSON types


class TypedProbe(APIView):
    def post(self, request):
        class Input(StrictSerializer):
            text = serializers.CharField(required=False)
            number = serializers.IntegerField(required=False)
            flag = serializers.BooleanField(required=False)
            ids = serializers.ListField(child=serializers.IntegerField(), required=False)
            kind = serializers.ChoiceField(choices=["a", "b"], required=False)

        serializer = Input(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(serializer.validated_data)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"text": 0}, "text"),
        ({"number": "12"}, "number"),
        ({"number": 1.5}, "number"),
        ({"number": True}, "number"),
        ({"number": 2**64}, "number"),
        ({"flag": 1}, "flag"),
        ({"flag": "yes"}, "flag"),
        ({"ids": [1, "2"]}, "ids"),
        ({"ids": [2**70]}, "ids"),
        ({"ids": 3}, "ids"),
        ({"kind": 0}, "kind"),
    ],
)
def test_json_types_are_taken_at_their_word(write_secret, body, field):
    """Bad input: the schema's types, not DRF's lenient coercions (0 as "0",
    "yes" as true) and no number beyond 64 bits (a 500 in the database otherwise)."""
    request = APIRequestFactory().post("/probe/", body, format="json", HTTP_AUTHORIZATION=f"Bearer {write_secret}")
    response = TypedProbe.as_view()(request)
    assert response.status_code == 400
    assert list(response.data["error"]["fields"]) == [field]


def test_well_typed_input_passes(write_secret):
    body = {"text": "x", "number": 12, "flag": False, "ids": [1, 2], "kind": "a"}
    request = APIRequestFactory().post("/probe/", body, format="json", HTTP_AUTHORIZATION=f"Bearer {write_secret}")
    response = TypedProbe.as_view()(request)
    assert response.status_code == 200
    assert response.data == body


@pytest.mark.parametrize(
    "query", ["page_size=0", "page_size=null", "page_size=201", "page_size=1&page_size=2", "page=1&page=2"]
)
def test_pagination_parameters_are_strict(write_secret, query):
    """The REST API: a page size DRF would silently replace is a 400 naming it."""
    error = assert_error(bearer(write_secret).get(f"{TOKENS}?{query}"), 400)
    assert list(error["fields"]) == [query.split("=")[0]]


def test_an_id_beyond_64_bits_is_a_404(write_secret):
    """The REST API: ``<int:…>`` takes any digits; the database cannot hold them (500)."""
    assert_error(bearer(write_secret).get(f"{TOKENS}{2**64}/"), 404)


def test_any_other_api_address_is_a_json_404(write_secret):
    """The REST API: a malformed path under /api/ answers with the error body too."""
    for url in ["/api/v1/tokens/abc/", "/api/v1/nothing-here/", "/api/v2/"]:
        assert_error(bearer(write_secret).get(url), 404, "not_found")
    assert_error(APIClient().post("/api/v1/organizations/x/", {}, format="json"), 404)
