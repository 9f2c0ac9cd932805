"""Policy versions in the operations console, the data migration with the three real
texts, and the ``load_policy`` command (CON-6)."""

from __future__ import annotations

import importlib
from datetime import date

import pytest
from django.apps import apps as django_apps
from django.core.management import CommandError, call_command

from consent.models import PolicyAcknowledgement, PolicyText, PolicyVersion
from dataprotection.models import AuditEvent
from tests.consent.test_policies import joined_before, make_version, significant_version
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/ops/consent/policyversion/"
POLICY_TEXTS_MIGRATION = importlib.import_module("consent.migrations.0003_policy_texts")


@pytest.fixture
def published_policies():
    """The three real policies as the data migration loads them (loaded again here: a
    transactional test that ran earlier in the same process, as xdist may schedule it,
    emptied the migration's rows; the migration's function changes nothing when they
    are there)."""
    POLICY_TEXTS_MIGRATION.add_published_policies(django_apps, None)


@pytest.fixture
def staff_client(client):
    staff = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(staff)
    client.staff = staff
    return client


# --------------------------------------------------------------------------- console


def inline_management(prefix="texts", total=0, initial=0) -> dict:
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def test_staff_create_a_draft_with_texts_and_publish_it(staff_client):
    """CON-6: operations staff write a draft with its texts and publish it with the
    action, which goes through the service (audited)."""
    response = staff_client.post(
        f"{CHANGELIST}add/",
        {
            "edition": "international",
            "version": "2030-01",
            "effective_on": "2030-01-15",
            "significant": "on",
            "significant_changes": ["rights"],
            "summary": "New rights page.",
            **inline_management(total=1),
            "texts-0-language": "en",
            "texts-0-part": "main",
            "texts-0-title": "Privacy Policy",
            "texts-0-body": "Text.",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    version = PolicyVersion.objects.get(edition="international", version="2030-01")
    assert version.published_at is None
    assert version.significant_changes == ["rights"]
    assert version.texts.get().body == "Text."
    assert AuditEvent.objects.filter(action="policy.draft_created", actor=staff_client.staff).exists()
    assert AuditEvent.objects.filter(action="policy.text_saved").exists()

    response = staff_client.post(
        CHANGELIST, {"action": "publish_versions", "_selected_action": [version.pk]}, follow=True
    )
    assert "1 version was published." in response.content.decode()
    version.refresh_from_db()
    assert version.published_at is not None
    assert AuditEvent.objects.get(action="policy.published").actor == staff_client.staff


def test_publishing_a_version_without_a_main_text_shows_why(staff_client):
    draft = make_version("international", "2030-01", publish=False, texts=(("en", "eea"),))
    data = {"action": "publish_versions", "_selected_action": [draft.pk]}
    response = staff_client.post(CHANGELIST, data, follow=True)
    assert "has no main text yet" in response.content.decode()
    draft.refresh_from_db()
    assert draft.published_at is None


def test_a_published_version_is_read_only_in_the_console(staff_client):
    """CON-6: no save button, no editable text, and a posted change is refused."""
    version = make_version("international", "2030-01")
    url = f"{CHANGELIST}{version.pk}/change/"
    page = staff_client.get(url).content.decode()
    assert 'name="_save"' not in page
    assert 'name="texts-0-body"' not in page
    assert "First paragraph." in page
    response = staff_client.post(
        url,
        {
            "edition": "international",
            "version": "2030-01",
            "effective_on": "2030-01-01",
            "summary": "Sneaky.",
            **inline_management(total=1, initial=1),
            "texts-0-id": version.texts.get().pk,
            "texts-0-version": version.pk,
            "texts-0-language": "en",
            "texts-0-part": "main",
            "texts-0-title": "T",
            "texts-0-body": "Rewritten.",
        },
    )
    assert response.status_code == 403
    assert staff_client.post(f"{CHANGELIST}{version.pk}/delete/", {"post": "yes"}).status_code == 403
    version.refresh_from_db()
    assert version.summary == ""
    assert version.texts.get().body.startswith("First paragraph.")


def test_a_draft_can_still_be_edited(staff_client):
    draft = make_version("international", "2030-01", publish=False)
    text = draft.texts.get()
    response = staff_client.post(
        f"{CHANGELIST}{draft.pk}/change/",
        {
            "edition": "international",
            "version": "2030-01",
            "effective_on": "2030-01-01",
            "summary": "Better.",
            **inline_management(total=1, initial=1),
            "texts-0-id": text.pk,
            "texts-0-version": draft.pk,
            "texts-0-language": "en",
            "texts-0-part": "main",
            "texts-0-title": "T",
            "texts-0-body": "Rewritten.",
        },
    )
    assert response.status_code == 302
    text.refresh_from_db()
    assert text.body == "Rewritten."


def test_the_list_filters_and_counts_acknowledgements(staff_client, django_assert_max_num_queries):
    version = significant_version("mainland", "2030-01")
    for _ in range(3):
        PolicyAcknowledgement.objects.create(user=joined_before(), version=version, language="en")
    with django_assert_max_num_queries(10):
        response = staff_client.get(CHANGELIST, {"edition": "mainland", "significant__exact": "1"})
    assert response.status_code == 200
    rows = response.context["cl"].result_list
    assert [(row.version, row.ack_count) for row in rows] == [("2030-01", 3)]
    assert staff_client.get(CHANGELIST, {"state": "draft"}).context["cl"].result_count == 0


# --------------------------------------------------------------------------- migration


def test_the_migration_loaded_the_three_real_policies(published_policies):
    """CON-6: the three source policies are published versions, not significant, with
    the international addenda as parts."""
    versions = {v.edition: v for v in PolicyVersion.objects.filter(published_at__isnull=False)}
    assert {(e, v.version, v.significant) for e, v in versions.items()} == {
        ("international", "2020-05", False),
        ("dedicated", "2019-01", False),
        ("mainland", "2019-03", False),
    }
    international = {t.part: t for t in versions["international"].texts.all()}
    assert set(international) == {"main", "eea", "japan", "california", "australia"}
    assert "We will also archive the old version of this Policy" in international["main"].body
    assert "Addendum for EEA" not in international["main"].body
    assert "Alibaba (Netherlands) B.V." in international["eea"].body
    assert "Act on the Protection of Personal Information" in international["japan"].body
    assert "California Consumer Privacy Act" in international["california"].body
    assert "Office of the Australian Information Commissioner" in international["australia"].body
    dedicated = versions["dedicated"].texts.get()
    assert (dedicated.language, dedicated.title) == ("zh-hans", "专有钉钉隐私政策")
    assert "本政策适用于专有钉钉产品及服务" in dedicated.body
    mainland = versions["mainland"].texts.get()
    assert mainland.language == "zh-hans"
    assert "最近更新日期：2019年3月21日" in mainland.body
    assert versions["mainland"].effective_on == date(2019, 3, 21)


def test_the_migration_can_run_again_without_duplicates(published_policies):
    POLICY_TEXTS_MIGRATION.add_published_policies(django_apps, None)
    assert PolicyVersion.objects.count() == 3
    assert PolicyText.objects.count() == 7


# --------------------------------------------------------------------------- load_policy


def test_load_policy_builds_a_draft_and_publishes_it(tmp_path):
    """CON-6: a draft is created from a file, extended with another language, then
    published significant with its kinds of change."""
    english, chinese = tmp_path / "en.txt", tmp_path / "zh.txt"
    english.write_text("Our new policy.\n", encoding="utf-8")
    chinese.write_text("新的隐私政策。\n", encoding="utf-8")
    base = ["--edition", "mainland", "--version", "2030-01"]
    call_command("load_policy", *base, "--language", "en", "--title", "Privacy policy", "--file", str(english))
    version = PolicyVersion.objects.get(edition="mainland", version="2030-01")
    assert version.published_at is None
    call_command(
        "load_policy",
        *base,
        "--language",
        "zh-hans",
        "--title",
        "隐私政策",
        "--file",
        str(chinese),
        "--effective-on",
        "2030-02-01",
        "--significant",
        "--change",
        "rights",
        "--change",
        "recipients",
        "--summary",
        "Sharing changes.",
        "--publish",
    )
    version.refresh_from_db()
    assert version.published_at is not None
    assert version.significant
    assert version.significant_changes == ["recipients", "rights"]
    assert version.effective_on == date(2030, 2, 1)
    bodies = dict(version.texts.values_list("language", "body"))
    assert bodies == {"en": "Our new policy.\n", "zh-hans": "新的隐私政策。\n"}


def test_load_policy_never_changes_a_published_version(tmp_path, published_policies):
    source = tmp_path / "p.txt"
    source.write_text("Changed.", encoding="utf-8")
    args = ["--edition", "mainland", "--version", "2019-03", "--language", "en", "--title", "T", "--file", str(source)]
    with pytest.raises(CommandError, match="never change"):
        call_command("load_policy", *args)
    assert not PolicyText.objects.filter(language="en", version__edition="mainland").exists()


def test_load_policy_refuses_a_missing_file_and_a_failed_publish_writes_nothing(tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        call_command(
            "load_policy", "--edition", "mainland", "--version", "2030-01", "--language", "en", "--title", "T",
            "--file", str(tmp_path / "missing.txt"),
        )  # fmt: skip
    source = tmp_path / "addendum.txt"
    source.write_text("Only an addendum.", encoding="utf-8")
    with pytest.raises(CommandError, match="no main text"):
        call_command(
            "load_policy", "--edition", "mainland", "--version", "2030-01", "--language", "en", "--part", "eea",
            "--title", "T", "--file", str(source), "--publish",
        )  # fmt: skip
    assert not PolicyVersion.objects.filter(version="2030-01").exists()
