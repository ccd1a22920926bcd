from django.urls import path

from . import views as trace_views

# Named for what the pages show, the kernel's log: links read "console:trace".
app_name = "console"

urlpatterns = [
    path("", trace_views.trace_index, name="trace_index"),
    path("<uuid:correlation_id>/", trace_views.trace, name="trace"),
]
