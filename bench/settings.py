"""The product's settings, as the benchmark runs them.

DEBUG off (Django records every query when it is on), a fast password
hasher (the benchmark measures the pipeline, not PBKDF2, on both sides),
mail kept in memory and the kernel's log at WARNING.
"""

from config.settings import *  # noqa: F403

DEBUG = False
# With DEBUG off the product refuses the development key (config.settings);
# the benchmark signs nothing anybody keeps, so a fixed key of its own will do.
SECRET_KEY = "bench-only-key-signing-nothing-kept-" + "b" * 30
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend", "OPTIONS": {}}}
LOGGING["loggers"]["messaging"]["level"] = "WARNING"  # noqa: F405
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":  # noqa: F405
    # Seeding a million follows runs statements longer than production allows one.
    DATABASES["default"]["OPTIONS"]["options"] = "-c statement_timeout=0"  # noqa: F405
# The replay's figures (bench.measure) are the pipeline's pace; the backfill section sets its own.
MESSAGING_BACKFILL_PER_SECOND = None
