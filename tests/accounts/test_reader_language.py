"""Where a person's language comes from (ACC-2): chosen at registration, switched in
the header while signed in, edited on the profile. The portal writes to them in it
later (SMS, answers written on a worker), and what it writes for later is stored as a
message key rendered in the reader's language (``dataprotection.deferred_text``)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext_noop

from accounts.models import Gender
from dataprotection.deferred_text import DeferredText, deferred, label
from dataprotection.models import AuditEvent
from organizations.models import Member
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_switching_the_language_while_signed_in_makes_it_the_preferred_one(client):
    """The header's language switch also changes the person's preferred language, so
    later SMS and answers written on workers reach them in it (audited)."""
    person = UserFactory(preferred_language="en")
    client.force_login(person)
    response = client.post(reverse("set_language"), {"language": "zh-hans", "next": "/accounts/profile/"})
    assert response.status_code == 302 and response["Location"] == "/accounts/profile/"
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "zh-hans"
    person.refresh_from_db()
    assert person.preferred_language == "zh-hans"
    assert AuditEvent.objects.get(action="profile.updated", subject_user_id=person.pk).changes == ["preferred_language"]


def test_a_visitor_switching_language_changes_only_the_cookie(client):
    response = client.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "zh-hans"
    assert not AuditEvent.objects.filter(action="profile.updated").exists()


def test_an_unknown_language_changes_nothing(client):
    person = UserFactory(preferred_language="en")
    client.force_login(person)
    client.post(reverse("set_language"), {"language": "fr", "next": "/"})
    person.refresh_from_db()
    assert person.preferred_language == "en"


def test_a_deferred_text_renders_in_the_language_active_when_it_is_read():
    """Stored as key and parameters; a lazy label (a choice, a field's verbose name), a
    date, a datetime and a nested message are rendered at display time."""
    message = deferred(
        gettext_noop("Reminder: %(when)s Reminded: %(names)s."),
        when=deferred(gettext_noop("Due on %(due)s."), due=date(2026, 3, 2)),
        names="Hannah",
    )
    stored = message.dumps()
    with translation.override("zh-hans"):
        assert str(DeferredText.loads(stored)) == "提醒：答复期限为 2026-03-02。 已提醒：Hannah。"
    with translation.override("en"):
        assert str(DeferredText.loads(stored)) == "Reminder: Due on 2026-03-02. Reminded: Hannah."

    field = label(Member._meta.get_field("mobile").verbose_name, capfirst=True)
    corrected = deferred(gettext_noop("“%(field)s” was corrected as you asked."), field=field).dumps()
    with translation.override("en"):
        assert DeferredText.loads(corrected).render() == "“Mobile number” was corrected as you asked."
    with translation.override("zh-hans"):
        assert "手机号" in DeferredText.loads(corrected).render()

    gender = deferred(gettext_noop("Due on %(due)s."), due=Gender.FEMALE.label).dumps()
    with translation.override("en"):
        assert DeferredText.loads(gender).render() == "Due on Female."
    with translation.override("zh-hans"):
        assert "Female" not in DeferredText.loads(gender).render()

    moment = datetime(2026, 1, 1, 16, 30, tzinfo=UTC)  # 00:30 the next day in Shanghai
    ready = deferred(
        gettext_noop(
            "The archive of your data is ready. Download it from this request's page before %(expires)s; "
            "after that it is deleted."
        ),
        expires=moment,
    ).dumps()
    with translation.override("en"):
        assert "before 2026-01-02 00:30;" in DeferredText.loads(ready).render()
