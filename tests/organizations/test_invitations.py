"""Invitations (ORG-6, ORG-8): the permission matrix of the three pages, the token kept
only as a keyed hash, the SMS carrying the link, one pending invitation per member, the
frozen terms, acceptance linking the member (the consent record), the wrong number,
expired/withdrawn/answered links, compare-and-set answers, declining, and the refusals
for joined members and members without a mobile number."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone, translation

from accounts.models import SMSMessage
from dataprotection.models import AuditEvent
from organizations.context_processors import cached_shutdown_notices
from organizations.models import CollectionSetting, Invitation, InvitationStatus, Member, MemberStatus, Right
from organizations.permissions import org_access
from organizations.services import invitations as services
from organizations.services.grants import grant_rights
from organizations.services.lookups import mobile_digest
from tests.factories import AdministratorFactory, MemberFactory, UserFactory

pytestmark = pytest.mark.django_db

MOBILE = "+8613912345678"
LINK = re.compile(r"(https?://[^\s]+/orgs/invitations/([\w-]+)/)")


@pytest.fixture
def invitee(cast):
    """A roster entry in Sales East whose person has not joined yet."""
    return MemberFactory(
        organization=cast.organization,
        department=cast.sales_east,
        name="Invitee",
        status=MemberStatus.INVITED,
        mobile=MOBILE,
        mobile_digest=mobile_digest(MOBILE),
    )


@pytest.fixture
def person(db):
    """The invitee's personal account: registered with the invited number."""
    return UserFactory(phone=MOBILE, name="Invited Person")


@pytest.fixture
def viewer(cast):
    """A sub-administrator who may view the Sales roster but not edit it."""
    user = UserFactory(name="Viewer")
    AdministratorFactory(organization=cast.organization, user=user, scope=[cast.sales])
    grant_rights(user, [Right.VIEW_ROSTER], cast.sales)
    return user


def invite_url(cast, member) -> str:
    return reverse("organizations:member_invite", kwargs={"org_id": cast.organization.pk, "member_id": member.pk})


def list_url(cast) -> str:
    return reverse("organizations:invitations", args=[cast.organization.pk])


def answer_url(token: str) -> str:
    return reverse("organizations:invitation_answer", kwargs={"token": token})


def sms_link(outbox, phone: str = MOBILE) -> tuple[str, str]:
    """The invitation link and its token in the newest SMS to ``phone``."""
    for message in reversed(outbox):
        if message["to"] == phone:
            match = LINK.search(message["body"])
            assert match, message["body"]
            return match.group(1), match.group(2)
    raise AssertionError(f"no SMS was sent to {phone}")


@pytest.fixture
def send(client, cast, sms_outbox, django_capture_on_commit_callbacks):
    """Invite ``member`` as ``admin`` (the owner by default) through the page; returns
    the token read from the SMS."""

    def send(member, admin=None, message="") -> str:
        client.force_login(admin or cast.owner)
        with django_capture_on_commit_callbacks(execute=True):  # the SMS goes out on commit
            response = client.post(invite_url(cast, member), {"message": message})
        assert response.status_code == 302, response.content.decode()[:2000]
        client.logout()
        return sms_link(sms_outbox, member.mobile)[1]

    return send


def client_as(client, cast, role, **extra):
    users = {"viewer": extra.get("viewer"), "person": extra.get("person")}
    if role != "anonymous":
        client.force_login(users.get(role) or getattr(cast, role))
    return client


# --------------------------------------------------------------------------- permission matrix


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("owner", 200),
        ("sub_admin", 200),
        ("viewer", 403),
        ("out_of_scope_sub_admin", 404),
        ("other_org_admin", 404),
        ("member_user", 404),
        ("anonymous", 302),
    ],
)
def test_invite_page_matrix(client, cast, invitee, viewer, role, expected):
    response = client_as(client, cast, role, viewer=viewer).get(invite_url(cast, invitee))
    assert response.status_code == expected
    if role == "anonymous":
        assert response["Location"].startswith("/accounts/sign-in/")
    posted = client.post(invite_url(cast, invitee), {"message": "Hi"})
    assert posted.status_code == (302 if expected == 200 else expected)
    assert Invitation.objects.exists() == (expected == 200)


