"""Settings read from the environment, with safe defaults for the embedded mode.

The embedded default (no environment at all) is SQLite in ``data/`` and a Celery
worker on the filesystem broker, so ``make run`` needs nothing installed.
Production sets ``DATABASE_URL``, ``REDIS_URL`` and ``SECRET_KEY``; with
``DEBUG`` off a missing secret fails fast.

This module is longer than Keel's 500-line rule on purpose: it is the one flat list of
every setting and the environment variable behind it, read top to bottom (the order is
the precedence: a later setting may use an earlier one). Split over files, one
setting's default, its variable and what derives from it would sit in different places.
"""

import ipaddress
import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def env(name: str, default: str | None = None) -> str | None:
    """Read ``NAME`` or ``DJANGO_NAME`` from the environment."""
    value = os.environ.get(name)
    if value is None:
        value = os.environ.get(f"DJANGO_{name}")
    return default if value is None or value == "" else value


def env_bool(name: str, default: bool = False) -> bool:
    value = env(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = env(name)
    try:
        return int(value) if value is not None else default
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from exc


def env_list(name: str, default: list[str]) -> list[str]:
    value = env(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


DATA_DIR = Path(env("KEEL_DATA_DIR", str(BASE_DIR / "data")))
DATA_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", False)
EMBEDDED = env_bool("KEEL_EMBEDDED", False)


def _secret_key() -> str:
    key = env("SECRET_KEY")
    if key:
        return key
    if not (DEBUG or EMBEDDED):
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it (or DEBUG=1 / KEEL_EMBEDDED=1 for a local run)."
        )
    # A local run keeps one generated key in the data dir so sessions survive restarts.
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
KEEL_PUBLIC_URL = env("KEEL_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "axes",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "simple_history",
    "common",
    "incidents",
    "postmortems",
    "notifications",
    "statuspage",
    "workspace",
    "reports",
]

MIDDLEWARE = [
    "common.middleware.SecurityHeadersMiddleware",
    "common.metrics_http.HttpMetricsMiddleware",
    "common.middleware.RequestBodyLimitMiddleware",
    "common.middleware.UnstorableInputMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "common.timezones.UserTimeZoneMiddleware",
    "common.logs.RequestContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last: turns a locked-out sign-in into common.views.login_locked_out's 429.
    "axes.middleware.AxesMiddleware",
]

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
                "common.context_processors.keel",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL", f"sqlite:///{DATA_DIR / 'keel.sqlite3'}"),
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
# Which process this is: "web" answers people, "worker" sends (config/celery.py says
# "worker" before the settings load). A request gets much shorter database and broker
# bounds than a worker: a person is waiting, and the sweeper finishes what a request drops.
KEEL_PROCESS_ROLE = env("KEEL_PROCESS_ROLE", "web")
IS_WORKER = KEEL_PROCESS_ROLE == "worker"


def _bound(name: str, web: int, worker: int) -> int:
    """``NAME`` for the web, ``NAME_WORKER`` (falling back to the defaults) for workers."""
    return env_int(f"{name}_WORKER", worker) if IS_WORKER else env_int(name, web)


# A hung database must not hang a request forever (seed 000: timeouts everywhere).
# statement_timeout is enforced by the server and connect_timeout only while connecting;
# neither helps once an open connection stops answering (a frozen host or proxy): then
# tcp_user_timeout (unacknowledged data) and keepalives (a silent peer) close it, and
# the client-side deadline (common/db.py) covers a peer that acknowledges but never
# answers. idle_in_transaction_session_timeout frees the locks of a client that died
# mid-transaction.
DB_CONNECT_TIMEOUT = _bound("DB_CONNECT_TIMEOUT", 3, 5)
DB_STATEMENT_TIMEOUT_MS = _bound("DB_STATEMENT_TIMEOUT_MS", 10000, 30000)
DB_TCP_USER_TIMEOUT_MS = _bound("DB_TCP_USER_TIMEOUT_MS", 5000, 20000)
DB_IDLE_IN_TRANSACTION_TIMEOUT_MS = _bound("DB_IDLE_IN_TRANSACTION_TIMEOUT_MS", 15000, 60000)
# JIT off for the web: the lists' plans (a visibility filter with Exists subqueries
# over 100,000 incidents) are *estimated* above PostgreSQL's JIT thresholds although
# they read one page through an index, and compiling them cost 2-5 s under load for
# queries that run in milliseconds (issue 17). A request only runs short reads; the
# workers' reports may scan, so they keep the server's setting. DB_JIT=1 turns it back on.
DB_JIT = env_bool("DB_JIT", IS_WORKER)
# The client-side bound of one round trip; above the statement timeout, so that the
# server's own (clearer) error normally wins.
DB_CLIENT_DEADLINE_SECONDS = _bound(
    "DB_CLIENT_DEADLINE_SECONDS",
    DB_STATEMENT_TIMEOUT_MS // 1000 + 2,
    DB_STATEMENT_TIMEOUT_MS // 1000 + 5,
)
# /readyz waits this long in all for its checks (each runs in its own thread).
KEEL_READINESS_TIMEOUT_SECONDS = env_int("KEEL_READINESS_TIMEOUT_SECONDS", 3)
# Retry-After of a 503 answered while the database is unavailable.
KEEL_UNAVAILABLE_RETRY_AFTER_SECONDS = env_int("KEEL_UNAVAILABLE_RETRY_AFTER_SECONDS", 10)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "connect_timeout": DB_CONNECT_TIMEOUT,
            "tcp_user_timeout": DB_TCP_USER_TIMEOUT_MS,
            "keepalives": 1,
            "keepalives_idle": env_int("DB_KEEPALIVES_IDLE", 10),
            "keepalives_interval": env_int("DB_KEEPALIVES_INTERVAL", 3),
            "keepalives_count": env_int("DB_KEEPALIVES_COUNT", 3),
            "options": f"-c statement_timeout={DB_STATEMENT_TIMEOUT_MS}"
            f" -c idle_in_transaction_session_timeout={DB_IDLE_IN_TRANSACTION_TIMEOUT_MS}"
            + ("" if DB_JIT else " -c jit=off"),
        }
    )
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    # The private incidents' partial index INCLUDEs the columns the visibility rule
    # reads (an index-only scan on PostgreSQL); SQLite builds it on id alone, which
    # serves the same rule: its warning says only that.
    SILENCED_SYSTEM_CHECKS = ["models.W040"]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Sign-in throttling and lockout (/login/ and /admin/login/) through django-axes:
