"""The person hears of every answer without having to look (REQ-6, REQ-4): a refusal,
a completion, a pause or an extension sends them an SMS that names only the request's
reference and its new status; the reason stays behind their sign-in."""

from __future__ import annotations

import pytest
from django.test import TestCase

from accounts.models import SMSMessage
from requests.models import Jurisdiction, RefusalGround, RequestStatus
from requests.services import workflow
from tests.factories import UserFactory
from tests.requests.test_workflow import make_request


def texts_to(user) -> list[str]:
    return [message.body for message in SMSMessage.objects.filter(phone=user.phone).order_by("pk")]


@pytest.mark.django_db
def test_a_refusal_is_texted_without_its_reason():
    person, handler = UserFactory(), UserFactory(is_staff=True)
    request = make_request(subject=person, status=RequestStatus.IN_PROGRESS)
    with TestCase.captureOnCommitCallbacks(execute=False):
        workflow.refuse_request(
            request, actor=handler, ground=RefusalGround.IMPRACTICAL, explanation="It would need a new system."
        )
    [text] = texts_to(person)
    assert request.reference in text and "refused" in text
    assert "new system" not in text


@pytest.mark.django_db
def test_completion_pause_and_extension_are_texted_notes_are_not():
    person, handler = UserFactory(), UserFactory(is_staff=True)
    request = make_request(subject=person, jurisdiction=Jurisdiction.EEA, status=RequestStatus.IN_PROGRESS)
    workflow.add_note(request, actor=handler, text="Checking the archive.")
    assert texts_to(person) == []
    workflow.pause_request(request, actor=handler, reason="Waiting for your ID copy.")
    workflow.resume_request(request, actor=handler)
    workflow.extend_request(request, actor=handler, reason="Many systems to search.")
    workflow.complete_request(request, actor=handler, outcome="Here is what we hold.")
    statuses = [text.split(" is now ")[1].split(".")[0] for text in texts_to(person)]
    assert statuses == ["paused", "extended", "completed"]


@pytest.mark.django_db
def test_the_person_withdrawing_gets_no_text():
    person = UserFactory()
    request = make_request(subject=person)
    workflow.transition(request, RequestStatus.WITHDRAWN, actor=person)
    assert texts_to(person) == []
