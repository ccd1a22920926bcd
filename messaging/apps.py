from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "messaging"
    verbose_name = "Messaging (events and deliveries)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.core import checks
        from django.db.models.signals import post_migrate

        from .delivery.lanes import check_rate
        from .features.subscriptions import start_new_after_migrate
        from .registry import registry
        from .wiring import register

        register(registry)
        post_migrate.connect(start_new_after_migrate, sender=self)
        checks.register(check_rate)
