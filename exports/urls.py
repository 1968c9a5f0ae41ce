from django.urls import path

from exports import views

app_name = "exports"
urlpatterns = [
    path("", views.my_downloads, name="my-downloads"),
    path("<uuid:pk>/", views.download, name="download"),
    path("<uuid:pk>/delete/", views.delete, name="delete"),
]
