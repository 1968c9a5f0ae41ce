from django.urls import path

from exports import views

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
]