@pytest.mark.parametrize(
    ("role", "expected", "sees_invitee"),
    [
        ("owner", 200, True),
        ("sub_admin", 200, True),
        ("out_of_scope_sub_admin", 200, False),  # edit_roster on Engineering only
        ("viewer", 403, False),
        ("other_org_admin", 404, False),
        ("member_user", 404, False),
        ("anonymous", 302, False),
    ],
)
def test_invitation_list_matrix(client, cast, invitee, viewer, send, role, expected, sees_invitee):
    send(invitee)
    engineer = MemberFactory(
        organization=cast.organization, department=cast.engineering, name="Engineer", mobile="+8613900000001"
    )
    send(engineer)
    response = client_as(client, cast, role, viewer=viewer).get(list_url(cast))
    assert response.status_code == expected
    if expected == 200:
        shown = {invitation.member_id for invitation in response.context["invitations"]}
        assert (invitee.pk in shown) == sees_invitee
        assert (engineer.pk in shown) == (role in ("owner", "out_of_scope_sub_admin"))


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("owner", 302),
        ("sub_admin", 302),
        ("viewer", 403),
        ("out_of_scope_sub_admin", 404),
        ("other_org_admin", 404),
        ("member_user", 404),
        ("anonymous", 302),
    ],
)
def test_revoke_matrix(client, cast, invitee, viewer, send, role, expected):
    """Withdrawing is a POST on the list; outside the scope the invitation is 404."""
    send(invitee)
    invitation = Invitation.objects.get()
    response = client_as(client, cast, role, viewer=viewer).post(list_url(cast), {"revoke": invitation.pk})
    assert response.status_code == expected
    invitation.refresh_from_db()
    revoked = role in ("owner", "sub_admin")
    assert invitation.status == (InvitationStatus.REVOKED if revoked else InvitationStatus.PENDING)
    assert AuditEvent.objects.filter(action="invitation.revoked").exists() == revoked
    if revoked:
        assert response["Location"] == list_url(cast)


def test_revoke_of_another_organizations_invitation_is_404(client, cast, invitee, send):
    send(invitee)
    invitation = Invitation.objects.get()
    other_org = cast.other_org_admin.administrations.get().organization
    client.force_login(cast.other_org_admin)
    response = client.post(reverse("organizations:invitations", args=[other_org.pk]), {"revoke": invitation.pk})
    assert response.status_code == 404
    assert client.post(reverse("organizations:invitations", args=[other_org.pk]), {"revoke": "x"}).status_code == 404
    assert Invitation.objects.get().status == InvitationStatus.PENDING


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("person", 200),
        ("owner", 403),  # signed in, but with another number
        ("member_user", 403),
        ("anonymous", 302),
    ],
)
def test_answer_page_matrix(client, cast, invitee, person, send, role, expected):
    token = send(invitee)
    response = client_as(client, cast, role, person=person).get(answer_url(token))
    assert response.status_code == expected
    if role == "anonymous":
        assert response["Location"] == f"/accounts/sign-in/?next={answer_url(token)}"
    elif expected == 403:
        assert "This invitation was sent to another number" in response.content.decode()
        assert "Hangzhou Example Co." not in response.content.decode()


def test_unknown_token_is_404(client, person):
    client.force_login(person)
    assert client.get(answer_url("not-a-token")).status_code == 404


# --------------------------------------------------------------------------- sending


def test_invite_sends_sms_with_link_and_stores_only_the_digest(client, cast, invitee, send, sms_outbox):
    token = send(invitee, message="Welcome to the team!")
    link, _token = sms_link(sms_outbox)
    assert link == f"http://testserver/orgs/invitations/{token}/"
    body = next(message["body"] for message in sms_outbox if message["to"] == MOBILE)
    assert "Hangzhou Example Co." in body and "Welcome to the team!" in body

    invitation = Invitation.objects.get()
    assert invitation.token_digest == services.token_digest(token) != token
    assert invitation.status == InvitationStatus.PENDING
    assert invitation.invited_by == cast.owner
    assert invitation.message == "Welcome to the team!"
    assert timedelta(days=13, hours=23) < invitation.expires_at - invitation.created_at <= timedelta(days=14)
    with connection.cursor() as cursor:
        for table in (Invitation._meta.db_table, SMSMessage._meta.db_table, AuditEvent._meta.db_table):
            cursor.execute(f"SELECT * FROM {table}")
            dump = repr(cursor.fetchall())
            assert token not in dump, table
    event = AuditEvent.objects.get(action="invitation.sent")
    assert event.organization_id == cast.organization.pk and event.actor == cast.owner
    assert event.metadata["member"] == invitee.pk and MOBILE not in repr(event.metadata)


