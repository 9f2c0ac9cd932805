"""The Celery application.

Reliability settings live in ``config.settings`` (``CELERY_*``): late acks, rejection on
worker loss, prefetch of one, time limits below the broker's visibility timeout, and no
result backend. With Django installed Celery's task class is ``DjangoTask``, which gives
every task ``delay_on_commit``.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("custodia")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
