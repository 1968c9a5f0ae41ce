from django.urls import path

from exports import schedule_views, views

app_name = "exports"
urlpatterns = [
    path("", views.my_downloads, name="my-downloads"),
    path("status", views.pending_status, name="pending-status"),
    path("<uuid:pk>/", views.download, name="download"),
    path("<uuid:pk>/delete/", views.delete, name="delete"),
    path("<uuid:pk>/status", views.export_status, name="status"),
    path("<uuid:pk>/cancel/", views.cancel, name="cancel"),
    path("tokens/", views.api_tokens, name="api-tokens"),
    path("tokens/<int:pk>/revoke/", views.revoke_api_token, name="revoke-api-token"),
    path("<uuid:pk>/run-again/", schedule_views.run_export_again, name="run-again"),
    path("<uuid:pk>/keep-longer/", schedule_views.keep_file_longer, name="keep-longer"),
    path("schedules/<int:pk>/pause/", schedule_views.pause_schedule, name="schedule-pause"),
    path("schedules/<int:pk>/resume/", schedule_views.resume_schedule, name="schedule-resume"),
]
