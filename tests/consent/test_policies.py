"""Policy versions (CON-6, EN VIII): publishing rules, immutability of published texts,
which editions apply to a person, which significant versions they must acknowledge, and
the acknowledgement service with its signed token."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core import signing
from django.core.exceptions import ValidationError
from django.utils import timezone

from consent.models import PolicyAcknowledgement, PolicyText, PolicyVersion
from consent.selectors import policies as selectors
from consent.services import policies as services
from dataprotection.models import AuditEvent
from organizations.models import Edition, OrganizationStatus
from tests.factories import MemberFactory, OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db


def make_version(
    edition="mainland",
    label="2030-01",
    *,
    significant=False,
    changes=(),
    summary="",
    publish=True,
    effective_on=None,
    texts=(("en", "main"),),
    body="First paragraph.\nSecond paragraph.",
    actor=None,
) -> PolicyVersion:
    """A version with texts (main in English by default), published unless told."""
    version = None
    for language, part in texts:
        text = services.add_draft_text(
            edition=edition,
            version_label=label,
            language=language,
            part=part,
            title=f"Policy {label} {part}",
            body=f"{body}\n[{language}/{part}]",
            effective_on=effective_on or date(2030, 1, 1),
            significant=significant,
            changes=list(changes),
            summary=summary,
        )
        version = text.version
    if version is None:
        version = services.save_draft_version(
            PolicyVersion(edition=edition, version=label, effective_on=effective_on or date(2030, 1, 1))
        )
    if publish:
        version = services.publish_policy_version(version, actor=actor)
    return version


def significant_version(edition="mainland", label="2030-01", **kwargs) -> PolicyVersion:
    kwargs.setdefault("changes", ["rights", "contact"])
    kwargs.setdefault("summary", "You can now export your data.")
    return make_version(edition, label, significant=True, **kwargs)


def joined_before(days=30, **kwargs):
    return UserFactory(date_joined=timezone.now() - timedelta(days=days), **kwargs)


# --------------------------------------------------------------------------- publishing


def test_publishing_sets_published_at_and_records_an_event():
    """CON-6: publishing a draft with a main text makes it published, audited."""
    staff = UserFactory(is_staff=True)
    draft = make_version(publish=False)
    assert draft.published_at is None
    version = services.publish_policy_version(draft, actor=staff)
    version.refresh_from_db()
    assert version.published_at is not None
    event = AuditEvent.objects.get(action="policy.published")
    assert event.actor == staff
    assert event.target_id == str(version.pk)


def test_a_version_without_a_main_text_cannot_be_published():
    """CON-6: an addendum alone is not a policy."""
    draft = make_version(publish=False, texts=(("en", "eea"),))
    with pytest.raises(ValidationError) as exc:
        services.publish_policy_version(draft)
    assert exc.value.code == "no_main"
    draft.refresh_from_db()
    assert draft.published_at is None
    assert not AuditEvent.objects.filter(action="policy.published").exists()


def test_a_published_version_is_not_published_again():
    version = make_version()
    with pytest.raises(ValidationError) as exc:
        services.publish_policy_version(version)
    assert exc.value.code == "done"


def test_a_version_older_than_the_current_one_cannot_be_published():
    """CON-6: the current version only moves forward (by label and by effective date)."""
    make_version(label="2030-05", effective_on=date(2030, 5, 1))
    older_label = make_version(label="2030-04", publish=False, effective_on=date(2030, 6, 1))
    with pytest.raises(ValidationError) as exc:
        services.publish_policy_version(older_label)
    assert exc.value.code == "older"
    older_date = make_version(label="2030-06", publish=False, effective_on=date(2030, 4, 1))
    with pytest.raises(ValidationError) as exc:
        services.publish_policy_version(older_date)
    assert exc.value.code == "older"
    assert PolicyVersion.objects.filter(edition="mainland", published_at__isnull=False).count() == 2  # + 2019-03


def test_labels_compare_by_their_numbers():
    assert services.version_sort_key("2030-10") > services.version_sort_key("2030-9")
    assert services.version_sort_key("2030-05.1") > services.version_sort_key("2030-05")


def test_a_significant_version_must_say_what_changed():
    """EN VIII: people are told what changed, so a significant version without kinds or
    a summary is refused."""
    draft = make_version(publish=False, significant=True)
    with pytest.raises(ValidationError) as exc:
        services.publish_policy_version(draft)
    assert exc.value.code == "no_changes"


def test_unknown_kinds_of_change_are_refused():
    with pytest.raises(ValidationError) as exc:
        services.save_draft_version(
            PolicyVersion(
                edition="mainland", version="2030-01", effective_on=date(2030, 1, 1), significant_changes=["x"]
            )
        )
    assert exc.value.code == "changes"
    assert not PolicyVersion.objects.filter(version="2030-01").exists()


# --------------------------------------------------------------------------- immutability


def test_published_texts_never_change():
    """CON-6: the services refuse every edit of a published version and its texts."""
    version = make_version()
    text = version.texts.get()
    text.body = "Rewritten."
    with pytest.raises(ValidationError) as exc:
        services.save_draft_text(text)
    assert exc.value.code == "published"
    with pytest.raises(ValidationError):
        services.save_draft_text(PolicyText(version=version, language="zh-hans", part="main", title="T", body="B"))
    with pytest.raises(ValidationError):
        services.delete_draft_text(version.texts.get())
    version.summary = "Changed afterwards."
    with pytest.raises(ValidationError):
        services.save_draft_version(version)
    with pytest.raises(ValidationError):
        services.add_draft_text(
            edition="mainland", version_label="2030-01", language="en", part="main", title="T", body="B"
        )
    stored = PolicyVersion.objects.get(pk=version.pk)
    assert stored.summary == ""
    assert list(stored.texts.values_list("body", flat=True)) == ["First paragraph.\nSecond paragraph.\n[en/main]"]


def test_a_draft_can_be_extended_and_its_texts_replaced():
    make_version(publish=False)
    text = services.add_draft_text(
        edition="mainland", version_label="2030-01", language="en", part="main", title="New", body="Replaced."
    )
    services.add_draft_text(
        edition="mainland", version_label="2030-01", language="zh-hans", part="main", title="新", body="中文。"
    )
    assert text.version.texts.count() == 2
    assert text.version.texts.get(language="en").body == "Replaced."


# --------------------------------------------------------------------------- editions


def test_the_deployment_region_decides_the_general_edition(settings):
    """CON-6 / SEC-6: a mainland deployment shows the mainland edition, Singapore the
    international one."""
    user = UserFactory()
    settings.DATA_REGION = "cn"
    assert selectors.editions_for(user) == {"mainland"}
    settings.DATA_REGION = "sg"
    assert selectors.editions_for(user) == {"international"}


def test_active_members_of_a_dedicated_organization_also_have_the_dedicated_edition():
    """ZH-DED: the dedicated edition applies to members of dedicated organizations only
    while they are active members of a live organization."""
    dedicated = OrganizationFactory(edition=Edition.DEDICATED)
    member = MemberFactory(organization=dedicated, user=UserFactory(), status="active").user
    invited = MemberFactory(organization=dedicated, user=UserFactory(), status="invited").user
    left = MemberFactory(organization=dedicated, user=UserFactory(), status="left").user
    standard = MemberFactory(organization=OrganizationFactory(), user=UserFactory(), status="active").user
    gone_org = OrganizationFactory(edition=Edition.DEDICATED, status=OrganizationStatus.DISBANDED)
    gone = MemberFactory(organization=gone_org, user=UserFactory(), status="active").user
    assert selectors.editions_for(member) == {"mainland", "dedicated"}
    for user in (invited, left, standard, gone):
        assert selectors.editions_for(user) == {"mainland"}


def test_a_visitor_has_the_deployment_edition_without_a_query(django_assert_num_queries):
    from django.contrib.auth.models import AnonymousUser

    with django_assert_num_queries(0):
        assert selectors.editions_for(AnonymousUser()) == {"mainland"}


# --------------------------------------------------------------------------- pending


def test_pending_counts_only_versions_published_after_the_person_registered(django_assert_num_queries):
    """CON-6: a person who registered after a version was published accepted it then."""
    earlier = joined_before(days=30)
    version = significant_version()
    later = UserFactory(date_joined=timezone.now() + timedelta(seconds=1))
    with django_assert_num_queries(1):
        assert selectors.pending_significant_versions(earlier) == [version]
    assert selectors.pending_significant_versions(later) == []


def test_non_significant_drafts_and_acknowledged_versions_are_not_pending():
    person = joined_before()
    make_version(label="2030-01")
    significant_version(label="2030-02", publish=False)
    assert selectors.pending_significant_versions(person) == []
    published = services.publish_policy_version(PolicyVersion.objects.get(version="2030-02"))
    assert selectors.pending_significant_versions(person) == [published]
    PolicyAcknowledgement.objects.create(user=person, version=published, language="en")
    assert selectors.pending_significant_versions(person) == []


def test_only_the_newest_significant_version_of_an_edition_is_pending():
    """A newer significant version supersedes an older unacknowledged one; a later
    non-significant version does not hide it."""
    person = joined_before()
    significant_version(label="2030-01")
    newest = significant_version(label="2030-02", effective_on=date(2030, 2, 1))
    make_version(label="2030-03", effective_on=date(2030, 3, 1))
    assert selectors.pending_significant_versions(person) == [newest]


def test_the_dedicated_edition_is_pending_only_for_its_members(django_assert_num_queries):
    member = joined_before()
    MemberFactory(organization=OrganizationFactory(edition=Edition.DEDICATED), user=member)
    outsider = joined_before()
    dedicated = significant_version(edition="dedicated", label="2030-01")
    mainland = significant_version(edition="mainland", label="2030-01")
    with django_assert_num_queries(1):
        assert {v.pk for v in selectors.pending_significant_versions(member)} == {dedicated.pk, mainland.pk}
    assert selectors.pending_significant_versions(outsider) == [mainland]


def test_another_regions_edition_is_never_pending():
    person = joined_before()
    significant_version(edition="international")
    assert selectors.pending_significant_versions(person) == []


# --------------------------------------------------------------------------- acknowledging


def test_acknowledging_records_one_row_and_an_event():
    """CON-6: the person's acknowledgement is kept, with the language they read."""
    person = joined_before()
    version = significant_version()
    token = services.acknowledgement_token(person, [version.pk])
    rows = services.acknowledge_policy_versions(person, [version.pk], token, "zh-hans", ip="203.0.113.5")
    assert len(rows) == 1
    ack = PolicyAcknowledgement.objects.get(user=person)
    assert (ack.version, ack.language) == (version, "zh-hans")
    event = AuditEvent.objects.get(action="policy.acknowledged")
    assert event.actor == person
    assert event.ip_address == "203.0.113.5"
    assert selectors.pending_significant_versions(person) == []


