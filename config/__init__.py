# Celery's standard Django setup: the app is loaded with the project, so
# that ``shared_task`` (messaging.tasks) binds to it in web processes too.
from .celery import app as celery_app

__all__ = ("celery_app",)
