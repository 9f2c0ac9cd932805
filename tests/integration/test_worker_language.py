"""Text a person reads is in that person's language, also when a worker writes it: a
real Celery worker process, running in English or in Chinese, answers an English and a
Chinese person's access requests with their archives and reminds an English and a
Chinese handler of a request due soon. The answers and the reminder note are stored as
message keys and read in each reader's language; each SMS is written in its recipient's
(REQ-6, REQ-7, REQ-4)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from dataprotection.staff_roles import REQUEST_HANDLER
from requests.models import DataSubjectRequest, EventKind, RequestEvent, RequestKind, RequestStatus
from requests.services import fulfilment
from requests.tasks.workflow import remind_assignees
from tests.factories import UserFactory
from tests.integration.waiting import wait_until

pytestmark = pytest.mark.realservices

CHINESE_STATUS_SMS = "您的个人信息权利请求"
ENGLISH_STATUS_SMS = "your data-subject request"
ENGLISH_ANSWER = "The archive of your data is ready."
CHINESE_ANSWER = "您的数据副本压缩包已准备就绪。"


def operations_request(subject, *, due_in_days: int = 15) -> DataSubjectRequest:
    """An access request routed to operations staff, verified."""
    due = timezone.localdate() + timedelta(days=due_in_days)
    return DataSubjectRequest.objects.create(
        kind=RequestKind.ACCESS,
        jurisdiction="mainland",
        subject=subject,
        verified_at=timezone.now(),
        verification_method="sms",
        original_due_on=due,
        due_on=due,
    )


def sms_bodies(worker, phone: str) -> list[str]:
    if not worker.sms_path.exists():
        return []
    lines = [json.loads(line) for line in worker.sms_path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [line["body"] for line in lines if line["to"] == phone]


def page_as(person, language: str, url: str) -> str:
    client = Client()
    client.force_login(person)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    with translation.override(language):  # the request activates it; leave the thread as it was
        response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize("celery_worker", ["zh-hans", "en"], indirect=True)
def test_answers_notices_and_sms_written_on_a_worker_are_in_the_readers_language(celery_worker):
    english = UserFactory(name="Emma", preferred_language="en")
    chinese = UserFactory(name="陈静", preferred_language="zh-hans")
    requests = {"en": operations_request(english), "zh-hans": operations_request(chinese)}
    with transaction.atomic():
        for data_request in requests.values():
            fulfilment.start_export(data_request)

    def all_completed():
        return all(DataSubjectRequest.objects.get(pk=r.pk).status == RequestStatus.COMPLETED for r in requests.values())

    assert wait_until(all_completed, timeout=60), celery_worker.log()

    for language, data_request in requests.items():
        data_request.refresh_from_db()
        # Stored as a key, not as text in the worker's language.
        assert data_request.outcome == "" and data_request.outcome_message
        person = data_request.subject
        page = page_as(person, language, reverse("data_requests:detail", args=[data_request.reference]))
        if language == "en":
            assert ENGLISH_ANSWER in page and CHINESE_ANSWER not in page
        else:
            assert CHINESE_ANSWER in page and ENGLISH_ANSWER not in page
        # The status SMS was written on the worker, in the person's language.
        assert wait_until(lambda p=person: sms_bodies(celery_worker, p.phone), timeout=30), celery_worker.log()
        (body,) = sms_bodies(celery_worker, person.phone)
        assert data_request.reference in body
        if language == "en":
            assert ENGLISH_STATUS_SMS in body and CHINESE_STATUS_SMS not in body
        else:
            assert CHINESE_STATUS_SMS in body and ENGLISH_STATUS_SMS not in body

    # A reminder written on the worker: an in-app note for the handlers, one SMS each.
    group = Group.objects.get(name=REQUEST_HANDLER.group)
    handlers = {
        "en": UserFactory(name="Hannah", is_staff=True, preferred_language="en"),
        "zh-hans": UserFactory(name="韩梅", is_staff=True, preferred_language="zh-hans"),
    }
    for handler in handlers.values():
        handler.groups.add(group)
    due_soon = operations_request(UserFactory(), due_in_days=1)
    remind_assignees.delay()
    note = wait_until(lambda: RequestEvent.objects.filter(request=due_soon, kind=EventKind.NOTE).first(), timeout=60)
    assert note is not None, celery_worker.log()
    assert note.text == "" and note.message
    with translation.override("en"):
        assert note.display_text.startswith("Reminder: Due on")
    with translation.override("zh-hans"):
        assert note.display_text.startswith("提醒：答复期限为")
    for language, handler in handlers.items():
        assert wait_until(lambda h=handler: sms_bodies(celery_worker, h.phone), timeout=30), celery_worker.log()
        (body,) = sms_bodies(celery_worker, handler.phone)
        assert due_soon.reference in body
        if language == "en":
            assert "needs an answer" in body and "需要答复" not in body
        else:
            assert "需要答复" in body and "needs an answer" not in body
