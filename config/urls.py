from django.contrib import admin
from django.urls import include, path
from django.views.generic import TemplateView

from messaging.pages import staff_required

urlpatterns = [
    path("", TemplateView.as_view(template_name="home.html"), name="home"),
    path("staff/", staff_required(TemplateView.as_view(template_name="staff_console.html")), name="staff_console"),
    path("", include("accounts.urls")),
    path("", include("catalog.urls")),
    path("", include("orders.urls")),
    path("trace/", include("messaging.urls")),
    path("admin/", admin.site.urls),
]
