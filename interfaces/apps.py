from django.apps import AppConfig


class InterfacesConfig(AppConfig):
    """The adapters of the outside world to the bus: HTTP, pages, forms and
    the admin's bases. Installed for its deploy check (a cache the sign-in
    limits can count in); it registers no handler, policy or model."""

    name = "interfaces"
    verbose_name = "Interfaces (HTTP, pages, admin)"

    def ready(self):
        from django.core import checks

        from .sign_in import check_cache

        checks.register(check_cache, checks.Tags.security, deploy=True)
