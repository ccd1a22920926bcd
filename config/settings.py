"""Settings, all read from the environment (django-environ).

Defaults are for a developer's machine: an SQLite file beside the code,
DEBUG on, mail to the console. Production sets the variables listed in the
README.
"""

import sys
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from messaging.operations.logging import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=True)
DEVELOPMENT_SECRET_KEY = "django-insecure-development-only-key-do-not-use-in-production"
SECRET_KEY = env.str("SECRET_KEY", default=DEVELOPMENT_SECRET_KEY)
if not DEBUG and SECRET_KEY == DEVELOPMENT_SECRET_KEY:
    # Sessions, password-reset links and the keyed hashes of idempotency
    # records would be signed with a key anyone can read here: refuse to
    # start at all, not only under `check --deploy`.
    raise ImproperlyConfigured("DEBUG is off but SECRET_KEY is the development key: set SECRET_KEY.")
# Personal data is sealed under a key per person, each wrapped by the first
# of these (URL-safe base64 of 32 random bytes; the others still unwrap what
# they wrapped until `manage.py rotate_personal_data_key` rewraps it). They
# never enter the database, so a dump alone reveals nobody: keep them with
# SECRET_KEY, not with the backups.
DEVELOPMENT_PERSONAL_DATA_KEY = "ZGV2ZWxvcG1lbnQtb25seS1wZXJzb25hbC1kYXRhLWs="
MESSAGING_PERSONAL_DATA_KEYS = env.list("PERSONAL_DATA_KEYS", default=[DEVELOPMENT_PERSONAL_DATA_KEY])
if not DEBUG and DEVELOPMENT_PERSONAL_DATA_KEY in MESSAGING_PERSONAL_DATA_KEYS[:1]:
    raise ImproperlyConfigured(
        "DEBUG is off but PERSONAL_DATA_KEYS starts with the development key: set PERSONAL_DATA_KEYS."
    )
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# --- HTTPS ----------------------------------------------------------------
# Each its own variable, so the product runs behind a TLS-terminating proxy
# (all on, SECURE_PROXY_SSL_HEADER trusted) and on plain HTTP on loopback
# (all off, the default) alike.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=False)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=False)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
if env.bool("TRUST_PROXY_SSL_HEADER", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# A load balancer probes the health endpoints over plain HTTP. (They are
# answered before SecurityMiddleware anyway, see console.health; this keeps
# them answering if the middleware order changes.)
SECURE_REDIRECT_EXEMPT = [r"^health(/|$)"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",  # its old clear-text tokens, moved to accounts.ApiToken by a migration
    "knox",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "messaging",
    "accounts",
    "catalog",
    "orders",
    "interfaces",
    "console",
    "demo",
]

MIDDLEWARE = [
    # First: answers /health/ and /health/live/ for any Host header, before
    # anything validates it against ALLOWED_HOSTS or redirects to HTTPS.
    "console.health.HealthMiddleware",
    "interfaces.http.CorrelationIdMiddleware",
    # A view that cannot reach the database answers 503 with Retry-After.
    "interfaces.outages.DatabaseOutageMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "interfaces.sign_in.SignInLimitMiddleware",
]

# Every page runs only scripts the site serves itself (no inline script, no
# eval), loads nothing from elsewhere, and may not be framed. Styles may be
# inline: the browsable API's templates and Swagger UI's page carry some,
# and a style cannot run code. The API docs load their setup script from a
# URL of their own (interfaces.api_docs.DocsView).
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.csp",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------
# The embedded default: an SQLite file beside the code. Only there may
# `ensure_demo_staff` create its well-known demo login.
EMBEDDED_DATABASE = BASE_DIR / "db.sqlite3"
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{EMBEDDED_DATABASE}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers run beside the writer; IMMEDIATE takes the write lock
    # at BEGIN so concurrent writers queue on the busy timeout instead of
    # failing with "database is locked" when a read lock is upgraded.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": env.int("SQLITE_BUSY_TIMEOUT_SECONDS", default=20),
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # Tests use a file too (not Django's in-memory default), so that they run
    # with the same locking, WAL and busy timeout as the product; another
    # file lets two test runs share a checkout.
    test_database = env.str("SQLITE_TEST_DATABASE", default=str(BASE_DIR / "var" / "test-db.sqlite3"))
    DATABASES["default"]["TEST"] = {"NAME": test_database}
else:
    # Each worker keeps its connection between requests: opening one costs
    # PostgreSQL a backend process and an authentication, which was most of a
    # short request (docs/performance.md, HTTP). The health check (a
    # `SELECT 1` when a request first touches a reused connection) drops one
    # the server or a proxy closed meanwhile, instead of failing the request.
    # CONN_MAX_AGE=0 restores a connection per request (behind a pooler that
    # hands out connections per transaction, say).
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", env.bool("CONN_HEALTH_CHECKS", default=True))
    # A hung statement, lock wait or forgotten open transaction ends with an
    # error instead of holding locks for ever (web and workers alike). In
    # milliseconds; 0 turns one off.
    _guards = {
        "statement_timeout": env.int("PG_STATEMENT_TIMEOUT_MS", default=30_000),
        "lock_timeout": env.int("PG_LOCK_TIMEOUT_MS", default=10_000),
        "idle_in_transaction_session_timeout": env.int("PG_IDLE_IN_TRANSACTION_TIMEOUT_MS", default=60_000),
    }
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = " ".join(
        f"-c {name}={value}" for name, value in _guards.items()
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Accounts -------------------------------------------------------------
AUTH_USER_MODEL = "accounts.Account"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Failed sign-ins (login page, admin, API token) are limited per username and
# client address and per client address, counted in the cache; past a limit,
# that address waits the cool-off (from its last failure). See interfaces.sign_in.
AUTHENTICATION_BACKENDS = ["interfaces.sign_in.SignInLimitBackend"]
SIGN_IN_FAILURES_PER_USERNAME = env.int("SIGN_IN_FAILURES_PER_USERNAME", default=5)
SIGN_IN_FAILURES_PER_ADDRESS = env.int("SIGN_IN_FAILURES_PER_ADDRESS", default=25)
SIGN_IN_COOL_OFF_SECONDS = env.int("SIGN_IN_COOL_OFF_SECONDS", default=15 * 60)
FOLLOW_LIMIT = env.int("FOLLOW_LIMIT", default=5000)
# A new account's address is verified by a link mailed to it, which works
# for EMAIL_VERIFICATION_TIMEOUT seconds (3 days); until then the account
# signs in and browses but places no order.
EMAIL_VERIFICATION_TIMEOUT = env.int("EMAIL_VERIFICATION_TIMEOUT", default=3 * 24 * 3600)
# Mails anyone can make us send to one inbox, whoever asks from wherever,
# each capped per MAIL_CAP_WINDOW_SECONDS: past the cap a mail is withheld
# (PasswordResetMailWithheld, SignUpAttemptMailWithheld) and the asker is
# told the same as always. Reset links (PASSWORD_RESET_MAILS_PER_RECIPIENT)
# and "someone tried to sign up with your address" (SIGN_UP_ATTEMPT_MAILS_
# PER_RECIPIENT); the requests are throttled per client address besides.
MAIL_CAP_WINDOW_SECONDS = env.int("MAIL_CAP_WINDOW_SECONDS", default=3600)
PASSWORD_RESET_MAILS_PER_RECIPIENT = env.int("PASSWORD_RESET_MAILS_PER_RECIPIENT", default=3)
SIGN_UP_ATTEMPT_MAILS_PER_RECIPIENT = env.int("SIGN_UP_ATTEMPT_MAILS_PER_RECIPIENT", default=3)
# API tokens (django-rest-knox, its rows accounts.ApiToken): one per sign-in,
# stored as SHA-512 digests, each expiring API_TOKEN_TTL_DAYS after it was
# issued; at most API_TOKENS_PER_ACCOUNT live at once (a new one past it ends
# the oldest). A password change or reset, a deactivation and a forget end them all.
KNOX_TOKEN_MODEL = "accounts.ApiToken"
# knox's own migrations would create its table for a model swapped out: none.
MIGRATION_MODULES = {"knox": None}
REST_KNOX = {
    "TOKEN_TTL": timedelta(days=env.int("API_TOKEN_TTL_DAYS", default=30)),
    "AUTH_HEADER_PREFIX": "Token",
}
API_TOKENS_PER_ACCOUNT = env.int("API_TOKENS_PER_ACCOUNT", default=20)
LOGIN_URL = "accounts:log_in"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

# --- Catalog --------------------------------------------------------------
# Copies a newly added book is stocked with (by the policy on BookAdded).
INITIAL_STOCK = env.int("INITIAL_STOCK", default=10)

# --- Orders ---------------------------------------------------------------
# An order still pending this many seconds after it was placed expires: its
# copies go back on sale. A day by default, as shops that confirm by hand
# promise ("confirmed within 24 hours"): long enough for staff's next round,
# short enough that an abandoned order does not keep copies off the shelf
# (README, threat model).
ORDER_CONFIRM_TIMEOUT = env.float("ORDER_CONFIRM_TIMEOUT", default=24 * 3600)
# What one customer may keep off the shelf: copies in one order, and copies
# in all their pending orders together (refused order_too_large,
# hold_limit_reached). Confirmed orders no longer count: the shop accepted them.
ORDERS_MAX_COPIES_PER_ORDER = env.int("ORDERS_MAX_COPIES_PER_ORDER", default=20)
ORDERS_MAX_HELD_COPIES = env.int("ORDERS_MAX_HELD_COPIES", default=40)

# --- Messaging kernel -----------------------------------------------------
# A failing policy delivery is retried with exponential backoff
# (base * 2**(attempt-1) seconds) and dead-lettered after this many attempts.
MESSAGING_MAX_ATTEMPTS = env.int("MESSAGING_MAX_ATTEMPTS", default=5)
MESSAGING_RETRY_BASE_SECONDS = env.float("MESSAGING_RETRY_BASE_SECONDS", default=2.0)
# Deliver right after each commit, in the process that committed (so a
# client sees a policy's effects when its request returns). Off, only the
# relay workers deliver: lower request latency, effects arrive a moment later.
MESSAGING_DELIVER_ON_COMMIT = env.bool("MESSAGING_DELIVER_ON_COMMIT", default=True)
# How long a relay worker holds the deliveries it claimed before another
# worker may take them over (a worker that died mid-batch).
MESSAGING_LEASE_SECONDS = env.float("MESSAGING_LEASE_SECONDS", default=60.0)
# The on-commit path delivers at most this many rows per top-level commit,
# cascades included (a fan-out's batches); the relay delivers the rest, so a
# request does a bounded amount of work before it answers.
MESSAGING_DELIVER_ON_COMMIT_LIMIT = env.int("MESSAGING_DELIVER_ON_COMMIT_LIMIT", default=20)
# The subscriptions' sweep (run by the relay workers, or the Celery sweep,
# every MESSAGING_SUBSCRIPTION_SWEEP_SECONDS) opens
# deliveries a process of the previous release failed to open during a
# deploy; it looks again at events younger than the safety margin, since a
# transaction may still commit behind them.
MESSAGING_SUBSCRIPTION_SWEEP_SECONDS = env.float("MESSAGING_SUBSCRIPTION_SWEEP_SECONDS", default=60.0)
MESSAGING_SWEEP_SAFETY_SECONDS = env.float("MESSAGING_SWEEP_SAFETY_SECONDS", default=300.0)
# A replay's deliveries run in the backfill lane: a claim (a relay round,
# the Celery sweep) takes them only with the room live deliveries leave, at
# most this many a second, all workers together (messaging.delivery.lanes).
MESSAGING_BACKFILL_PER_SECOND = env.float("MESSAGING_BACKFILL_PER_SECOND", default=100.0)
# `manage.py prune` removes idempotency records and settled deliveries older
# than this: a repeated Idempotency-Key is honoured for that long.
MESSAGING_RETENTION_DAYS = env.int("RETENTION_DAYS", default=30)
# Rows one batch of a fan-out writes (severing every follow of a deactivated
# account): each batch is its own delivery and transaction.
MESSAGING_FANOUT_BATCH_SIZE = env.int("FANOUT_BATCH_SIZE", default=300)
# A relay worker delivers up to this many of its claimed rows in one
# transaction (each in its own savepoint), and stops earlier rather than
# write more than FANOUT_BATCH_SIZE rows in it: the bound every transaction
# keeps. A delivery writes about three rows (its effects and its mark) in
# two savepoints (its own, its command's); 25 keeps a batch within the 64
# subtransactions PostgreSQL caches per transaction.
MESSAGING_RELAY_BATCH = env.int("MESSAGING_RELAY_BATCH", default=25)
# Readiness thresholds, off unless set: /health/ answers 503 when the oldest
# due delivery has waited longer than this many seconds, or more rows are
# due. Every node reads the same outbox, so every node turns unready at once:
# set them on the workers (relay, Celery), not on web nodes behind one
# load balancer, whose monitoring alerts on /metrics instead.
MESSAGING_READY_MAX_LAG_SECONDS = env.float("MESSAGING_READY_MAX_LAG_SECONDS", default=None)
MESSAGING_READY_MAX_BACKLOG = env.int("MESSAGING_READY_MAX_BACKLOG", default=None)
# /metrics (Prometheus): a scrape with "Authorization: Bearer <this>" is
# answered for any Host; without it, only staff signed in see the figures.
METRICS_SCRAPE_TOKEN = env.str("METRICS_SCRAPE_TOKEN", default="")

# --- OpenTelemetry (opt-in: config/telemetry.py) -----------------------------
# The SDK reads its own OTEL_* variables. This one is the product's: where a
# trace id opens in the tracing backend, e.g.
# https://jaeger.example/trace/{trace_id}; the trace page links each request's
# OpenTelemetry trace there, and shows the bare id without it.
OTEL_TRACE_URL = env.str("OTEL_TRACE_URL", default="")

# --- Background delivery (Celery) -------------------------------------------
# Without a broker, relay workers (manage.py relay_events) deliver what the
# requests leave, and nothing needs Celery. With CELERY_BROKER_URL (e.g.
# redis://broker.internal:6379/0), Celery is the transport: each delivery a
# commit leaves is queued as one message carrying its id (the Delivery row
# stays the ledger: retries, dead letters, leases), workers run them, and one
# beat sweeps what a lost message or a crash left. See messaging.tasks.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
MESSAGING_HAND_OFF = "messaging.tasks.enqueue" if CELERY_BROKER_URL else ""
# A broker that is down costs a request at most this long, once: the
# deliveries wait for the sweep (no publishing retries, here or in beat).
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("CELERY_BROKER_CONNECTION_TIMEOUT", default=1.0)
CELERY_TASK_PUBLISH_RETRY = False
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "max_retries": 0,  # publishing: one connection attempt, no retrying
    "socket_connect_timeout": CELERY_BROKER_CONNECTION_TIMEOUT,
    "socket_timeout": env.float("CELERY_BROKER_SOCKET_TIMEOUT", default=5.0),
}
# Workers keep reconnecting to a broker that went away, from their start on.
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# The row says what was done: no results, no Celery retries. A message is
# acknowledged once its delivery ran (a worker that dies before leaves it to
# the broker or the sweep), and a worker takes one message at a time, so a
# slow one holds no others back.
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A Celery worker process keeps its database connection this long (seconds)
# across tasks, whatever CONN_MAX_AGE the web uses (messaging.tasks), and
# Celery's Django fixup, which would close it after every task, closes it
# only every CELERY_DB_REUSE_MAX tasks.
MESSAGING_WORKER_CONN_MAX_AGE = env.int("WORKER_CONN_MAX_AGE", default=600)
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
CELERY_TASK_DEFAULT_QUEUE = "database"
# Outside effects (mail) have their own queue and workers, so a slow mail
# server never delays the database's policies.
CELERY_TASK_ROUTES = {
    "messaging.deliver_batch": {"queue": "database"},
    "messaging.deliver_outside_batch": {"queue": "outside"},
    "messaging.sweep": {"queue": "sweep"},
}
# A replay's deliveries (the backfill lane) are queued by the sweep on the
# `backfill` queue (messaging.tasks.BACKFILL_QUEUE), at their pace, so no
# live message waits behind them in a queue: a database worker consuming
# `-Q database,sweep,backfill` (the Procfile's) takes them in turn with live
# ones; workers of their own (`-Q backfill -c 1`) keep them off live ones'.
# The sweep has a queue of its own (one worker: `celery -A config worker -Q
# sweep -c 1`, or `-Q database,sweep` on a database worker), so a long sweep
# never holds a delivery worker and a delivery backlog never delays it.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# The sweep: every MESSAGING_SWEEP_SECONDS, lease up to MESSAGING_SWEEP_LIMIT
# due deliveries of each kind (never one already leased: queued, or being
# run) and queue them. A sweep that waited longer than its interval is
# dropped; the next one does its work.
MESSAGING_SWEEP_SECONDS = env.float("MESSAGING_SWEEP_SECONDS", default=10.0)
MESSAGING_SWEEP_LIMIT = env.int("MESSAGING_SWEEP_LIMIT", default=500)
# ...and stops dispatching due schedules after this many seconds: the rest
# wait for the next run, so a deep backlog never holds one run for long.
MESSAGING_SWEEP_RUN_SECONDS = env.float("MESSAGING_SWEEP_RUN_SECONDS", default=5.0)
CELERY_BEAT_SCHEDULE = {
    "sweep": {
        "task": "messaging.sweep",
        "schedule": MESSAGING_SWEEP_SECONDS,
        "options": {"expires": MESSAGING_SWEEP_SECONDS},
    }
}

# --- Health ---------------------------------------------------------------
# How long /health/ reuses its last answer (per process), so that frequent
# polling by load balancers stays cheap.
HEALTH_CACHE_SECONDS = env.float("HEALTH_CACHE_SECONDS", default=5.0)

# --- Internationalisation -------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Hashed, compressed files served by whitenoise when DEBUG is off
    # (run collectstatic first); plain files from the apps while developing.
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# --- Mail -----------------------------------------------------------------
# EMAIL_URL (e.g. smtp+tls://user:pass@host:587) becomes Django 6.1's MAILERS.
# Mail leaves through the outbox (messaging.features.outbox), sent by the relay
# workers outside any transaction; a send gives up after EMAIL_TIMEOUT
# seconds and is retried, and a worker's lease on a mail outlasts several.
# (Django 6.1 refuses an EMAIL_TIMEOUT setting beside MAILERS: the variable
# goes straight into the mailer's options.)
_email_timeout = env.float("EMAIL_TIMEOUT", default=10.0)
MESSAGING_OUTSIDE_LEASE_SECONDS = env.float("MESSAGING_OUTSIDE_LEASE_SECONDS", default=max(60.0, 6 * _email_timeout))
# The domain of the Message-ID each queued mail carries (the same on every resend).
MESSAGING_MAIL_MESSAGE_ID_DOMAIN = env.str("EMAIL_MESSAGE_ID_DOMAIN", default="shop.localhost")
_mail = env.email_url("EMAIL_URL", default="consolemail://")
if _mail["EMAIL_BACKEND"].endswith("smtp.EmailBackend"):
    _mailer_options = {"timeout": _email_timeout} | {
        option: _mail.get(setting)
        for option, setting in [
            ("host", "EMAIL_HOST"),
            ("port", "EMAIL_PORT"),
            ("username", "EMAIL_HOST_USER"),
            ("password", "EMAIL_HOST_PASSWORD"),
            ("use_tls", "EMAIL_USE_TLS"),
            ("use_ssl", "EMAIL_USE_SSL"),
        ]
        if _mail.get(setting)
    }
elif _mail["EMAIL_BACKEND"].endswith("console.EmailBackend"):
    # To stderr, so that mails never mix with what send_command prints on stdout.
    _mailer_options = {"stream": sys.stderr}
    if DEBUG:  # decoded (a reset link in one piece), each kept for the staff page of sent mail
        _mail["EMAIL_BACKEND"] = "console.mailbox.EmailBackend"
else:
    _mailer_options = {}
MAILERS = {"default": {"BACKEND": _mail["EMAIL_BACKEND"], "OPTIONS": _mailer_options}}
# Where the development mail backend keeps a copy of each mail, which staff
# read at /staff/mail/ (console.mailbox): on by default in development with
# console mail, off otherwise or when set empty (the page answers 404).
# Never in production: the copies hold reset links.
_mailbox = BASE_DIR / "var" / "mailbox" if _mail["EMAIL_BACKEND"] == "console.mailbox.EmailBackend" else ""
DEVELOPMENT_MAILBOX = env.str("DEVELOPMENT_MAILBOX", default=str(_mailbox)) or None
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="shop@localhost")
# Where the site is, for links in mails written by a relay worker, which has
# no request to take the host from (the password-reset link). By default the
# development server scripts/run starts on PORT, which its relay worker inherits.
SITE_URL = env.str("SITE_URL", default=f"http://127.0.0.1:{env.int('PORT', default=8000)}")

