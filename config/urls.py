from django.contrib import admin
from django.urls import include, path
from django.views.generic import TemplateView

from accounts.admin import password_change
from console.health import HealthView
from console.scrape import metrics_view
from console.views import sent_mail, staff_console
from interfaces.api_docs import ApiRootView, DocsView, SchemaView

API_ROOT = {
    "accounts": "account-list",
    "books": "book-list",
    "orders": "order-list",
    "events": "event-list",
    "deliveries": "delivery-list",
    "auth_token": "auth-token",
    "schema": "schema",
    "docs": "docs",
}

api = [
    path("", ApiRootView.as_view(api_root_dict=API_ROOT), name="api-root"),
    path("", include("accounts.api")),
    path("", include("catalog.api")),
    path("", include("orders.api")),
    path("", include("console.api")),
    path("schema/", SchemaView.as_view(), name="schema"),
    path("docs/", DocsView.as_view(url_name="schema"), name="docs"),
]

# /health/ and /health/live/ are answered by console.health.HealthMiddleware,
# first in MIDDLEWARE, before the Host header is validated; a /health/ request
# with credentials goes on to HealthView, which shows staff the figures.
urlpatterns = [
    path("health/", HealthView.as_view()),
    # Prometheus' /metrics: a scrape with its token is answered by HealthMiddleware first.
    path("metrics", metrics_view, name="metrics"),
    path("", TemplateView.as_view(template_name="home.html"), name="home"),
    path("staff/", staff_console, name="staff_console"),
    path("staff/mail/", sent_mail, name="sent_mail"),
    path("", include("accounts.urls")),
    path("", include("catalog.urls")),
    path("", include("orders.urls")),
    path("trace/", include("console.urls")),
    # The admin's own, with the old password under the sign-in limits.
    path("admin/password_change/", password_change),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api)),
]

# Under /api/ these answer {code, detail} as every API view does.
handler400 = "interfaces.errors.bad_request"
handler404 = "interfaces.errors.page_not_found"
handler500 = "interfaces.errors.server_error"
