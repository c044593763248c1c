"""Frontline settings.

With no environment variables at all this starts a working development system: SQLite under
var/, the in-memory channel layer, django-q2's ORM broker, a local Chroma server (started by
`make run`), offline models. Production changes values here through the environment, never
code paths.
"""

from __future__ import annotations

import os
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("FRONTLINE_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)

env = environ.Env()

DEV_SECRET_KEY = "dev-insecure-frontline-key-change-me"
DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env.str("SECRET_KEY", default=DEV_SECRET_KEY)
if not DEBUG and SECRET_KEY == DEV_SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "channels",
    "anymail",
    # The pipeline, in stage order.
    "channels_intake",
    "tickets",
    "knowledge",
    "actions",
    "learning",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
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
            ]
        },
    }
]
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

# --- Database -------------------------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'frontline.sqlite3'}")
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL + IMMEDIATE transactions let the web process and a worker share the file without
    # "database is locked" storms (measured 110 -> 440 tasks/s).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
else:
    # Persistent connections; never psycopg's pool (django-q2 forks and corrupts it).
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: channel layer and queue broker --------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": env.str("CHANNELS_PREFIX", default="frontline")},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

Q_CLUSTER: dict = {
    "name": "frontline",
    "workers": env.int("Q_WORKERS", default=2),
    "timeout": 120,
    "retry": 180,  # must exceed timeout
    "max_attempts": 3,
    "catch_up": False,
    "ack_failures": True,
    "save_limit": 1000,
    "poll": 0.1,
    "sync": env.bool("Q_SYNC", default=False),
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# --- AI -------------------------------------------------------------------------------------
CHROMA_URL = env.str("CHROMA_URL", default="http://127.0.0.1:8765")  # "memory://" = in-process
CHROMA_COLLECTION = env.str("CHROMA_COLLECTION", default="frontline_passages")
EMBEDDING_MODEL_DIR = env.str("EMBEDDING_MODEL_DIR", default="")
EMBEDDING_MODEL = env.str("EMBEDDING_MODEL", default="")  # a litellm embedding model
LLM_MODEL = env.str("LLM_MODEL", default="")
LLM_API_BASE = env.str("LLM_API_BASE", default="")
LLM_API_KEY = env.str("LLM_API_KEY", default="")
LLM_TIMEOUT = env.float("LLM_TIMEOUT", default=20.0)
# With an LLM configured, classify through it too (off: LLM replies, offline triage).
LLM_CLASSIFY = env.bool("LLM_CLASSIFY", default=True)
TRIAGE_CONFIDENCE_THRESHOLD = env.float("TRIAGE_CONFIDENCE_THRESHOLD", default=0.3)
# The confidence gate (knowledge.stages.gate): an article found by retrieval alone is sent
# at RETRIEVAL_MIN_SCORE or above, drafted for an agent from RETRIEVAL_DRAFT_SCORE, and below
# that the ticket escalates as missing knowledge.
RETRIEVAL_MIN_SCORE = env.float("RETRIEVAL_MIN_SCORE", default=0.45)
RETRIEVAL_DRAFT_SCORE = env.float("RETRIEVAL_DRAFT_SCORE", default=0.3)
RETRIEVAL_INTENT_CONFIDENCE = env.float("RETRIEVAL_INTENT_CONFIDENCE", default=0.8)

# The pipeline order, in one place. Each entry is a stage function taking a PipelineContext.
FRONTLINE_PIPELINE = [
    "actions.stages.confirmation",
    "tickets.stages.classify",
    "tickets.stages.route",
    "actions.stages.act",
    "knowledge.stages.resolve",
    "tickets.stages.finalize",
]
# Outbound delivery per channel (how an AI or agent reply leaves the building).
FRONTLINE_OUTBOUND = {
    "chat": "channels_intake.outbound.ChatOutbound",
    "email": "channels_intake.outbound.EmailOutbound",
    "api": "channels_intake.outbound.NullOutbound",
}
STORE_BACKEND = env.str("STORE_BACKEND", default="actions.connectors.demo.DemoStore")
SWEEP_STALE_SECONDS = env.int("SWEEP_STALE_SECONDS", default=60)
CHAT_POLL_SECONDS = env.float("CHAT_POLL_SECONDS", default=0.0 if REDIS_URL else 0.3)
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")

# --- Email ----------------------------------------------------------------------------------
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="support@frontline.localhost")
ANYMAIL = {"WEBHOOK_SECRET": env.str("ANYMAIL_WEBHOOK_SECRET", default="") or None}