@pytest.mark.parametrize("forgery", ["garbage", "other_person", "other_versions", "tampered", "wrong_salt"])
def test_a_forged_token_writes_nothing(forgery):
    """CON-6: the token binds the person and the versions; anything else is refused."""
    person = joined_before()
    version = significant_version()
    other_version = significant_version(edition="dedicated")
    token = {
        "garbage": "not-a-token",
        "other_person": services.acknowledgement_token(joined_before(), [version.pk]),
        "other_versions": services.acknowledgement_token(person, [other_version.pk]),
        "tampered": services.acknowledgement_token(person, [version.pk])[:-2] + "xx",
        "wrong_salt": signing.dumps({"u": person.pk, "v": [version.pk]}),
    }[forgery]
    with pytest.raises(ValidationError) as exc:
        services.acknowledge_policy_versions(person, [version.pk], token, "en")
    assert exc.value.code == "token"
    assert not PolicyAcknowledgement.objects.exists()
    assert not AuditEvent.objects.filter(action="policy.acknowledged").exists()


def test_an_expired_token_writes_nothing(monkeypatch):
    person = joined_before()
    version = significant_version()
    token = services.acknowledgement_token(person, [version.pk])
    monkeypatch.setattr(services, "ACK_TOKEN_MAX_AGE", -1)
    with pytest.raises(ValidationError) as exc:
        services.acknowledge_policy_versions(person, [version.pk], token, "en")
    assert exc.value.code == "expired"
    assert not PolicyAcknowledgement.objects.exists()