def test_terms_list_collected_fields_with_purpose_and_controller(client, cast, invitee, send):
    CollectionSetting.objects.create(
        organization=cast.organization, field="id_number", enabled=True, purpose="Social insurance filing"
    )
    CollectionSetting.objects.create(organization=cast.organization, field="office_email", enabled=False)
    send(invitee)
    terms = services.readable_terms(Invitation.objects.get().shown_terms)
    by_field = {field["field"]: field for field in terms["fields"]}
    assert terms["organization"]["name"] == "Hangzhou Example Co."
    assert by_field["id_number"]["purpose"] == "Social insurance filing"
    assert by_field["id_number"]["group_label"] == "Identity" and by_field["id_number"]["sensitive"]
    assert by_field["position"]["purpose"] == "Show the organization chart"  # a default that is on
    assert {"name", "mobile"} <= set(by_field)
    assert "office_email" not in by_field and "bank_card" not in by_field  # off or never turned on
    assert "Hangzhou Example Co. is the controller" in terms["controller"]
    assert terms["purpose"] and terms["use"]


def test_reinvite_revokes_the_pending_invitation(client, cast, invitee, person, send):
    first = send(invitee)
    second = send(invitee, admin=cast.sub_admin)
    assert first != second
    statuses = dict(Invitation.objects.values_list("token_digest", "status"))
    assert statuses == {
        services.token_digest(first): InvitationStatus.REVOKED,
        services.token_digest(second): InvitationStatus.PENDING,
    }
    assert AuditEvent.objects.filter(action="invitation.sent").order_by("pk").last().metadata["replaced"] == [
        Invitation.objects.get(token_digest=services.token_digest(first)).pk
    ]
    client.force_login(person)
    old = client.get(answer_url(first))
    assert old.status_code == 410 and "withdrawn" in old.content.decode()
    assert client.get(answer_url(second)).status_code == 200


def test_invite_refused_for_a_joined_member(client, cast, sms_outbox):
    client.force_login(cast.owner)
    response = client.post(invite_url(cast, cast.member), {"message": ""})
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "organizations:member", kwargs={"org_id": cast.organization.pk, "member_id": cast.member.pk}
    )
    assert not Invitation.objects.exists() and sms_outbox == []
    with pytest.raises(services.InvitationRefused) as refused:
        services.invite_member(org_access(cast.owner, cast.organization.pk), cast.member, base_url="http://x")
    assert refused.value.code == "joined"


def test_invite_refused_without_a_mobile_number(client, cast, sms_outbox, django_capture_on_commit_callbacks):
    nomobile = MemberFactory(organization=cast.organization, department=cast.sales, name="No Mobile")
    client.force_login(cast.owner)
    page = client.get(invite_url(cast, nomobile)).content.decode()
    assert "has no mobile number" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(invite_url(cast, nomobile), {"message": ""})
    assert response.status_code == 200
    assert "has no mobile number on the roster" in response.content.decode()
    assert not Invitation.objects.exists() and sms_outbox == []
    with pytest.raises(services.InvitationRefused) as refused:
        services.invite_member(org_access(cast.owner, cast.organization.pk), nomobile, base_url="http://x")
    assert refused.value.code == "no_mobile"
    assert "No Mobile has no mobile number on the roster" in refused.value.messages[0]


def test_roster_detail_offers_invite_only_for_members_not_joined(client, cast, invitee, viewer):
    client.force_login(cast.owner)
    detail = reverse("organizations:member", kwargs={"org_id": cast.organization.pk, "member_id": invitee.pk})
    assert invite_url(cast, invitee) in client.get(detail).content.decode()
    joined = reverse("organizations:member", kwargs={"org_id": cast.organization.pk, "member_id": cast.member.pk})
    assert invite_url(cast, cast.member) not in client.get(joined).content.decode()
    assert list_url(cast) in client.get(detail).content.decode()  # the nav link
    client.force_login(viewer)
    page = client.get(detail).content.decode()
    assert invite_url(cast, invitee) not in page and list_url(cast) not in page


