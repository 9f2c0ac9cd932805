"""Transfers out of the deployment's data region (SEC-6, EN VII): a service hosted in
another region receives a person's data only while that person consents to the
cross-border transfer (its own explicit consent, CON-5 style). The provider API leaves
the others out in its query and counts them; a mini-program hosted abroad is authorized
only with the consent ticked; a withdrawal stops the flow at the next call; every
refusal and every consented transfer is audited."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from consent.models import PURPOSES, ConsentRecord, Decision, Disclosure, PersonalAuthorization, Purpose
from consent.models.sharing import ServiceKind
from consent.services import ledger, personal_apps, sharing, tokens
from consent.services.open_ids import member_open_id
from dataprotection.models import AuditEvent
from organizations.models import MemberStatus
from tests.consent.test_sharing import open_for, third_party
from tests.factories import MemberFactory, UserFactory

pytestmark = pytest.mark.django_db

MEMBERS_URL = "/provider/v1/members"
ME_URL = "/provider/v1/me"


def bearer(raw: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def consent(user, decision=Decision.GRANTED):
    return ledger.record_consent(user=user, purpose=Purpose.CROSS_BORDER, decision=decision, channel="web")


def events(action: str):
    return AuditEvent.objects.filter(action=action)


@pytest.fixture(autouse=True)
def china(settings):
    settings.DATA_REGION = "cn"
    return settings


@pytest.fixture
def abroad(cast):
    """An app hosted in the United States, opened by the organization (name scope)."""
    service = third_party(code="us-crm", scopes=["name"])
    service.hosting_region = "us"
    service.save()
    return service, open_for(cast, service)


@pytest.fixture
def mini_program():
    app = third_party(code="sg-bee", scopes=[], kind=ServiceKind.MINI_PROGRAM)
    app.hosting_region = "sg"
    app.save()
    return app


# --------------------------------------------------------------------------- the purpose and the catalog


def test_the_cross_border_purpose_is_explicit_and_never_bundled(cast):
    """SEC-6, CON-5: the consent is its own decision: no record is no consent, and it is
    never granted together with other purposes."""
    assert PURPOSES[Purpose.CROSS_BORDER].sensitive
    assert not ledger.has_consent(cast.member_user, Purpose.CROSS_BORDER)
    with pytest.raises(ValidationError):
        ledger.set_consents(
            user=cast.member_user,
            decisions={Purpose.MARKETING: Decision.GRANTED, Purpose.CROSS_BORDER: Decision.GRANTED},
            channel="web",
        )
    assert not ConsentRecord.objects.exists()


@pytest.mark.parametrize(
    ("deployment", "hosting", "outside"),
    [
        ("cn", "", False),
        ("cn", "cn", False),
        ("cn", "sg", True),
        ("cn", "us", True),
        ("sg", "sg", False),
        ("sg", "cn", True),
    ],
)
def test_a_service_knows_whether_it_is_hosted_outside_the_region(china, deployment, hosting, outside):
    china.DATA_REGION = deployment
    service = third_party()
    service.hosting_region = hosting
    assert service.hosted_outside_region is outside


# --------------------------------------------------------------------------- provider API: members


def test_only_consenting_members_are_sent_and_the_others_counted(client, cast, abroad):
    """SEC-6: members without the consent, with a withdrawn one, or without an account
    are left out, counted in the answer and in one audit event; only the consenting
    member is disclosed, and the transfer is audited."""
    service, grant = abroad
    consent(cast.member_user)
    withdrawn = MemberFactory(organization=cast.organization, user=UserFactory())
    consent(withdrawn.user)
    consent(withdrawn.user, Decision.WITHDRAWN)
    MemberFactory(organization=cast.organization, user=UserFactory())  # never asked
    MemberFactory(organization=cast.organization)  # no personal account
    MemberFactory(organization=cast.organization, user=UserFactory(), status=MemberStatus.LEFT)
    raw, _token = tokens.issue_token(grant=grant)
    body = client.get(MEMBERS_URL, **bearer(raw)).json()
    assert [item["member_id"] for item in body["data"]] == [member_open_id(service.code, cast.member.pk)]
    assert body["cross_border"]["members_withheld"] == 3
    assert body["cross_border"]["hosting_region"] == "us"
    assert list(Disclosure.objects.values_list("member_id", flat=True)) == [cast.member.pk]
    transferred = events("cross_border.transferred").get()
    assert (transferred.organization_id, transferred.metadata["members"]) == (cast.organization.pk, 1)
    assert transferred.metadata["hosting_region"] == "us"
    withheld = events("cross_border.withheld").get()
    assert (withheld.metadata["members"], withheld.metadata["reason"]) == (3, "no_cross_border_consent")


def test_a_service_hosted_in_the_region_is_not_filtered(client, cast):
    """SEC-6: no transfer out of the region, so no cross-border consent is needed."""
    service = third_party(code="local-crm", scopes=["name"])
    service.hosting_region = "cn"
    service.save()
    grant = open_for(cast, service)
    raw, _token = tokens.issue_token(grant=grant)
    body = client.get(MEMBERS_URL, **bearer(raw)).json()
    assert len(body["data"]) == 1 and "cross_border" not in body
    assert not AuditEvent.objects.filter(action__startswith="cross_border.").exists()


def test_on_the_singapore_deployment_a_china_hosted_service_is_abroad(client, cast, china):
    china.DATA_REGION = "sg"
    service = third_party(code="cn-crm", scopes=["name"])
    service.hosting_region = "cn"
    service.save()
    raw, _token = tokens.issue_token(grant=open_for(cast, service))
    body = client.get(MEMBERS_URL, **bearer(raw)).json()
    assert body["data"] == [] and body["cross_border"]["members_withheld"] == 1


def test_withdrawing_stops_the_flow_at_the_next_call(client, cast, abroad):
    """SEC-6: the consent is read at every call; a withdrawal needs no token change."""
    _service, grant = abroad
    consent(cast.member_user)
    raw, _token = tokens.issue_token(grant=grant)
    assert len(client.get(MEMBERS_URL, **bearer(raw)).json()["data"]) == 1
    consent(cast.member_user, Decision.WITHDRAWN)
    body = client.get(MEMBERS_URL, **bearer(raw)).json()
    assert body["data"] == [] and body["cross_border"]["members_withheld"] == 1
    assert Disclosure.objects.get().times == 1  # the second call disclosed nothing


@pytest.mark.parametrize("pairs", [1, 15])
def test_the_filter_is_set_based_with_a_fixed_query_count(client, cast, abroad, pairs, django_assert_num_queries):
    """SEC-6: the consent is a subquery of the page's query plus one count, never a
    check per member: the same number of queries for two new members or for thirty."""
    _service, grant = abroad
    consent(cast.member_user)
    raw, _token = tokens.issue_token(grant=grant)
    client.get(MEMBERS_URL, **bearer(raw))  # warms caches
    for _ in range(pairs):
        consent(MemberFactory(organization=cast.organization, user=UserFactory()).user)
        MemberFactory(organization=cast.organization, user=UserFactory())
    # token, collection settings, the consent count, the page; then in two nested
    # savepoints (4 queries): existing disclosures, UPDATE, INSERT, last_used_at, two audit events
    with django_assert_num_queries(15):  # one more since SEC-3: the children left out
        body = client.get(MEMBERS_URL + "?limit=200", **bearer(raw)).json()
    assert len(body["data"]) == 1 + pairs
    assert body["cross_border"]["members_withheld"] == pairs


# --------------------------------------------------------------------------- mini-programs


def test_authorizing_a_mini_program_abroad_without_the_consent_is_refused(cast, mini_program):
    """SEC-6: refused with a clear message naming the app and where it is hosted;
    nothing authorized, nothing in the ledger; the refusal is audited."""
    with pytest.raises(ValidationError) as caught:
        personal_apps.authorize_mini_program(cast.member_user, mini_program, ip="203.0.113.7")
    assert caught.value.code == "cross_border_consent_required"
    assert "hosted in Singapore, outside the Mainland China region" in caught.value.messages[0]
    assert not PersonalAuthorization.objects.exists()
    assert not ConsentRecord.objects.exists()
    refused = events("cross_border.refused").get()
    assert (refused.actor, refused.subject_user, refused.metadata["service"]) == (
        cast.member_user,
        cast.member_user,
        "sg-bee",
    )


def test_authorizing_with_the_consent_records_it_in_the_ledger(cast, mini_program):
    """SEC-6: the ticked consent is a ledger grant of the cross-border purpose and an
    audit event naming the app and its hosting region."""
    authorization = personal_apps.authorize_mini_program(cast.member_user, mini_program, cross_border_consent=True)
    assert authorization.status == "active"
    assert ledger.has_consent(cast.member_user, Purpose.CROSS_BORDER)
    consented = events("cross_border.consented").get()
    assert consented.metadata == {"service": "sg-bee", "hosting_region": "sg", "data_region": "cn"}
    assert events("mini_program.authorized").get().metadata["hosting_region"] == "sg"


def test_a_mini_program_in_the_region_needs_no_cross_border_consent(cast, mini_program):
    mini_program.hosting_region = ""
    mini_program.save()
    personal_apps.authorize_mini_program(cast.member_user, mini_program)
    assert not ConsentRecord.objects.exists()


def test_me_stops_once_the_consent_is_withdrawn(client, cast, mini_program):
    """SEC-6: the mini-program gets the person's basic information while they consent,
    and a 403 with a clear reason at the next call after they withdraw."""
    authorization = personal_apps.authorize_mini_program(cast.member_user, mini_program, cross_border_consent=True)
    raw, _token = tokens.issue_token(authorization=authorization)
    assert client.get(ME_URL, **bearer(raw)).status_code == 200
    assert events("cross_border.transferred").get().subject_user == cast.member_user
    consent(cast.member_user, Decision.WITHDRAWN)
    response = client.get(ME_URL, **bearer(raw))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "cross_border_consent_required"
    assert events("cross_border.refused").get().subject_user == cast.member_user
    assert Disclosure.objects.get().times == 1


# --------------------------------------------------------------------------- pages


def test_the_authorize_page_asks_for_the_cross_border_consent(client, cast, mini_program):
    """SEC-6: the page says where the app is hosted; without the box ticked the person
    gets the refusal message and nothing is authorized."""
    client.force_login(cast.member_user)
    url = reverse("consent:authorize_app", args=[mini_program.code])
    page = client.get(url).content.decode()
    assert 'data-testid="cross-border-notice"' in page and 'name="cross_border"' in page
    response = client.post(url, {"confirm": "on"})
    assert response.status_code == 200
    assert "tick the cross-border box to authorize it" in response.content.decode()
    assert not PersonalAuthorization.objects.exists()
    response = client.post(url, {"confirm": "on", "cross_border": "on"})
    assert response.status_code == 302
    assert PersonalAuthorization.objects.get().service == mini_program


def test_the_authorize_page_of_an_app_in_the_region_has_no_cross_border_box(client, cast, mini_program):
    mini_program.hosting_region = "cn"
    mini_program.save()
    client.force_login(cast.member_user)
    page = client.get(reverse("consent:authorize_app", args=[mini_program.code])).content.decode()
    assert 'name="cross_border"' not in page and "cross-border-notice" not in page


def test_opening_a_service_abroad_shows_it_clearly(client, cast):
    """SEC-6: the administrator sees where the service is hosted, that it is outside the
    region and what that means for members, before opening it."""
    service = third_party(code="us-crm", scopes=["name"])
    service.hosting_region = "us"
    service.save()
    client.force_login(cast.owner)
    page = client.get(reverse("consent:service_open", args=[cast.organization.pk, service.pk])).content.decode()
    assert 'data-testid="hosting-region">United States<' in page
    assert "outside the Mainland China region where your organization" in page
    listing = client.get(reverse("consent:services", args=[cast.organization.pk])).content.decode()
    assert 'data-testid="hosted-abroad"' in listing


def test_the_detail_page_counts_the_consenting_members(client, cast, abroad):
    service, _grant = abroad
    consent(cast.member_user)
    MemberFactory(organization=cast.organization, user=UserFactory())
    client.force_login(cast.owner)
    page = client.get(reverse("consent:service_detail", args=[cast.organization.pk, service.pk])).content.decode()
    assert "1 of 2 members consent now." in page
    assert sharing.cross_border_counts(cast.organization) == {"total": 2, "consenting": 1}


def test_the_consent_can_be_withdrawn_on_the_privacy_page(client, cast):
    """SEC-6, CON-5: the privacy settings show the cross-border consent on its own
    explicit form, so it can be given and withdrawn there."""
    consent(cast.member_user)
    client.force_login(cast.member_user)
    page = client.get(reverse("consent:privacy")).content.decode()
    assert "Transfer of my data outside this data region" in page
