"""The operations console reads like the portal: every recorded action has a
human label, choices show their labels, organizations their names, a job's details are
formatted instead of raw JSON, and the console is in Chinese throughout -- django-otp's
apps included."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.apps import apps
from django.urls import reverse
from django.utils import translation

from dataprotection import audit
from dataprotection.audit import record_event
from dataprotection.audit_labels import ACTION_LABELS, OTHER_ACTION, action_label
from dataprotection.job_details import render_job_details
from dataprotection.models import AnonymizationJob, JobKind, JobStatus

ROOT = Path(__file__).resolve().parent.parent.parent
APPS = ("accounts", "organizations", "consent", "requests", "dataprotection", "config")
AUDIT_CALLS = {"record_event", "audit_request", "_decide"}


def recorded_action_codes() -> dict[str, str]:
    """Every action code the source records as a literal: the first argument of
    ``record_event``/``audit_request`` (both branches of a conditional included), an
    ``action=`` keyword, and the codes ``_decide`` is given."""
    codes: dict[str, str] = {}
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.Call):
                    continue
                name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
                expressions = [kw.value for kw in node.keywords if kw.arg == "action"]
                if name in AUDIT_CALLS and node.args:
                    expressions.append(node.args[0] if name != "_decide" else node.args[-1])
                for expression in expressions:
                    for constant in ast.walk(expression):
                        value = constant.value if isinstance(constant, ast.Constant) else None
                        # "request." of f"request.{status}" is a prefix: built codes are tested below.
                        if isinstance(value, str) and "." in value.rstrip(".") and " " not in value:
                            codes.setdefault(value, f"{path.relative_to(ROOT)}:{node.lineno}")
    return codes


def test_every_recorded_action_has_a_label():
    codes = recorded_action_codes()
    assert len(codes) > 90, "the scan should find the project's audit codes"
    missing = {code: where for code, where in codes.items() if code not in ACTION_LABELS}
    assert missing == {}


def test_actions_built_at_run_time_have_labels_too():
    """``request.<status>`` (workflow transitions) and ``consent.<decision>``."""
    from consent.models import Decision
    from requests.models import RequestStatus

    built = {f"request.{status}" for status in RequestStatus.values} | {f"consent.{d}" for d in Decision.values}
    assert built - set(ACTION_LABELS) == set()


def test_an_unknown_code_reads_as_its_domain_never_as_the_code():
    assert action_label("request.frobbed") == "Action on a request"
    assert action_label("widget.frobbed") == str(OTHER_ACTION)
    with translation.override("zh-hans"):
        assert action_label("member.revealed") == "已明文查看敏感字段"
        assert action_label("widget.frobbed") == "其他已记录的操作"


# --------------------------------------------------------------------------- the console pages


@pytest.fixture
def staff_client(client, cast):
    client.force_login(cast.staff)
    return client


@pytest.fixture
def named_organizations(monkeypatch):
    """What organizations registers from its AppConfig.ready(): organization names."""
    from organizations.models import Organization

    monkeypatch.setattr(
        audit,
        "_organization_namers",
        [lambda ids: dict(Organization.objects.filter(pk__in=ids).values_list("pk", "name"))],
    )


@pytest.mark.django_db
def test_audit_list_shows_labels_and_organization_names(staff_client, cast, named_organizations):
    record_event("member.revealed", actor=cast.owner, organization=cast.organization, target=cast.member)
    record_event("request.completed", actor=cast.staff, organization=987654)
    content = staff_client.get(reverse("admin:dataprotection_auditevent_changelist")).content.decode()
    assert "Sensitive field revealed" in content and "Request completed" in content
    assert "Hangzhou Example Co." in content  # the name, not the id
    assert "organization no longer exists (#987654)" in content
    assert 'Member <span translate="no">#' in content  # the target's kind, not its table name
    assert ">Person<" in content  # actor kind in sentence case
    changelist = reverse("admin:dataprotection_auditevent_changelist")
    filtered = staff_client.get(changelist + "?action__exact=member.revealed")
    rows = filtered.content.decode().split('id="result_list"')[1].split("</table>")[0]
    assert "Sensitive field revealed" in rows and "Request completed" not in rows
    assert 'href="?action__exact=request.completed">Request completed</a>' in filtered.content.decode()  # the filter


@pytest.mark.django_db
def test_audit_list_is_fully_chinese(staff_client, cast, named_organizations):
    record_event("member.revealed", actor=cast.owner, organization=cast.organization)
    content = staff_client.get(
        reverse("admin:dataprotection_auditevent_changelist"), HTTP_ACCEPT_LANGUAGE="zh-hans"
    ).content.decode()
    assert "Custodia 运营后台" in content and "Custodia operations" not in content
    assert "已明文查看敏感字段" in content


@pytest.mark.django_db
def test_console_index_names_every_app_in_chinese(staff_client):
    content = staff_client.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    for english in ("OTP_TOTP", "OTP_STATIC", "Otp_Totp", "Static devices", "TOTP devices", "Model name"):
        assert english not in content
    assert "双重验证：身份验证器应用" in content and "双重验证：恢复码" in content
    assert "身份验证器应用" in content and "恢复码组" in content
    assert "运营后台" in content


def test_django_otp_models_keep_their_migration_state():
    """The translated names are runtime labels only: the migration state still has
    django-otp's own (``makemigrations --check`` stays clean, no migration in a
    third-party app)."""
    from django.db.migrations.state import ModelState

    model = apps.get_model("otp_totp", "TOTPDevice")
    state = ModelState.from_model(model)
    assert state.options["verbose_name"] == "TOTP device"
    assert dict(state.fields)["name"].deconstruct()[3].get("verbose_name") is None
    with translation.override("zh-hans"):
        assert str(model._meta.verbose_name_plural) == "身份验证器应用"


@pytest.mark.django_db
def test_job_details_are_formatted_not_raw_json(staff_client, cast, named_organizations):
    job = AnonymizationJob.objects.create(
        kind=JobKind.DISBAND,
        status=JobStatus.COMPLETED,
        organization_id=cast.organization.pk,
        not_before="2026-01-01T00:00:00Z",
        preview={
            "members": 3,
            "grace_days": 7,
            "stages": [{"model": "organizations.Member", "action": "anonymize", "rows": 3}],
        },
        report={
            "verified": True,
            "verified_at": "2026-01-02T03:04:05+00:00",
            "rows_left": 0,
            "stages": [{"model": "organizations.Member", "name": "成员", "action": "anonymize", "planned": 3,
                        "changed": 3, "files_erased": 0, "held_fields": [], "left": 0}],
            "value_scan": {"values": 9, "columns": 4, "matches": []},
        },
    )  # fmt: skip
    content = staff_client.get(
        reverse("admin:dataprotection_anonymizationjob_change", args=[job.pk]), HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()
    assert '<pre class="json">' not in content and "&quot;rows_left&quot;" not in content
    assert "<dt>Personal values left</dt><dd>0</dd>" in content
    assert "<dt>Verified</dt><dd>Yes</dd>" in content
    assert "<td>Members</td><td>anonymize in place</td>" in content  # the table's name in the reader's language
    assert "Hangzhou Example Co." in content
    listing = staff_client.get(reverse("admin:dataprotection_anonymizationjob_changelist")).content.decode()
    assert "Hangzhou Example Co." in listing


def test_render_job_details_handles_empty_and_unknown_keys():
    assert render_job_details({}) == "—"
    html = render_job_details({"something_new": [1, 2], "nested": {"a_b": True}})
    assert "<dt>Something new</dt><dd>1, 2</dd>" in html and "<dt>A b</dt><dd>Yes</dd>" in html


@pytest.mark.django_db
def test_request_console_shows_labels_not_codes(staff_client, cast):
    from requests.models import DataSubjectRequest, RequestKind, RequestStatus
    from tests.factories import UserFactory

    person = UserFactory(name="Asker")
    request = DataSubjectRequest.objects.create(
        subject=person, kind=RequestKind.ACCESS, status=RequestStatus.IN_PROGRESS,
        verification_method="sms_code", due_on="2026-01-31", original_due_on="2026-01-31",
    )  # fmt: skip
    listing = staff_client.get(reverse("admin:requests_datasubjectrequest_changelist")).content.decode()
    assert "In progress" in listing
    detail = staff_client.get(reverse("admin:requests_datasubjectrequest_change", args=[request.pk])).content.decode()
    assert "SMS code to the person&#x27;s own number" in detail and "sms_code" not in detail
