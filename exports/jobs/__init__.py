"""Background jobs on django-q2: accepting an export (audit row + queued job), the worker's
runner, heartbeats, the sweeper, storage quotas and the app's schedules.
Imports datasets, engine, formats, delivery and models; never admin or views."""
