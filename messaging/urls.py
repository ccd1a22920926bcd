from django.urls import path

from . import views

app_name = "messaging"

urlpatterns = [
    path("", views.trace_index, name="trace_index"),
    path("<uuid:correlation_id>/", views.trace, name="trace"),
]
