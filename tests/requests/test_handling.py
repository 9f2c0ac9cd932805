"""The handlers' forms and actions, defined once (``requests.forms.handling``,
``requests.services.handling``) for an organization's request page and the console
(REQ-4 to REQ-6): the text limits hold on the page, in the console and when a service
is called directly, and both channels render the same fields."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from dataprotection.models import AuditEvent
from requests.models import Jurisdiction, RefusalGround, RequestEvent, RequestStatus
from requests.services import handling, workflow
from requests.services.workflow import ANSWER_MAX_LENGTH, NOTE_MAX_LENGTH, REASON_MAX_LENGTH
from tests.requests.test_console import HANDLER_PERMS, act_url, change_url, staff_with
from tests.requests.test_org_pages import about_member, handlers  # noqa: F401 (fixtures)
from tests.requests.test_workflow import make_request

pytestmark = pytest.mark.django_db
S = RequestStatus

# Each handler text: the service writing it, its limit, and the call with a text.
TEXTS = {
    "note": (NOTE_MAX_LENGTH, lambda request, text: workflow.add_note(request, actor=None, text=text)),
    "pause": (REASON_MAX_LENGTH, lambda request, text: workflow.pause_request(request, actor=None, reason=text)),
    "extend": (REASON_MAX_LENGTH, lambda request, text: workflow.extend_request(request, actor=None, reason=text)),
    "refuse": (
        ANSWER_MAX_LENGTH,
        lambda request, text: workflow.refuse_request(
            request, actor=None, ground=RefusalGround.REPEATED, explanation=text
        ),
    ),
    "complete": (ANSWER_MAX_LENGTH, lambda request, text: workflow.complete_request(request, actor=None, outcome=text)),
}


def nothing_written(request, status=S.IN_PROGRESS) -> bool:
    request.refresh_from_db()
    return request.status == status and not RequestEvent.objects.exists() and not AuditEvent.objects.exists()


@pytest.mark.parametrize("action", TEXTS)
def test_the_services_refuse_a_text_over_its_limit(action):
    """REQ-4, REQ-6: called directly (as a task, the API or a future page would), a
    service refuses a text one character over its limit with a clear error and writes
    nothing; at the limit it is written."""
    limit, write = TEXTS[action]
    request = make_request(status=S.IN_PROGRESS, jurisdiction=Jurisdiction.EEA)
    with pytest.raises(ValidationError) as refused:
        write(request, "x" * (limit + 1))
    assert refused.value.code == "too_long"
    assert f"at most {limit} characters" in refused.value.messages[0]
    assert nothing_written(request)
    write(request, "x" * limit)
    assert RequestEvent.objects.filter(request=request).count() == 1


def test_a_text_that_is_too_long_is_refused_in_the_console(client):
    """REQ-6: the console's note form refuses an over-long note; nothing is written."""
    handler = staff_with(*HANDLER_PERMS)
    request = make_request(status=S.IN_PROGRESS)
    client.force_login(handler)
    response = client.post(act_url(request, "note"), {"note-text": "x" * (NOTE_MAX_LENGTH + 1)}, follow=True)
    assert f"at most {NOTE_MAX_LENGTH} characters" in response.content.decode()
    assert nothing_written(request)


def test_a_text_that_is_too_long_is_refused_on_the_organization_page(client, cast, about_member):  # noqa: F811
    """REQ-5, REQ-6: the same limit on an organization's request page."""
    client.force_login(cast.owner)
    url = reverse("data_requests:org_request_action", args=[cast.organization.pk, about_member.pk, "note"])
    response = client.post(url, {"note-text": "x" * (NOTE_MAX_LENGTH + 1)}, follow=True)
    assert f"at most {NOTE_MAX_LENGTH} characters" in response.content.decode()
    assert nothing_written(about_member, status=S.RECEIVED)


def fields(form) -> list[tuple]:
    return [
        (bound.html_name, str(bound.label), bound.field.required, getattr(bound.field, "max_length", None))
        for bound in form
    ]


def test_the_console_and_the_organization_page_render_the_same_fields(client, cast, about_member):  # noqa: F811
    """REQ-5: an organization's handlers and operations staff fill the same forms: same
    field names, labels, limits and required fields, for every action both offer."""
    client.force_login(cast.owner)
    page = client.get(reverse("data_requests:org_request", args=[cast.organization.pk, about_member.pk]))
    org_forms = {name: page.context[f"{name}_form"] for name in ("assign", "note", "pause", "refuse", "complete")}

    handler = staff_with(*HANDLER_PERMS)
    operations = make_request(status=S.IN_PROGRESS)
    client.force_login(handler)
    console = client.get(change_url(operations))
    console_forms = {name: form for name, form, _button in console.context["handling_forms"]}

    assert set(org_forms) <= set(console_forms)
    for name, form in org_forms.items():
        assert fields(form) == fields(console_forms[name]), name
    assert fields(org_forms["note"])[0] == ("note-text", "Note", True, NOTE_MAX_LENGTH)
    for response in (page, console):
        assert f'name="note-text" cols="40" rows="3" maxlength="{NOTE_MAX_LENGTH}"' in response.content.decode()


def test_both_channels_offer_what_the_status_allows():
    """REQ-4, REQ-6: one rule for what a request's status allows; each channel keeps
    its own actions (operations staff start work; organizations apply corrections)."""
    paused = make_request(status=S.PAUSED, jurisdiction=Jurisdiction.MAINLAND)
    # An access request, paused, where the law allows no extension.
    assert handling.available_actions(paused, handling.ACTIONS) == ["assign", "note", "resume", "refuse", "export"]
    closed = make_request(status=S.COMPLETED)
    assert handling.available_actions(closed, handling.ACTIONS) == []
    received = make_request(jurisdiction=Jurisdiction.EEA)
    assert handling.available_actions(received, ("note", "extend", "apply")) == ["note", "extend"]
