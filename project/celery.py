"""The demo's Celery app (EXPORTS_QUEUE=celery): `celery -A project worker` runs Exportdesk's
jobs, `celery -A project beat` its periodic ones. What a host adds is the same (README)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

app = Celery("project")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def exportdesk_beat(sender: Celery, **kwargs) -> None:
    from exports.queues.on_celery import beat_schedule

    sender.conf.beat_schedule.update(beat_schedule())
