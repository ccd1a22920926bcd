from django.apps import AppConfig


class InterfacesConfig(AppConfig):
    """The adapters of the outside world to the bus: HTTP, pages, forms and
    the admin. Installed so that Django finds its admin registrations (the
    kernel's rows); it registers no handler and no policy."""

    name = "interfaces"
    verbose_name = "Interfaces (HTTP, pages, admin)"

    def ready(self):
        from django.core import checks

        from .sign_in import check_cache

        checks.register(check_cache, checks.Tags.security, deploy=True)
