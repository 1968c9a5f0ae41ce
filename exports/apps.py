from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ExportsConfig(AppConfig):
    name = "exports"
    verbose_name = "Exports"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from exports.jobs.schedules import ensure_schedules
        from exports.scheduling.runs import on_export_finished
        from exports.signals import export_finished

        post_migrate.connect(ensure_schedules, sender=self)
        export_finished.connect(on_export_finished, dispatch_uid="exports.scheduling")
