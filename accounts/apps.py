from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.db.models import CharField
        from django.db.models.functions import Lower

        from messaging.registry import registry

        from . import wiring

        wiring.register(registry)
        # username__lower=... compiles to LOWER(username) = ..., which the
        # case-insensitive unique indexes serve (__iexact compiles to UPPER on
        # PostgreSQL, which they cannot).
        CharField.register_lookup(Lower)