def test_a_replayed_acknowledgement_adds_no_row():
    person = joined_before()
    version = significant_version()
    token = services.acknowledgement_token(person, [version.pk])
    services.acknowledge_policy_versions(person, [version.pk], token, "en")
    assert services.acknowledge_policy_versions(person, [version.pk], token, "en") == []
    assert PolicyAcknowledgement.objects.filter(user=person).count() == 1
    assert AuditEvent.objects.filter(action="policy.acknowledged").count() == 1


def test_a_stale_version_is_refused_when_a_newer_one_was_published():
    """CON-6: a newer significant version published while the page was open must be
    read first; nothing is written for the old one."""
    person = joined_before()
    old = significant_version(label="2030-01")
    token = services.acknowledgement_token(person, [old.pk])
    newer = significant_version(label="2030-02", effective_on=date(2030, 2, 1))
    with pytest.raises(ValidationError) as exc:
        services.acknowledge_policy_versions(person, [old.pk], token, "en")
    assert exc.value.code == "stale"
    assert not PolicyAcknowledgement.objects.exists()
    assert selectors.pending_significant_versions(person) == [newer]


def test_versions_that_do_not_apply_or_are_not_significant_cannot_be_acknowledged():
    person = joined_before()
    international = significant_version(edition="international")
    plain = make_version(label="2030-01")
    draft = significant_version(label="2030-02", publish=False, effective_on=date(2030, 2, 1))
    for version in (international, plain, draft):
        token = services.acknowledgement_token(person, [version.pk])
        with pytest.raises(ValidationError) as exc:
            services.acknowledge_policy_versions(person, [version.pk], token, "en")
        assert exc.value.code == "unknown"
    assert not PolicyAcknowledgement.objects.exists()