# --------------------------------------------------------------------------- answering


def test_accept_links_the_member_and_records_the_terms(client, cast, invitee, person, send):
    CollectionSetting.objects.create(
        organization=cast.organization, field="home_address", enabled=True, purpose="Commuter bus routes"
    )
    token = send(invitee, message="Glad to have you")
    client.force_login(person)
    page = client.get(answer_url(token)).content.decode()
    for text in ("Hangzhou Example Co. invites you to join", "Glad to have you", "Commuter bus routes",
                 "is the controller of this organization-control data", "Accept and join", "Decline"):  # fmt: skip
        assert text in page
    response = client.post(answer_url(token), {"decision": "accept"})
    assert response.status_code == 302 and response["Location"] == reverse("organizations:my_data")

    invitee.refresh_from_db()
    invitation = Invitation.objects.get()
    assert invitee.user == person and invitee.status == MemberStatus.ACTIVE
    assert invitation.status == InvitationStatus.ACCEPTED
    assert invitation.accepted_by == person and invitation.responded_at is not None
    assert "home_address" in {field["field"] for field in invitation.shown_terms["fields"]}
    event = AuditEvent.objects.get(action="invitation.accepted")
    assert event.subject_user == person and event.actor == person
    assert event.organization_id == cast.organization.pk
    assert "home_address" in event.metadata["fields"]

    my_data = client.get(reverse("organizations:my_data")).content.decode()
    assert "Hangzhou Example Co." in my_data and "You joined Hangzhou Example Co." in my_data
    answered = client.get(answer_url(token))
    assert answered.status_code == 410 and "already been answered" in answered.content.decode()


def test_wrong_number_changes_nothing(client, cast, invitee, send):
    token = send(invitee)
    stranger = UserFactory(phone="+8613700009999")
    client.force_login(stranger)
    response = client.post(answer_url(token), {"decision": "accept"})
    assert response.status_code == 403
    assert "This invitation was sent to another number" in response.content.decode()
    invitee.refresh_from_db()
    assert invitee.user is None and Invitation.objects.get().status == InvitationStatus.PENDING
    assert not AuditEvent.objects.filter(action__in=["invitation.accepted", "invitation.declined"]).exists()


@pytest.mark.parametrize(
    ("state", "text"),
    [
        ("expired", "has expired"),
        ("revoked", "withdrawn by the organization"),
        ("accepted", "already been answered"),
        ("declined", "already been answered"),
    ],
)
def test_expired_revoked_and_answered_links_are_refused(client, cast, invitee, person, send, state, text):
    token = send(invitee)
    invitation = Invitation.objects.get()
    if state == "expired":
        Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    else:
        Invitation.objects.filter(pk=invitation.pk).update(status=state)
    client.force_login(person)
    for response in (client.get(answer_url(token)), client.post(answer_url(token), {"decision": "accept"})):
        assert response.status_code == 410
        assert text in response.content.decode()
    invitee.refresh_from_db()
    assert invitee.user is None
    assert not AuditEvent.objects.filter(action__in=["invitation.accepted", "invitation.declined"]).exists()


def test_expired_invitation_is_marked_in_the_list(client, cast, invitee, send):
    send(invitee)
    Invitation.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    client.force_login(cast.owner)
    assert "Expired" in client.get(list_url(cast)).content.decode()


def test_double_acceptance_only_one_wins(cast, invitee, person, send):
    token = send(invitee)
    first, stale = services.find_invitation(token), services.find_invitation(token)
    services.accept_invitation(first, person)
    with pytest.raises(services.InvitationRefused):
        services.accept_invitation(stale, person)  # the stale copy still reads "pending"
    assert AuditEvent.objects.filter(action="invitation.accepted").count() == 1


def test_compare_and_set_refuses_an_answer_that_lost_the_race(cast, invitee, person, send):
    """A decline and an accept in flight together: the one that commits second finds the
    invitation no longer pending and changes nothing."""
    token = send(invitee)
    first, stale = services.find_invitation(token), services.find_invitation(token)
    services.decline_invitation(first, person)
    with pytest.raises(services.InvitationRefused) as refused:
        services.accept_invitation(stale, person)
    assert refused.value.code == "answered"
    invitee.refresh_from_db()
    assert invitee.user is None
    assert Invitation.objects.get().status == InvitationStatus.DECLINED


