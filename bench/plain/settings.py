"""Settings of the plain DRF app (``bench.plain``), the baseline the product
is measured beside: what a Django team would write for the same requests on
the same tables, and nothing else. DEBUG off, token authentication, JSON in
and out, a connection kept per worker as the product keeps one.
"""

import environ

env = environ.Env()

DEBUG = False
SECRET_KEY = "bench-plain-only-key-signing-nothing-kept-" + "p" * 30
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1"])
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "rest_framework", "bench.plain"]
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
ROOT_URLCONF = "bench.plain.urls"
DATABASES = {"default": env.db("DATABASE_URL")}
DATABASES["default"].update(CONN_MAX_AGE=60, CONN_HEALTH_CHECKS=True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "plain.Account"
USE_TZ = True
FOLLOW_LIMIT = env.int("FOLLOW_LIMIT", default=5000)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["bench.plain.authentication.TokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
}