# --- Channels: email, SMS, social -----------------------------------------------------------
# Webhooks refuse unsigned calls unless their secret is set; production must set every secret
# of the channels it uses (see the README's channel sections).
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
MEDIA_URL = "/media/"
EMAIL_ATTACHMENT_MAX_BYTES = env.int("EMAIL_ATTACHMENT_MAX_BYTES", default=10_000_000)
EMAIL_ATTACHMENT_MAX_COUNT = env.int("EMAIL_ATTACHMENT_MAX_COUNT", default=10)
EMAIL_ATTACHMENT_TYPES = env.list(
    "EMAIL_ATTACHMENT_TYPES",
    default=["image/*", "application/pdf", "text/plain", "text/csv", "application/msword",
             "application/vnd.openxmlformats-officedocument.*"],
)
# More than this many messages from one sender within the window is treated as a mail loop.
EMAIL_LOOP_MAX_MESSAGES = env.int("EMAIL_LOOP_MAX_MESSAGES", default=20)
EMAIL_LOOP_WINDOW_MINUTES = env.int("EMAIL_LOOP_WINDOW_MINUTES", default=10)
MAILGUN_WEBHOOK_SIGNING_KEY = env.str("MAILGUN_WEBHOOK_SIGNING_KEY", default="")
if MAILGUN_WEBHOOK_SIGNING_KEY:
    # Left out when empty: anymail would otherwise verify signatures against an empty key.
    ANYMAIL["MAILGUN_WEBHOOK_SIGNING_KEY"] = MAILGUN_WEBHOOK_SIGNING_KEY
IMAP_HOST = env.str("IMAP_HOST", default="")
IMAP_PORT = env.int("IMAP_PORT", default=993)
IMAP_USER = env.str("IMAP_USER", default="")
IMAP_PASSWORD = env.str("IMAP_PASSWORD", default="")
IMAP_FOLDER = env.str("IMAP_FOLDER", default="INBOX")
IMAP_POLL_SECONDS = env.int("IMAP_POLL_SECONDS", default=60)
TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", default="")
TWILIO_FROM_NUMBER = env.str("TWILIO_FROM_NUMBER", default="")
TWILIO_MESSAGING_SERVICE_SID = env.str("TWILIO_MESSAGING_SERVICE_SID", default="")
TWILIO_API_BASE = env.str("TWILIO_API_BASE", default="https://api.twilio.com")
TWILIO_ALLOW_UNSIGNED = env.bool("TWILIO_ALLOW_UNSIGNED", default=False)  # honoured only with DEBUG on
SMS_MAX_CHARS = env.int("SMS_MAX_CHARS", default=1600)
META_VERIFY_TOKEN = env.str("META_VERIFY_TOKEN", default="")
META_APP_SECRET = env.str("META_APP_SECRET", default="")
META_GRAPH_BASE = env.str("META_GRAPH_BASE", default="https://graph.facebook.com/v21.0")
META_PAGE_ACCESS_TOKEN = env.str("META_PAGE_ACCESS_TOKEN", default="")  # Messenger and Instagram
META_WHATSAPP_ACCESS_TOKEN = env.str("META_WHATSAPP_ACCESS_TOKEN", default="")
CHANNEL_HTTP_TIMEOUT = env.float("CHANNEL_HTTP_TIMEOUT", default=10.0)
# Outbound webhooks to integrations (tickets/webhooks.py).
WEBHOOK_TIMEOUT = env.float("WEBHOOK_TIMEOUT", default=5.0)
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=8)
# With DEBUG off, webhook URLs must be https and public unless this is set.
WEBHOOK_ALLOW_PRIVATE = env.bool("WEBHOOK_ALLOW_PRIVATE", default=False)
FRONTLINE_OUTBOUND.update(
    {"sms": "channels_intake.outbound.SmsOutbound", "social": "channels_intake.outbound.SocialOutbound"}
)

# --- Chat widget ----------------------------------------------------------------------------
# Pages allowed to open the chat socket, as origins ("https://shop.example.com", "https://.example.com"
# for subdomains, "*" for any). Empty: the site's own ALLOWED_HOSTS only.
CHAT_ALLOWED_ORIGINS = env.list("CHAT_ALLOWED_ORIGINS", default=[])
# Shared with host sites that sign their customer's email (hex HMAC-SHA256 of the email). When
# set, an unsigned or wrongly signed email is not trusted: the chat stays anonymous.
CHAT_IDENTITY_SECRET = env.str("CHAT_IDENTITY_SECRET", default="")
CHAT_MAX_MESSAGE_CHARS = env.int("CHAT_MAX_MESSAGE_CHARS", default=4000)
CHAT_RATE_LIMIT = env.str("CHAT_RATE_LIMIT", default="20/min")  # customer messages per connection

# --- REST -----------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Per token (a token is a user): a runaway integration gets 429s, not the whole queue.
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.UserRateThrottle",
        "rest_framework.throttling.AnonRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "user": env.str("API_THROTTLE_RATE", default="600/min"),
        "anon": env.str("API_ANON_THROTTLE_RATE", default="60/min"),
    },
}
# Throttle counters must be shared by every web process once there is more than one.
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Frontline API",
    "DESCRIPTION": "Tickets, messages, articles and metrics of the Frontline support pipeline.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=1_000_000)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
LOGIN_URL = "/admin/login/"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"httpx": {"level": "WARNING"}, "chromadb": {"level": "WARNING"}},
}
