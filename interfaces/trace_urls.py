from django.urls import path

from . import trace_views

# Named for what the pages show, the kernel's log: links read "messaging:trace".
app_name = "messaging"

urlpatterns = [
    path("", trace_views.trace_index, name="trace_index"),
    path("<uuid:correlation_id>/", trace_views.trace, name="trace"),
]