# --- Cache ----------------------------------------------------------------
# The API's throttles and the sign-in limits count in the cache: with several gunicorn workers, give
# them a shared one (e.g. CACHE_URL=dbcache://throttle_cache after
# `manage.py createcachetable`, or a Redis URL), or each counts on its own.
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

# --- REST API -------------------------------------------------------------
# Token authentication comes first so that a request without credentials
# gets 401 with "WWW-Authenticate: Token" (DRF answers with the first
# class's header), not 403.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "interfaces.authentication.TokenAuthentication",
        "interfaces.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["interfaces.rest.JSONParser"],
    # JSON, and for a browser (Accept: text/html) DRF's pages around the same JSON.
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer", "interfaces.rest.BrowsableAPIRenderer"],
    "DEFAULT_METADATA_CLASS": "interfaces.rest.Metadata",
    "DEFAULT_PAGINATION_CLASS": "interfaces.rest.Pagination",
    "EXCEPTION_HANDLER": "interfaces.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "interfaces.schema.ApiSchema",
    # The client address a throttle counts by is the socket's, unless this many
    # trusted proxies (the TLS terminator: 1) put it in X-Forwarded-For; never
    # the header a client sends itself.
    "NUM_PROXIES": env.int("API_NUM_PROXIES", default=0),
    # Per client address; a load test raises them through the environment.
    "DEFAULT_THROTTLE_RATES": {
        "auth": env.str("THROTTLE_RATE_AUTH", default="20/min"),
        "registration": env.str("THROTTLE_RATE_REGISTRATION", default="20/hour"),
        "password_reset": env.str("THROTTLE_RATE_PASSWORD_RESET", default="5/hour"),
        "verification": env.str("THROTTLE_RATE_VERIFICATION", default="3/hour"),
        # per signed-in customer, the API and the book page counted together
        "orders": env.str("THROTTLE_RATE_ORDERS", default="30/hour"),
    },
}
# How long a request repeating an Idempotency-Key waits for the first
# request's answer to be stored before rendering it itself.
API_IDEMPOTENCY_WAIT_SECONDS = env.float("API_IDEMPOTENCY_WAIT_SECONDS", default=5.0)
# What a 503 answered while the database is unreachable asks a client to wait.
RETRY_AFTER_SECONDS = env.int("RETRY_AFTER_SECONDS", default=5)
SPECTACULAR_SETTINGS = {
    "TITLE": "Bookshelf and social graph API",
    "VERSION": "1.0.0",
    "COMPONENT_SPLIT_REQUEST": True,
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Orders and deliveries both have a "status": each its own enum, by name.
    "ENUM_NAME_OVERRIDES": {"DeliveryStatusEnum": "messaging.models.Delivery.Status"},
}

# --- Logging --------------------------------------------------------------
# Every logger to one console handler, each line tagged with its request's
# correlation id: readable text, or LOG_FORMAT=json for one JSON object a
# line (config/gunicorn.py formats gunicorn's own lines the same way).
LOGGING = logging_config(
    env.str("LOG_FORMAT", default="text"), messaging_level=env.str("MESSAGING_LOG_LEVEL", default="INFO")
)