def test_decline_keeps_the_roster_entry(client, cast, invitee, person, send):
    token = send(invitee)
    client.force_login(person)
    response = client.post(answer_url(token), {"decision": "decline"})
    assert response.status_code == 302
    invitation = Invitation.objects.get()
    assert invitation.status == InvitationStatus.DECLINED and invitation.accepted_by is None
    invitee.refresh_from_db()
    assert invitee.user is None and invitee.status == MemberStatus.INVITED
    assert AuditEvent.objects.filter(action="invitation.declined", subject_user=person).exists()


def test_accept_refused_when_the_person_already_has_a_roster_entry(client, cast, invitee, person, send):
    MemberFactory(organization=cast.organization, user=person, name="Earlier entry")
    token = send(invitee)
    client.force_login(person)
    response = client.post(answer_url(token), {"decision": "accept"})
    assert response.status_code == 409
    assert "You already have a roster entry in Hangzhou Example Co." in response.content.decode()
    invitee.refresh_from_db()
    assert invitee.user is None and Invitation.objects.get().status == InvitationStatus.PENDING


def test_bad_decision_changes_nothing(client, cast, invitee, person, send):
    token = send(invitee)
    client.force_login(person)
    assert client.post(answer_url(token), {"decision": "maybe"}).status_code == 200
    assert Invitation.objects.get().status == InvitationStatus.PENDING


# --------------------------------------------------------------------------- query counts


# session, user, the administrator row, [the grants -- sub-administrators], the page of
# invitations with members and inviters joined
LIST_QUERIES = {"owner": 4, "sub_admin": 5}


@pytest.mark.parametrize("role", ["owner", "sub_admin"])
@pytest.mark.parametrize("count", [2, 20])
def test_invitation_list_query_count_is_constant(client, cast, send, django_assert_num_queries, role, count):
    for index in range(count):
        member = MemberFactory(
            organization=cast.organization, department=cast.sales, mobile=f"+86139{index:08d}", status="invited"
        )
        send(member, admin=cast.sub_admin if index % 2 else cast.owner)
    client.force_login(getattr(cast, role))
    cached_shutdown_notices()  # the ANON-6 banners' list is cached for a minute: warm, as in steady state
    with django_assert_num_queries(LIST_QUERIES[role]):
        response = client.get(list_url(cast))
    assert len(response.context["invitations"]) == count


def test_invitation_list_is_paginated(client, cast, send):
    admin = cast.owner
    for index in range(52):
        member = MemberFactory(organization=cast.organization, department=cast.sales, mobile=f"+86139{index:08d}")
        Invitation.objects.create(
            organization=cast.organization,
            member=member,
            token_digest=services.token_digest(f"t{index}"),
            invited_by=admin,
            expires_at=timezone.now() + timedelta(days=1),
        )
    client.force_login(admin)
    first, second = client.get(list_url(cast)), client.get(list_url(cast) + "?page=2")
    assert len(first.context["invitations"]) == 50 and first.context["has_next"]
    assert len(second.context["invitations"]) == 2 and not second.context["has_next"]
    assert Member.objects.filter(organization=cast.organization).count() >= 52


def test_the_invitee_reads_the_terms_in_their_own_language(client, cast, invitee, person, send):
    """ORG-6: the terms are frozen when the (English-speaking) administrator sends the
    invitation, as message keys: the Chinese-speaking invitee reads the portal's
    sentences and labels in Chinese; the organization's own purposes as it wrote them."""
    CollectionSetting.objects.create(
        organization=cast.organization, field="id_number", enabled=True, purpose="Social insurance filing"
    )
    token = send(invitee)
    stored = Invitation.objects.get().shown_terms
    assert "msgid" in stored["controller"] and stored["fields"][0]["label"] == {"msgid": "name", "capfirst": True}
    client.force_login(person)
    client.cookies["django_language"] = "zh-hans"
    page = client.get(reverse("organizations:invitation_answer", args=[token])).content.decode()
    assert "Hangzhou Example Co. is the controller" not in page
    assert "Hangzhou Example Co." in page and "Social insurance filing" in page
    with translation.override("zh-hans"):
        controller = services.readable_terms(stored)["controller"]
    assert controller in page and controller.startswith("Hangzhou Example Co.")
