"""Relay settings, read from the environment (django-environ).

Embedded default (nothing set but DEBUG=true): SQLite file, in-memory channel layer,
local-memory cache. Production: DATABASE_URL (PostgreSQL) and REDIS_URL (channel layer and
cache shared by every ASGI process). The README's configuration table lists every variable.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from codexpanel.channel_layer import deployment_prefix
from codexpanel.logs import SERVER_MESSAGE_BYTES

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)

# The session secret is Django's SECRET_KEY. Development gets a fixed key so sessions
# survive restarts of the dev relay; production must bring its own.
_DEV_SECRET = "dev-only-secret-key-codexpanel-not-for-production-use-0123456789"  # noqa: S105
SECRET_KEY = env.str("CODEXPANEL_SESSION_SECRET", default=_DEV_SECRET if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured(
        "CODEXPANEL_SESSION_SECRET is required when DEBUG is off: set it to a long random "
        "string (for example: python -c 'import secrets; print(secrets.token_urlsafe(50))')."
    )

ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"] if DEBUG else []
)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    # daphne first: its runserver serves both HTTP and WebSockets in development.
    "daphne",
    "codexpanel.apps.CodexpanelAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    # Its system checks run with the others (and it stops warning that they do not).
    "servestatic",
    "channels",
    "rest_framework",
    "drf_spectacular",
    "codexpanel",
    "accounts",
    "devices",
    "setupflow",
    "wallet",
]

# Django's own, run on the event loop under ASGI (codexpanel.middleware says why). Django's
# deploy checks look for three of them by path; codexpanel.checks accepts the subclasses.
SILENCED_SYSTEM_CHECKS = ["security.W001", "security.W002", "security.W003"]
MIDDLEWARE = [
    "codexpanel.middleware.SecurityMiddleware",
    "codexpanel.csp.content_security_policy",
    "servestatic.middleware.ServeStaticMiddleware",
    "codexpanel.middleware.SessionMiddleware",
    "codexpanel.middleware.LocaleMiddleware",
    "codexpanel.middleware.CommonMiddleware",
    "codexpanel.middleware.CsrfViewMiddleware",
    "codexpanel.middleware.AuthenticationMiddleware",
    "codexpanel.middleware.MessageMiddleware",
    "codexpanel.middleware.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "codexpanel.urls"
ASGI_APPLICATION = "codexpanel.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=0))
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # One writer at a time: wait for the lock instead of failing with "database is locked".
    # IMMEDIATE takes the write lock when a transaction begins, so a transaction that
    # reads and then writes waits its turn instead of failing half-way.
    options = DATABASES["default"].setdefault("OPTIONS", {})
    options.setdefault("timeout", 20)
    options.setdefault("transaction_mode", "IMMEDIATE")
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env.bool(
    "DATABASE_POOL", default=True
):
    # Opening a PostgreSQL connection (a new server process) costs more than most requests;
    # each relay process keeps a small pool and lends a connection per request instead.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "pool",
        {
            "min_size": env.int("DATABASE_POOL_MIN", default=2),
            "max_size": env.int("DATABASE_POOL_MAX", default=20),
            "timeout": 10,
        },
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")
# redis-py 8 gives up on a read after 5 s unless told otherwise, while the channel layer's
# blocking pop waits up to 5 s for a message: every quiet socket and stream would fail on a
# timeout within seconds. Reads wait longer than the pop, and a dead server is still noticed.
REDIS_SOCKET_TIMEOUT = 15
# Every key and group a deployment keeps in Redis starts with this, so two deployments may
# share one Redis database without hearing each other.
CODEXPANEL_REDIS_PREFIX = env.str(
    "CODEXPANEL_REDIS_PREFIX", default=deployment_prefix(DATABASES["default"])
)
# Connections each relay process may hold to Redis, and how long a caller waits for one.
CODEXPANEL_REDIS_POOL_SIZE = env.int("CODEXPANEL_REDIS_POOL_SIZE", default=200)
CODEXPANEL_REDIS_POOL_TIMEOUT = env.float("CODEXPANEL_REDIS_POOL_TIMEOUT", default=10.0)
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "codexpanel.channel_layer.RelayChannelLayer",
            "CONFIG": {
                "hosts": [{"address": REDIS_URL, "socket_timeout": REDIS_SOCKET_TIMEOUT}],
                "prefix": CODEXPANEL_REDIS_PREFIX,
                "pool_size": CODEXPANEL_REDIS_POOL_SIZE,
                "pool_timeout": CODEXPANEL_REDIS_POOL_TIMEOUT,
            },
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": CODEXPANEL_REDIS_PREFIX,
            "OPTIONS": {
                "pool_class": "redis.BlockingConnectionPool",
                "max_connections": CODEXPANEL_REDIS_POOL_SIZE,
                "timeout": CODEXPANEL_REDIS_POOL_TIMEOUT,
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["accounts.backends.GroupScopeBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

SESSION_COOKIE_NAME = "codexpanel_session"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env.bool("CODEXPANEL_SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_FAILURE_VIEW = "codexpanel.errors.csrf_failure"

SECURE_SSL_REDIRECT = env.bool("CODEXPANEL_SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("CODEXPANEL_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("CODEXPANEL_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("CODEXPANEL_HSTS_PRELOAD", default=True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if env.bool("CODEXPANEL_BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# How many reverse proxies in front of the relay append to X-Forwarded-For. 0 means the
# socket's address is the client: trusting a header nobody strips would let any client
# pick its own rate-limit bucket.
CODEXPANEL_TRUSTED_PROXY_COUNT = env.int("CODEXPANEL_TRUSTED_PROXY_COUNT", default=0)

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "UTC"
USE_TZ = True

STATIC_URL = "/static/"
# Development serves static files from the finders; production from collectstatic's output.
STATIC_ROOT = None if DEBUG else env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
SERVESTATIC_USE_STATIC_ROOT = STATIC_ROOT is not None
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "servestatic.storage.CompressedStaticFilesStorage"},
}

EMAIL_CONFIG = env.email_url(
    "EMAIL_URL", default="consolemail://" if DEBUG else "smtp://localhost:25"
)
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="codexpanel <noreply@localhost>")

# The largest JSON body the API reads (a turn's text is the largest there is).
CODEXPANEL_MAX_JSON_BODY = env.int("CODEXPANEL_MAX_JSON_BODY", default=1024 * 1024)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["codexpanel.jsonbody.StrictJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "codexpanel.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "codexpanel relay API",
    "DESCRIPTION": "Accounts, desktop pairing, devices, commands and events.",
    "VERSION": None,  # filled from the release version in codexpanel.urls
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
}

# --- Accounts (SPEC §1) -----------------------------------------------------------------
CODEXPANEL_ADMIN_USERNAME = env.str("CODEXPANEL_ADMIN_USERNAME", default="")
CODEXPANEL_ADMIN_USER_ID = env.str("CODEXPANEL_ADMIN_USER_ID", default="")
CODEXPANEL_ADMIN_PASSWORD = env.str("CODEXPANEL_ADMIN_PASSWORD", default="")
# Omitted: open while developing, closed in production (IAM-5).
CODEXPANEL_REGISTRATION_ENABLED = env.bool("CODEXPANEL_REGISTRATION_ENABLED", default=DEBUG)
CODEXPANEL_REGISTRATION_RATE = env.str("CODEXPANEL_REGISTRATION_RATE", default="10/h")

CODEXPANEL_LOGIN_MAX_ATTEMPTS = env.int("CODEXPANEL_LOGIN_MAX_ATTEMPTS", default=8)
CODEXPANEL_LOGIN_IP_MAX_ATTEMPTS = env.int("CODEXPANEL_LOGIN_IP_MAX_ATTEMPTS", default=24)
CODEXPANEL_LOGIN_WINDOW_MS = env.int("CODEXPANEL_LOGIN_WINDOW_MS", default=900_000)
CODEXPANEL_LOGIN_LOCKOUT_MS = env.int("CODEXPANEL_LOGIN_LOCKOUT_MS", default=900_000)
CODEXPANEL_LOGIN_MAX_BUCKETS = env.int("CODEXPANEL_LOGIN_MAX_BUCKETS", default=5000)

CODEXPANEL_EMAIL_CODE_IP_MAX_ATTEMPTS = env.int("CODEXPANEL_EMAIL_CODE_IP_MAX_ATTEMPTS", default=10)
CODEXPANEL_EMAIL_CODE_IP_WINDOW_MS = env.int("CODEXPANEL_EMAIL_CODE_IP_WINDOW_MS", default=900_000)
CODEXPANEL_EMAIL_CODE_MAX_VERIFY_ATTEMPTS = env.int(
    "CODEXPANEL_EMAIL_CODE_MAX_VERIFY_ATTEMPTS", default=8
)
CODEXPANEL_EMAIL_CODE_MAX_CODES = env.int("CODEXPANEL_EMAIL_CODE_MAX_CODES", default=5000)
CODEXPANEL_EMAIL_CODE_TTL_SECONDS = env.int("CODEXPANEL_EMAIL_CODE_TTL_SECONDS", default=600)

# --- Desktop setup and devices (SPEC §2, §3) -------------------------------------------
# The address agents and browsers use for this relay, when the relay cannot see it itself
# (behind a proxy that rewrites Host). Empty: taken from each request.
CODEXPANEL_PUBLIC_URL = env.str("CODEXPANEL_PUBLIC_URL", default="").rstrip("/")
CODEXPANEL_DESKTOP_SETUP_START_MAX_ATTEMPTS = env.int(
    "CODEXPANEL_DESKTOP_SETUP_START_MAX_ATTEMPTS", default=20
)
CODEXPANEL_DESKTOP_SETUP_START_WINDOW_MS = env.int(
    "CODEXPANEL_DESKTOP_SETUP_START_WINDOW_MS", default=900_000
)
CODEXPANEL_DESKTOP_SETUP_START_MAX_IP_BUCKETS = env.int(
    "CODEXPANEL_DESKTOP_SETUP_START_MAX_IP_BUCKETS", default=5000
)
CODEXPANEL_DESKTOP_SETUP_MAX_PENDING = env.int("CODEXPANEL_DESKTOP_SETUP_MAX_PENDING", default=1000)
CODEXPANEL_DESKTOP_SETUP_TTL_SECONDS = env.int("CODEXPANEL_DESKTOP_SETUP_TTL_SECONDS", default=600)
CODEXPANEL_DESKTOP_SETUP_POLL_INTERVAL_SECONDS = env.int(
    "CODEXPANEL_DESKTOP_SETUP_POLL_INTERVAL_SECONDS", default=5
)
CODEXPANEL_DESKTOP_SETUP_MAX_CODE_ATTEMPTS = env.int(
    "CODEXPANEL_DESKTOP_SETUP_MAX_CODE_ATTEMPTS", default=5
)
CODEXPANEL_DESKTOP_SETUP_TERMINAL_TOKEN_TTL_SECONDS = min(
    300, env.int("CODEXPANEL_DESKTOP_SETUP_TERMINAL_TOKEN_TTL_SECONDS", default=300)
)
CODEXPANEL_DESKTOP_SETUP_TOKEN_TTL_SECONDS = env.int(
    "CODEXPANEL_DESKTOP_SETUP_TOKEN_TTL_SECONDS", default=900
)
# Devices a user may bind without a monthly card (WAL-5).
CODEXPANEL_FREE_DEVICE_QUOTA = env.int("CODEXPANEL_FREE_DEVICE_QUOTA", default=1)
# The currency wallet amounts are in; amounts are integers in its minor unit (cents, fen).
CODEXPANEL_CURRENCY = env.str("CODEXPANEL_CURRENCY", default="CNY")
CODEXPANEL_HEARTBEAT_INTERVAL_SECONDS = env.int("CODEXPANEL_HEARTBEAT_INTERVAL_SECONDS", default=15)
# Commands: how long one may wait for delivery and an answer, how long a caller may block
# on it, and how many a device may have unanswered at once (the rest wait their turn).
CODEXPANEL_COMMAND_TTL_SECONDS = env.int("CODEXPANEL_COMMAND_TTL_SECONDS", default=600)
CODEXPANEL_COMMAND_WAIT_MAX_SECONDS = env.int("CODEXPANEL_COMMAND_WAIT_MAX_SECONDS", default=30)
CODEXPANEL_COMMANDS_IN_FLIGHT = env.int("CODEXPANEL_COMMANDS_IN_FLIGHT", default=32)
# Images attached to a turn: the largest one taken, and how many a person may upload an
# hour (each is kept for a day).
CODEXPANEL_ATTACHMENT_MAX_BYTES = env.int("CODEXPANEL_ATTACHMENT_MAX_BYTES", default=5_242_880)
CODEXPANEL_ATTACHMENTS_PER_HOUR = env.int("CODEXPANEL_ATTACHMENTS_PER_HOUR", default=30)
# Web Push: the VAPID key (PEM; made and kept in the database when not given), the contact
# push services see, and, for tests on loopback only, plain-http push endpoints.
CODEXPANEL_VAPID_PRIVATE_KEY = env.str("CODEXPANEL_VAPID_PRIVATE_KEY", default="")
CODEXPANEL_VAPID_SUBJECT = env.str("CODEXPANEL_VAPID_SUBJECT", default="mailto:admin@localhost")
CODEXPANEL_PUSH_ALLOW_HTTP = env.bool("CODEXPANEL_PUSH_ALLOW_HTTP", default=False)
CODEXPANEL_PUSH_ANSWERS_PER_MINUTE = env.int("CODEXPANEL_PUSH_ANSWERS_PER_MINUTE", default=30)
# Each relay process sweeps while it serves sockets: it writes its own sockets' heartbeats,
# marks silent devices offline and expires overdue commands. Presence depends on it; the
# tests switch it off only to drive the sweep by hand.
CODEXPANEL_BACKGROUND_SWEEP = env.bool("CODEXPANEL_BACKGROUND_SWEEP", default=True)
# The event log keeps this many days of history.
CODEXPANEL_EVENT_RETENTION_DAYS = env.int("CODEXPANEL_EVENT_RETENTION_DAYS", default=30)
# Browser streams: a comment line this often keeps proxies from closing an idle stream, and
# a stream ends after this many bytes (the browser resumes it at once), which bounds what
# a reader that stopped reading can make the relay hold.
CODEXPANEL_STREAM_KEEPALIVE_SECONDS = env.int("CODEXPANEL_STREAM_KEEPALIVE_SECONDS", default=15)
CODEXPANEL_STREAM_MAX_BYTES = env.int("CODEXPANEL_STREAM_MAX_BYTES", default=8 * 1024 * 1024)

# The development server (manage.py dev) takes the same WebSocket limits as
# codexpanel.serve.
DAPHNE_WEBSOCKET_MAX_MESSAGE_SIZE = DAPHNE_WEBSOCKET_MAX_FRAME_SIZE = SERVER_MESSAGE_BYTES
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # Django's own logging prints "django" records itself with DEBUG on and passes them up
    # as well: one handler, the root's, prints each line once.
    "loggers": {"django": {"handlers": [], "propagate": True}},
}
