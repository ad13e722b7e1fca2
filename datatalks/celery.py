"""The Celery app: broker from settings (Redis, or kombu's filesystem transport)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "datatalks.settings")

app = Celery("datatalks")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
