"""Fixtures for the personal-account tests (ACC-1 to ACC-5).

Messages are asserted in English: the project's default language is zh-hans, so both
service calls (``translation.override``) and test-client requests (``Accept-Language``)
are pinned to English here.
"""

from __future__ import annotations

import pytest

from accounts.services import codes
from tests.conftest import last_code


@pytest.fixture
def deliver(django_capture_on_commit_callbacks):
    """Run a block and then its on-commit callbacks: under the ``db`` fixture the test's
    transaction never commits, so the SMS delivery task would otherwise never run."""

    def run():
        return django_capture_on_commit_callbacks(execute=True)

    return run


@pytest.fixture
def issue_code(db, sms_outbox, deliver):
    """Send a code through ``codes.send_code``, deliver its SMS, return the code."""

    def issue(phone: str, purpose: str, **kwargs) -> str:
        with deliver():
            codes.send_code(phone, purpose, **kwargs)
        return last_code(sms_outbox, phone)

    return issue
