"""The Celery app: broker from settings (Redis, or kombu's filesystem transport)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "datatalks.settings")

app = Celery("datatalks")
# The current app is per thread; as the default it is also the app of every other
# thread (Django's threaded servers), so shared tasks never fall back to a blank app.
app.set_default()
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