# kept up to date for every Django LTS, it counts failures in the database (an audit
# trail of attempts, AccessAttempt/AccessFailureLog/AccessLog in the admin), locks by
# account and by client address independently, and plugs into authenticate() so
# every login form is covered without code of ours in each view.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # ModelBackend, with the profile (time zone) joined to the session's user query.
    "common.auth_backends.ProfileModelBackend",
]
AXES_FAILURE_LIMIT = env_int("KEEL_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("KEEL_LOGIN_COOLOFF_MINUTES", 15))
# Either is enough to lock: one account tried from many addresses, or one address
# trying many accounts.
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = True
AXES_LOCKOUT_CALLABLE = "common.views.login_locked_out"
AXES_CLIENT_IP_CALLABLE = "common.ratelimit.client_address"
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_VERBOSE = False
# Failed passwords are never stored with the attempt.
AXES_SENSITIVE_PARAMETERS = ["password"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(env("STATIC_ROOT", str(DATA_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Bodies are capped: an oversized entity once OOM-killed servers (seed 003).
KEEL_MAX_BODY_BYTES = env_int("KEEL_MAX_BODY_BYTES", 256 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = KEEL_MAX_BODY_BYTES
FILE_UPLOAD_MAX_MEMORY_SIZE = KEEL_MAX_BODY_BYTES
DATA_UPLOAD_MAX_NUMBER_FIELDS = 1000
# JSON nested deeper than this is refused before it is parsed (the decoder recurses).
KEEL_MAX_JSON_DEPTH = env_int("KEEL_MAX_JSON_DEPTH", 32)

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
KEEL_HTTPS = env_bool("KEEL_HTTPS", False)
if KEEL_HTTPS:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    # Probes (docker healthcheck, Prometheus) call these over plain HTTP from inside.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
    SECURE_HSTS_SECONDS = env_int("KEEL_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("KEEL_HSTS_INCLUDE_SUBDOMAINS", False)
    SECURE_HSTS_PRELOAD = False
# Every response (common.middleware.SecurityHeadersMiddleware). Scripts: only files
# from this origin — no inline script, no eval (htmx runs with allowEval off).
# Styles still need 'unsafe-inline': the status page inlines its stylesheet (so the
# snapshot is one self-contained file per page), a few templates use style
# attributes, and Swagger UI (/api/docs/) sets styles at run time.
KEEL_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

# Reverse proxies in front of Keel that append to X-Forwarded-For (nginx: 1). With 0,
# REMOTE_ADDR is the client; a header the client sent itself is never trusted.
KEEL_TRUSTED_PROXY_COUNT = env_int("KEEL_TRUSTED_PROXY_COUNT", 0)
# Failed API token checks per client address before it gets 429 (keys are 256-bit, so
# this stops noise and scanning, not a feasible guess).
KEEL_TOKEN_FAILURE_LIMIT = env_int("KEEL_TOKEN_FAILURE_LIMIT", 20)
KEEL_TOKEN_FAILURE_WINDOW_SECONDS = env_int("KEEL_TOKEN_FAILURE_WINDOW_SECONDS", 300)

# /metrics and /readyz's details: a Prometheus bearer token and/or client networks
# (e.g. "10.0.0.0/8,127.0.0.1/32"). Both empty: only /readyz's bare verdict is public.
KEEL_METRICS_TOKEN = env("KEEL_METRICS_TOKEN", "")
KEEL_OPS_ALLOW_CIDRS = env_list("KEEL_OPS_ALLOW_CIDRS", [])
for _cidr in KEEL_OPS_ALLOW_CIDRS:
    try:
        ipaddress.ip_network(_cidr, strict=False)
    except ValueError as _exc:
        raise ImproperlyConfigured(f"KEEL_OPS_ALLOW_CIDRS: {_exc}") from _exc

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "common.auth.KeelTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        # A token request needs the scope its method and path ask for (common/scopes.py).
        "common.scopes.TokenScopePermission",
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["common.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "common.api.Pagination",
    # drf-spectacular's, plus the error responses every view shares (common/schema.py).
    "DEFAULT_SCHEMA_CLASS": "common.schema.KeelAutoSchema",
    "EXCEPTION_HANDLER": "common.api.exception_handler",
    "PAGE_SIZE": 50,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Keel API",
    "DESCRIPTION": "Incidents through detect → propagate → judge → recover → analyze → share → "
    "retrospect. Creating POSTs honour the Idempotency-Key header.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # 3.1: the document lists Keel's outbound webhook events under ``webhooks``.
    "OAS_VERSION": "3.1.0",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "common.webhook_contracts.webhooks_postprocess",
    ],
    # Several models have a "status" or "kind"; name each enum after its model, so a
    # new enum elsewhere never renames one (generated clients import these names).
    "ENUM_NAME_OVERRIDES": {
        "PostmortemStatusEnum": "postmortems.models.Postmortem.Status",
        "ActionItemKindEnum": "postmortems.models.ActionItem.Kind",
        "ActionItemStatusEnum": "postmortems.models.ActionItem.Status",
        "EvidenceStayEnum": "postmortems.models.ActionItemEvidence.Stay",
        "EvidenceResultEnum": "postmortems.models.ActionItemEvidence.Result",
        "AlertStatusEnum": ["firing", "resolved"],
        "DeliveryStatusEnum": "notifications.models.OutboxStatus",
        "SlackChannelStatusEnum": "notifications.models.IncidentSlackChannel.Status",
        "TimelineEventKindEnum": "incidents.models.TimelineEvent.Kind",
        "ChangeKindEnum": "incidents.models.Change.Kind",
        "UpdateKindEnum": "notifications.models.UpdateKind",
        # The name is Alertmanager's (the first intake); every intake endpoint answers it.
        "AlertmanagerActionEnum": "incidents.intake.receive.ACTIONS",
    },
}

# Redis (broker, cache, shared breaker state) when configured; otherwise embedded.
REDIS_URL = env("REDIS_URL")
KEEL_BROKER_PUBLISH_TIMEOUT_MS = env_int("KEEL_BROKER_PUBLISH_TIMEOUT_MS", 300)
_broker_socket_timeout = 5.0 if IS_WORKER else KEEL_BROKER_PUBLISH_TIMEOUT_MS / 1000
REDIS_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 3600,
    "socket_connect_timeout": 2.0 if IS_WORKER else _broker_socket_timeout,
    "socket_timeout": _broker_socket_timeout,
    # One connection attempt on the web, no sleep before giving up (kombu's default is
    # a retry after 2 s): the publish fails fast and the sweeper delivers.
    **(
        {}
        if IS_WORKER
        else {
            "max_retries": 0,
            "interval_start": 0,
            "interval_step": 0,
            "connect_retries_timeout": _broker_socket_timeout,
        }
    ),
}
CELERY_BROKER_URL = env("CELERY_BROKER_URL", REDIS_URL)
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
if not CELERY_BROKER_URL:
    # Embedded broker: kombu's filesystem transport, shared by web and worker on one host.
    _broker_dir = DATA_DIR / "broker"
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = dict(REDIS_BROKER_TRANSPORT_OPTIONS)
# A broker outage must not hold a request: the web publishes once, bounded by
# KEEL_BROKER_PUBLISH_TIMEOUT_MS per socket operation, and the outbox sweeper enqueues
# whatever a request could not. Workers wait longer and retry a little.
CELERY_TASK_PUBLISH_RETRY = IS_WORKER
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# Workers keep their database connection between tasks (CONN_MAX_AGE above): Celery's
# Django fixup otherwise closes every connection before and after each task, whatever
# CONN_MAX_AGE says, and the subscriber fan-out benchmark measured a new PostgreSQL
# backend per batch. With a reuse count the fixup closes them only every that many
# tasks; between, config/celery.py drops a connection that is broken, left in a
# transaction or older than CONN_MAX_AGE (Django's close_old_connections, as a request
# does). The test settings' CONN_MAX_AGE 0 still closes after every task.
CELERY_DB_REUSE_MAX = env_int("CELERY_DB_REUSE_MAX", 500)
CELERY_TASK_TIME_LIMIT = 120
CELERY_TASK_SOFT_TIME_LIMIT = 90
CELERY_BROKER_CONNECTION_TIMEOUT = 5
CELERY_TASK_ALWAYS_EAGER = False
CELERY_TIMEZONE = "UTC"

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "keel",
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    # Presence on the incident page (incidents.live) without Redis: files in the data
    # dir, shared by every web process on this host (a locmem cache is per process).
    CACHES["live"] = {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": str(DATA_DIR / "live-cache"),
        "OPTIONS": {"MAX_ENTRIES": 2000},
    }

# Live pages (incidents.live, docs/live.md). With Redis: server-sent events over
# pub/sub; without (or KEEL_LIVE_STREAMS=0): polling with ETag/304.
KEEL_LIVE_STREAMS = env_bool("KEEL_LIVE_STREAMS", True) and bool(REDIS_URL)
# Open event streams per web process; one more gets 503 + Retry-After and polls. Keep
# it below gunicorn's --threads so ordinary requests always find a thread.
KEEL_LIVE_MAX_STREAMS = env_int("KEEL_LIVE_MAX_STREAMS", 4)
# A stream ends after this long (the browser reconnects with Last-Event-ID), so no
# stream holds a thread for ever; a heartbeat comment every KEEL_LIVE_HEARTBEAT_SECONDS
# finds a closed tab and refreshes the viewer's presence.
KEEL_LIVE_STREAM_SECONDS = env_int("KEEL_LIVE_STREAM_SECONDS", 300)
KEEL_LIVE_HEARTBEAT_SECONDS = env_int("KEEL_LIVE_HEARTBEAT_SECONDS", 15)
KEEL_LIVE_POLL_SECONDS = env_int("KEEL_LIVE_POLL_SECONDS", 10)
KEEL_LIVE_PRESENCE_SECONDS = env_int("KEEL_LIVE_PRESENCE_SECONDS", 45)
# Publishing after a commit never holds the request longer than this per socket call.
KEEL_LIVE_PUBLISH_TIMEOUT_MS = env_int("KEEL_LIVE_PUBLISH_TIMEOUT_MS", 200)

EMAIL_BACKEND = env("EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = str(DATA_DIR / "outbox-mail")
EMAIL_HOST = env("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
# EMAIL_HOST set in the environment: its mail settings win over the SMTP server
# stored in Settings → Email (shown there as "from environment").
KEEL_EMAIL_FROM_ENVIRONMENT = env("EMAIL_HOST") is not None
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "keel@localhost")

SLACK_BOT_TOKEN = env("SLACK_BOT_TOKEN")
SLACK_SIGNING_SECRET = env("SLACK_SIGNING_SECRET")
SLACK_API_BASE_URL = env("SLACK_API_BASE_URL", "https://slack.com/api/")
SLACK_INCIDENTS_CHANNEL = env("SLACK_INCIDENTS_CHANNEL", "#incidents")
# Secrets entered in Settings (the Slack token and signing secret) are encrypted at
# rest with a key derived from this, or from SECRET_KEY when unset (workspace.secrets).
KEEL_ENCRYPTION_KEY = env("KEEL_ENCRYPTION_KEY")
# Requests per client address per window on /integrations/slack/... (429 past it).
KEEL_SLACK_RATE_LIMIT = env_int("KEEL_SLACK_RATE_LIMIT", 120)
# The pickers' searches (/search/people/, /search/services/): per user and minute.
KEEL_SEARCH_RATE_LIMIT = env_int("KEEL_SEARCH_RATE_LIMIT", 300)
# The lists count exactly up to this many rows and say "10,000+" beyond it: an exact
# count of a long history reads every matching row (common/keyset.py).
KEEL_LIST_COUNT_CAP = env_int("KEEL_LIST_COUNT_CAP", 10000)
KEEL_SLACK_RATE_WINDOW_SECONDS = env_int("KEEL_SLACK_RATE_WINDOW_SECONDS", 60)
# In an incident's own channel, a message a responder reacts to with this emoji
# (its name, without colons) is added to the incident's timeline.
KEEL_SLACK_CAPTURE_REACTION = env("KEEL_SLACK_CAPTURE_REACTION", "pushpin").strip(":")

# The incident page lists the changes to its services this many hours before detection.
KEEL_CHANGE_WINDOW_HOURS = env_int("KEEL_CHANGE_WINDOW_HOURS", 6)

STATUSPAGE_SNAPSHOT_DIR = Path(env("STATUSPAGE_SNAPSHOT_DIR", str(DATA_DIR / "statuspage")))

# Logs: JSON lines with the request, user, incident, delivery and task ids
# (KEEL_LOG_FORMAT=text for the plain format with the ids appended); secrets masked.
KEEL_LOG_FORMAT = env("KEEL_LOG_FORMAT", "text" if DEBUG or EMBEDDED else "json")
if KEEL_LOG_FORMAT not in {"json", "text"}:
    raise ImproperlyConfigured("KEEL_LOG_FORMAT must be 'json' or 'text'")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "context": {"()": "common.logs.ContextFilter"},
        "secrets": {"()": "common.logs.SecretsFilter"},
    },
    "formatters": {
        "json": {"()": "common.logs.JsonFormatter"},
        "text": {"()": "common.logs.TextFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": KEEL_LOG_FORMAT,
            "filters": ["context", "secrets"],
        }
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
# Workers log through LOGGING above (same format, same ids), not Celery's own setup.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Outbound calls (Slack, webhooks, SMTP) never wait longer than this.
KEEL_OUTBOUND_TIMEOUT_SECONDS = env_int("KEEL_OUTBOUND_TIMEOUT_SECONDS", 5)
# ...and a whole outbound HTTP exchange (resolve, connect, TLS, send, answer) never longer
# than this: per-socket timeouts alone let a receiver trickling a byte a second hold a worker.
KEEL_OUTBOUND_DEADLINE_SECONDS = float(env("KEEL_OUTBOUND_DEADLINE_SECONDS", "10"))
# Extra CA bundle (PEM file) trusted for outbound HTTPS; empty: the system's store.
KEEL_OUTBOUND_CA_BUNDLE = env("KEEL_OUTBOUND_CA_BUNDLE", "")
# Outbound HTTP goes only to global addresses (SSRF) unless allowed: tests and local dev only.
KEEL_WEBHOOKS_ALLOW_PRIVATE = env_bool("KEEL_WEBHOOKS_ALLOW_PRIVATE", False)
# Public subscribe form: messages it may cause (confirmations, "manage your subscription"
# emails, webhook challenges) per normalised mailbox, per client address and in total, per
# window. Over a limit: 429 with Retry-After; nothing stored, nothing sent.
KEEL_SUBSCRIBE_WINDOW_SECONDS = env_int("KEEL_SUBSCRIBE_WINDOW_SECONDS", 3600)
KEEL_SUBSCRIBE_PER_ADDRESS = env_int("KEEL_SUBSCRIBE_PER_ADDRESS", 3)
KEEL_SUBSCRIBE_PER_CLIENT = env_int("KEEL_SUBSCRIBE_PER_CLIENT", 10)
KEEL_SUBSCRIBE_GLOBAL = env_int("KEEL_SUBSCRIBE_GLOBAL", 200)
# Reverse proxies in front of Keel that append to X-Forwarded-For (nginx: 1). 0: trust only
# REMOTE_ADDR (a client can write any X-Forwarded-For it likes).
KEEL_TRUSTED_PROXY_COUNT = env_int("KEEL_TRUSTED_PROXY_COUNT", 0)
# A worker holds a delivery this long; after that the sweeper may hand it to another.
KEEL_DELIVERY_LEASE_SECONDS = env_int("KEEL_DELIVERY_LEASE_SECONDS", 60)
# Pending deliveries overdue by this much are re-enqueued by the sweeper.
KEEL_SWEEP_GRACE_SECONDS = env_int("KEEL_SWEEP_GRACE_SECONDS", 15)
# Behind is visible: the beat's heartbeat task runs every KEEL_WORKER_HEARTBEAT_SECONDS;
# /readyz fails when no worker ran it for KEEL_WORKER_HEARTBEAT_MAX_AGE_SECONDS, or when
# a delivery has been pending longer than KEEL_DELIVERY_PENDING_MAX_AGE_SECONDS. The
# incident banner names deliveries waiting longer than KEEL_DELIVERY_WAITING_BANNER_SECONDS.
KEEL_WORKER_HEARTBEAT_SECONDS = env_int("KEEL_WORKER_HEARTBEAT_SECONDS", 15)
KEEL_WORKER_HEARTBEAT_MAX_AGE_SECONDS = env_int("KEEL_WORKER_HEARTBEAT_MAX_AGE_SECONDS", 60)
KEEL_DELIVERY_PENDING_MAX_AGE_SECONDS = env_int("KEEL_DELIVERY_PENDING_MAX_AGE_SECONDS", 120)
KEEL_DELIVERY_WAITING_BANNER_SECONDS = env_int("KEEL_DELIVERY_WAITING_BANNER_SECONDS", 30)
# Personal notices (role, review, action items, updates owed): at most this many a person a
# day; the ones over it are dropped, counted on /me/notifications/ and logged.
KEEL_PERSONAL_NOTICES_DAILY_CAP = env_int("KEEL_PERSONAL_NOTICES_DAILY_CAP", 30)

CELERY_BEAT_SCHEDULE = {
    "sweep-stale-deliveries": {
        "task": "notifications.tasks.deliveries_sweep_task",
        "schedule": float(env_int("KEEL_SWEEP_SECONDS", 15)),
    },
    "sweep-stalled-slack-requests": {
        "task": "notifications.tasks.slack_requests_sweep_task",
        "schedule": 30.0,
    },
    "worker-heartbeat": {
        "task": "notifications.tasks.worker_heartbeat_task",
        "schedule": float(KEEL_WORKER_HEARTBEAT_SECONDS),
    },
    "remind-overdue-updates": {
        "task": "notifications.tasks.cadence_remind_task",
        "schedule": 60.0,
    },
}

# Status page (statuspage app): the public identity of the page and its snapshot.
STATUSPAGE_NAME = env("STATUSPAGE_NAME", "Keel")
STATUSPAGE_PAGE_ID = env("STATUSPAGE_PAGE_ID", "keelstatus01")
# /readyz reports a snapshot older than this (the beat republishes every few minutes).
STATUSPAGE_SNAPSHOT_MAX_AGE_SECONDS = env_int("STATUSPAGE_SNAPSHOT_MAX_AGE_SECONDS", 900)
STATUSPAGE_SNAPSHOT_KEEP = 5
# Snapshot files are answered before sessions/CSRF/auth run (no cookies, no DB).
MIDDLEWARE.insert(
    MIDDLEWARE.index("whitenoise.middleware.WhiteNoiseMiddleware"),
    "statuspage.middleware.SnapshotMiddleware",
)
CELERY_BEAT_SCHEDULE["statuspage-republish-snapshot"] = {
    "task": "statuspage.tasks.statuspage_publish_snapshot_task",
    "schedule": 300.0,
}
# Maintenance: the beat starts/completes it on time; the default reminder before a start.
STATUSPAGE_MAINTENANCE_REMINDER_MINUTES = env_int("STATUSPAGE_MAINTENANCE_REMINDER_MINUTES", 60)
CELERY_BEAT_SCHEDULE["statuspage-advance-maintenances"] = {
    "task": "statuspage.tasks.statuspage_maintenances_advance_task",
    "schedule": 60.0,
}
# Postmortems' quality check: detection slower than this (or after customers) asks for a
# *detect* action item.
KEEL_SLOW_DETECTION_MINUTES = env_int("KEEL_SLOW_DETECTION_MINUTES", 15)
# Action items verified by a metric: the Prometheus-compatible API an admin points Keel at
# (e.g. http://prometheus:9090; Keel calls <url>/api/v1/query_range), empty: pasted series
# only. It is the admin's own monitoring, so a private address is allowed; the call has
# the outbound total deadline. The beat re-checks every item's evidence this often.
KEEL_METRICS_QUERY_URL = env("KEEL_METRICS_QUERY_URL", "")
KEEL_METRICS_QUERY_TOKEN = env("KEEL_METRICS_QUERY_TOKEN", "")
KEEL_EVIDENCE_CHECK_SECONDS = env_int("KEEL_EVIDENCE_CHECK_SECONDS", 6 * 3600)
CELERY_BEAT_SCHEDULE["postmortems-check-evidence"] = {
    "task": "postmortems.tasks.action_items_check_evidence_task",
    "schedule": float(KEEL_EVIDENCE_CHECK_SECONDS),
}
# Postmortems: due/overdue action item reminders (each item at most once a day).
CELERY_BEAT_SCHEDULE["postmortems-remind-action-items"] = {
    "task": "postmortems.tasks.action_items_remind_task",
    "schedule": float(env_int("KEEL_ACTION_ITEM_REMINDER_SECONDS", 3600)),
}

# Reports: the weekly digest (last week's incidents, headline figures, overdue action
# items) goes to this audience's email destinations; blank turns it off. The beat runs
# hourly and writes each week once (idempotent), so a missed Monday is caught up.
KEEL_WEEKLY_DIGEST_AUDIENCE = env("KEEL_WEEKLY_DIGEST_AUDIENCE", "business")
CELERY_BEAT_SCHEDULE["reports-weekly-digest"] = {
    "task": "reports.tasks.weekly_digest_task",
    "schedule": 3600.0,
}

# Alertmanager's "severity" label → Keel severity (a "keel_severity" label overrides it).
KEEL_ALERT_SEVERITY_MAP = {
    "critical": "SEV2",
    "page": "SEV2",
    "error": "SEV3",
    "warning": "SEV3",
    "info": "SEV4",
}

# Single sign-on (OpenID Connect, common/sso.py through mozilla-django-oidc; docs/sso.md).
# Off until a client id and the provider's endpoints are set. `manage.py sso_discover
# <issuer>` prints the endpoint variables from the provider's discovery document, so the
# web never fetches it at start-up or on a request.
KEEL_SSO_PROVIDER_NAME = env("KEEL_SSO_PROVIDER_NAME", "your identity provider")
OIDC_RP_CLIENT_ID = env("KEEL_OIDC_CLIENT_ID", "")
OIDC_RP_CLIENT_SECRET = env("KEEL_OIDC_CLIENT_SECRET", "")
OIDC_OP_AUTHORIZATION_ENDPOINT = env("KEEL_OIDC_AUTHORIZATION_ENDPOINT", "")
OIDC_OP_TOKEN_ENDPOINT = env("KEEL_OIDC_TOKEN_ENDPOINT", "")
OIDC_OP_USER_ENDPOINT = env("KEEL_OIDC_USERINFO_ENDPOINT", "")
OIDC_OP_JWKS_ENDPOINT = env("KEEL_OIDC_JWKS_ENDPOINT", "")
OIDC_RP_SIGN_ALGO = env("KEEL_OIDC_SIGN_ALGO", "RS256")
OIDC_RP_SCOPES = env("KEEL_OIDC_SCOPES", "openid email profile groups")
OIDC_USE_PKCE = env_bool("KEEL_OIDC_USE_PKCE", True)
# Each call to the provider (token, userinfo, keys) waits at most this many seconds.
OIDC_TIMEOUT = env_int("KEEL_OIDC_TIMEOUT_SECONDS", 5)
OIDC_VERIFY_SSL = env_bool("KEEL_OIDC_VERIFY_SSL", True)
OIDC_STORE_ACCESS_TOKEN = False
OIDC_STORE_ID_TOKEN = False
OIDC_CALLBACK_CLASS = "common.sso_views.SsoCallbackView"
LOGIN_REDIRECT_URL_FAILURE = "/login/"
# The claim holding the person's groups, and which groups give which role (comma lists;
# the highest role a person's groups give wins). Someone in none of them is refused.
KEEL_OIDC_GROUPS_CLAIM = env("KEEL_OIDC_GROUPS_CLAIM", "groups")
KEEL_OIDC_ADMIN_GROUPS = env_list("KEEL_OIDC_ADMIN_GROUPS", [])
KEEL_OIDC_RESPONDER_GROUPS = env_list("KEEL_OIDC_RESPONDER_GROUPS", [])
KEEL_OIDC_VIEWER_GROUPS = env_list("KEEL_OIDC_VIEWER_GROUPS", [])
# Off: the sign-in page offers only SSO and every password sign-in is refused.
KEEL_PASSWORD_LOGIN = env_bool("KEEL_PASSWORD_LOGIN", True)
if not KEEL_PASSWORD_LOGIN and not (OIDC_RP_CLIENT_ID and OIDC_OP_AUTHORIZATION_ENDPOINT):
    raise ImproperlyConfigured(
        "KEEL_PASSWORD_LOGIN=0 needs single sign-on configured (KEEL_OIDC_CLIENT_ID and "
        "the KEEL_OIDC_*_ENDPOINT variables): nobody could sign in otherwise."
    )
# Listed always: it answers only the provider's callback, and only when SSO is configured.
AUTHENTICATION_BACKENDS.append("common.sso.KeelOidcBackend")
# Invitations (common/invitations.py): how long a one-time link stays valid; the beat
# queues again an invitation email whose task was lost.
KEEL_INVITATION_MAX_AGE_HOURS = env_int("KEEL_INVITATION_MAX_AGE_HOURS", 72)
CELERY_BEAT_SCHEDULE["common-sweep-invitation-emails"] = {
    "task": "notifications.invitation_mail.invitation_emails_sweep_task",
    "schedule": 300.0,
}
# Alert intake (incidents.intake; docs/alerts.md). A notification body is read up to
# KEEL_ALERT_MAX_BODY_BYTES (Alertmanager's largest realistic group: 1,000 alerts with
# Kubernetes labels is ~2 MiB); beyond it the alerts that fit are processed and the rest
# recorded as dropped (never a 413: the sender would drop the outage). At most
# KEEL_ALERT_MAX_ALERTS alerts of one notification are processed.
KEEL_ALERT_MAX_BODY_BYTES = env_int("KEEL_ALERT_MAX_BODY_BYTES", 8 * 1024 * 1024)
KEEL_ALERT_MAX_ALERTS = env_int("KEEL_ALERT_MAX_ALERTS", 5_000)
# The per-source log of received notifications: how many are kept, and how much of each body.
KEEL_ALERT_LOG_KEEP = env_int("KEEL_ALERT_LOG_KEEP", 50)
KEEL_ALERT_LOG_BODY_BYTES = env_int("KEEL_ALERT_LOG_BODY_BYTES", 16 * 1024)
# Automatic (alert-made) updates reach the business audience only when this is set.
KEEL_ALERT_NOTIFY_BUSINESS = env_bool("KEEL_ALERT_NOTIFY_BUSINESS", False)
# The beat's safety net for the hold-time check (each resolve also schedules its own).
CELERY_BEAT_SCHEDULE["alerts-settle-resolved-groups"] = {
    "task": "incidents.tasks.alert_groups_settle_task",
    "schedule": 30.0,
}
