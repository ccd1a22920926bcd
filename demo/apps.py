from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Demo data (``seed_demo``) and the demo staff login (``ensure_demo_staff``),
    made through the contexts' commands; it registers no handler and no policy."""

    name = "demo"
    verbose_name = "Demo data"
