"""WSGI entry point of the plain DRF app (gunicorn bench.plain.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.plain.settings")
application = get_wsgi_application()
