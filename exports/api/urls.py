"""Include where you like, e.g. `path("api/v1/exports/", include("exports.api.urls"))`.

The dataset pattern comes last: `datasets`, `exports`, `history` and `openapi.json` are taken.
"""

from django.urls import path

from exports.api import views

app_name = "exports_api"
urlpatterns = [
    path("datasets/", views.datasets, name="datasets"),
    path("exports/", views.start_export, name="exports"),
    path("exports/<uuid:pk>/", views.export_status, name="export"),
    path("exports/<uuid:pk>/cancel/", views.cancel, name="cancel"),
    path("exports/<uuid:pk>/file", views.export_file, name="file"),
    path("history/", views.history, name="history"),
    path("openapi.json", views.openapi_json, name="openapi"),
    path("<str:dataset>/", views.export_now, name="dataset"),
    path("<path:rest>", views.unknown, name="unknown"),
]
