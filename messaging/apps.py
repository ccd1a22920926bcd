from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "messaging"
    verbose_name = "Messaging (events and deliveries)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from .registry import registry
        from .wiring import register

        register(registry)