def test_a_text_cannot_be_moved_out_of_a_published_version():
    published = make_version(label="2030-01")
    draft = make_version(label="2030-02", publish=False, effective_on=date(2030, 2, 1))
    text = published.texts.get()
    text.version = draft
    with pytest.raises(ValidationError) as exc:
        services.save_draft_text(text)
    assert exc.value.code == "published"
    assert published.texts.count() == 1


def test_bodies_become_paragraphs_with_section_lines_in_bold():
    """Plain-text bodies: one paragraph per non-blank line; short section lines stand out."""
    from consent.views.policies import paragraphs

    blocks = paragraphs("I. How we collect\n\n\xa0\n(II) Sharing\n一、我们如何收集\nI. " + "long " * 30 + "\nPlain.")
    assert [(b.text[:10], b.heading) for b in blocks] == [
        ("I. How we ", True),
        ("(II) Shari", True),
        ("一、我们如何收集", True),
        ("I. long lo", False),
        ("Plain.", False),
    ]


def test_the_console_form_wants_significant_ticked_for_kinds_of_change():
    from consent.forms.policies import PolicyVersionAdminForm

    data = {
        "edition": "mainland",
        "version": "2030-01",
        "effective_on": "2030-01-01",
        "significant_changes": ["rights"],
    }
    form = PolicyVersionAdminForm(data)
    assert not form.is_valid()
    assert "significant" in form.errors
    assert PolicyVersionAdminForm({**data, "significant": "on"}).is_valid()
