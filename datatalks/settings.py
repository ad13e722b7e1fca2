"""Settings, all read from the environment (see .env.example and the README)."""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from .env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
# Where the embedded defaults keep their files: the SQLite database, the filesystem
# broker's folders and beat's schedule.
VAR_DIR = Path(env_str("DATATALKS_VAR_DIR", str(BASE_DIR / "var"))).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = env_str("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set; set it, or set DJANGO_DEBUG=true for development"
        )
    SECRET_KEY = "insecure-development-key-do-not-use-in-production"  # noqa: S105
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "mappings",
    "ingestion",
    "integrations",
    "axes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "datatalks.middleware.RequestIdMiddleware",
    "ingestion.middleware.ApiRequestMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a locked-out login into its 429 page.
    "axes.middleware.AxesMiddleware",
]

# Admin sign-in lockout (django-axes): after DATATALKS_ADMIN_LOCKOUT_FAILURES wrong
# passwords for one user name from one address, that pair is refused for
# DATATALKS_ADMIN_LOCKOUT_MINUTES, even with the right password. A success resets the
# count. `manage.py axes_reset` (or axes_reset_username NAME) lifts a lockout.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("DATATALKS_ADMIN_LOCKOUT_FAILURES", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(
    minutes=env_int("DATATALKS_ADMIN_LOCKOUT_MINUTES", 15, minimum=1)
)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False  # no banner from every process at start

ROOT_URLCONF = "datatalks.urls"
WSGI_APPLICATION = "datatalks.wsgi.application"
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # The admin's shared base page (datatalks/templates/admin/base_site.html).
        "DIRS": [BASE_DIR / "datatalks" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# The embedded default is a SQLite file, so a machine with only Python runs the service.
_DEFAULT_DATABASE_URL = f"sqlite:///{VAR_DIR / 'datatalks.sqlite3'}"
DATABASE_URL = env_str("DATABASE_URL", _DEFAULT_DATABASE_URL)
try:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
except Exception as exc:  # dj_database_url raises several types for a bad URL
    raise ImproperlyConfigured(
        f"DATABASE_URL is not a valid database URL: {exc}"
    ) from None
# A connection kept across requests is checked first, so a restarted PostgreSQL costs
# one failed request per process at most, not one per connection's remaining age. On
# PostgreSQL the check looks at the socket, without a round trip (datatalks/postgres).
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["ENGINE"] = "datatalks.postgres"
    # A database host that vanished makes a (re)connect fail in 5 s, not libpq's
    # default of waiting on TCP (about two minutes a request, one thread after another);
    # ?connect_timeout=N in DATABASE_URL sets another.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # Web and worker processes write at once: transactions take the write lock when
    # they begin (a deferred one that reads, then writes, fails at once with "database
    # is locked" when another holds it), and WAL lets readers go on beside a writer.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Celery. Without REDIS_URL the broker is kombu's filesystem transport: no server needed.
REDIS_URL = env_str("REDIS_URL", "")
if REDIS_URL and not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
    raise ImproperlyConfigured(f"REDIS_URL={REDIS_URL!r} must start with redis://")
_BROKER_DIR = VAR_DIR / "broker"
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    # A publish gives up after one quick retry: ingestion must not wait on a broker
    # that is down (the outbox row is safe; the sweeper sends it later).
    CELERY_BROKER_TRANSPORT_OPTIONS: dict = {
        "max_retries": 1,
        "interval_start": 0,
        "interval_step": 0.1,
        "interval_max": 0.1,
    }
else:
    for sub in ("in", "processed", "control"):
        (_BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_BROKER_DIR / "in"),
        "data_folder_out": str(_BROKER_DIR / "in"),
        "processed_folder": str(_BROKER_DIR / "processed"),
        # The exchange tables (kombu's default is control/ in the working directory).
        "control_folder": str(_BROKER_DIR / "control"),
        "store_processed": False,
    }
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
# The worker logs through LOGGING below (JSON in production), not Celery's own format.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# Operations (docs/operations.md). /readyz gives PostgreSQL and the broker this long
# each. A worker touches its heartbeat file every few seconds while it is connected to
# the broker; empty: no file.
DATATALKS_READY_TIMEOUT_SECONDS = env_int(
    "DATATALKS_READY_TIMEOUT_SECONDS", 2, minimum=1
)
DATATALKS_WORKER_HEARTBEAT_FILE = env_str("DATATALKS_WORKER_HEARTBEAT_FILE", "")
DATATALKS_WORKER_HEARTBEAT_SECONDS = env_int(
    "DATATALKS_WORKER_HEARTBEAT_SECONDS", 5, minimum=1
)
# GET /metrics answers a bearer of this token; unset, the endpoint answers 404.
DATATALKS_METRICS_TOKEN = env_str("DATATALKS_METRICS_TOKEN", "")
# A Celery worker serves its own metrics (deliveries, Salesmanago calls) on this port
# and address when set: for a worker-only node. Its pool processes count in
# PROMETHEUS_MULTIPROC_DIR, which must then be set (and not shared with a gunicorn
# whose /metrics would count the same values again).
DATATALKS_WORKER_METRICS_PORT = env_int("DATATALKS_WORKER_METRICS_PORT", 0)
DATATALKS_WORKER_METRICS_ADDRESS = env_str(
    "DATATALKS_WORKER_METRICS_ADDRESS", "127.0.0.1"
)
if DATATALKS_WORKER_METRICS_PORT and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    raise ImproperlyConfigured(
        "DATATALKS_WORKER_METRICS_PORT needs PROMETHEUS_MULTIPROC_DIR: the worker's "
        "pool processes count there"
    )

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "datatalks" / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = DEBUG

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["ingestion.auth.SigV4Authentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "datatalks.api.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["ingestion.throttling.KeyRateThrottle"],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Data Talks API",
    "DESCRIPTION": (
        "One endpoint for profiles, events and inventory items from all of a customer's "
        "systems. Requests are signed with AWS Signature Version 4 (service `execute-api`)."
    ),
    "VERSION": "3.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # The API documentation is public; every API endpoint requires a signature.
    "SERVE_AUTHENTICATION": [],
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    # Swagger UI and ReDoc from this app's static files, never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# AWS Signature V4.
DATATALKS_SIGV4_REGION = env_str("DATATALKS_SIGV4_REGION", "eu-north-1")
DATATALKS_SIGV4_SERVICE = env_str("DATATALKS_SIGV4_SERVICE", "execute-api")
DATATALKS_SIGV4_MAX_SKEW_SECONDS = env_int("DATATALKS_SIGV4_MAX_SKEW_SECONDS", 300)
DATATALKS_TRUST_PROXY = env_bool("DATATALKS_TRUST_PROXY", False)
# How long a process keeps a key (with its customer) it has looked up: the bound on how
# late a deactivated or rotated key, an inactive customer or a changed mapping reaches
# the other processes (the process that made the change drops it at once). 0: no cache.
DATATALKS_CREDENTIAL_CACHE_SECONDS = env_int("DATATALKS_CREDENTIAL_CACHE_SECONDS", 5)
if DATATALKS_CREDENTIAL_CACHE_SECONDS > 5:
    raise ImproperlyConfigured(
        "DATATALKS_CREDENTIAL_CACHE_SECONDS must be at most 5: a deactivated key "
        "must stop working within 5 seconds"
    )
# Fernet key(s) for secrets at rest, comma-separated; the first encrypts, all decrypt.
DATATALKS_ENCRYPTION_KEY = env_str("DATATALKS_ENCRYPTION_KEY", "")

# Request limits (documented in docs/limits.md). Body limits apply before the body is
# read; the others are checked after parsing, each with a 400 that names it.
DATATALKS_MAX_BODY_BYTES = env_int(
    "DATATALKS_MAX_BODY_BYTES", 1024 * 1024, minimum=1024
)
DATATALKS_BATCH_MAX_BODY_BYTES = env_int(
    "DATATALKS_BATCH_MAX_BODY_BYTES", 5 * 1024 * 1024, minimum=1024
)
DATATALKS_BATCH_MAX_ITEMS = env_int("DATATALKS_BATCH_MAX_ITEMS", 1000, minimum=1)
DATATALKS_MAX_FIELDS = env_int("DATATALKS_MAX_FIELDS", 1000, minimum=1)
DATATALKS_MAX_STRING_CHARS = env_int("DATATALKS_MAX_STRING_CHARS", 64 * 1024, minimum=1)
DATATALKS_MAX_ARRAY_ITEMS = env_int("DATATALKS_MAX_ARRAY_ITEMS", 1000, minimum=1)
DATATALKS_MAX_JSON_DEPTH = env_int("DATATALKS_MAX_JSON_DEPTH", 16, minimum=4)
# Admin: the largest sample file staff may import to propose a mapping.
DATATALKS_IMPORT_MAX_BYTES = env_int(
    "DATATALKS_IMPORT_MAX_BYTES", 10 * 1024 * 1024, minimum=1024
)
DATA_UPLOAD_MAX_MEMORY_SIZE = max(
    DATATALKS_MAX_BODY_BYTES, DATATALKS_BATCH_MAX_BODY_BYTES
)
# Requests per minute per API key unless the customer has its own limit (Redis-backed).
DATATALKS_RATE_LIMIT_PER_MINUTE = env_int(
    "DATATALKS_RATE_LIMIT_PER_MINUTE", 120_000, minimum=1
)
# Group commit (ingestion/grouping.py): a web process's concurrent single ingests of one
# customer are written by one statement. A request that finds one being written waits
# for it, and then the first of those waiting writes them all; after groups of three or
# more (saturation) it first waits up to this many microseconds for others, less once
# every thread of the process is queued. A lone request is written at once.
DATATALKS_GROUP_COMMIT = env_bool("DATATALKS_GROUP_COMMIT", True)
DATATALKS_GROUP_COMMIT_WAIT_US = env_int("DATATALKS_GROUP_COMMIT_WAIT_US", 1000)
# Request-log rows per minute per web process for requests with no valid key (refused
# signatures, unknown paths): anyone can send those, and each row is a database write.
DATATALKS_REQUEST_LOG_ANONYMOUS_PER_MINUTE = env_int(
    "DATATALKS_REQUEST_LOG_ANONYMOUS_PER_MINUTE", 60, minimum=0
)

# Files of data points (POST /v3/files/..., docs/files.md). The body is streamed to the
# "files" storage: var/files by default, an S3-compatible bucket when one is named, so
# web nodes and workers on different machines share uploads.
DATATALKS_FILE_MAX_BYTES = env_int(
    "DATATALKS_FILE_MAX_BYTES", 200 * 1024 * 1024, minimum=1024
)
# Rows per chunk: each chunk is one transaction with its progress (at most a batch).
DATATALKS_FILE_CHUNK_ROWS = min(
    env_int("DATATALKS_FILE_CHUNK_ROWS", 1000, minimum=1), DATATALKS_BATCH_MAX_ITEMS
)
# A task works on a file this long, then queues the rest, so files share the workers.
DATATALKS_FILE_SLICE_SECONDS = env_int("DATATALKS_FILE_SLICE_SECONDS", 60, minimum=1)
# A file in processing whose progress is older than this lost its worker: queued again.
DATATALKS_FILE_STUCK_SECONDS = env_int("DATATALKS_FILE_STUCK_SECONDS", 300, minimum=2)
DATATALKS_FILE_SWEEP_SECONDS = env_int("DATATALKS_FILE_SWEEP_SECONDS", 60, minimum=1)
# A file that kills or stalls its worker this many times in a row, with no chunk stored
# in between, fails with the row it stopped at, instead of taking workers forever.
DATATALKS_FILE_MAX_TAKEOVERS = env_int("DATATALKS_FILE_MAX_TAKEOVERS", 3, minimum=1)
# Uploaded files and their rejected rows are deleted this many days after upload.
DATATALKS_FILE_RETENTION_DAYS = env_int("DATATALKS_FILE_RETENTION_DAYS", 30, minimum=1)
# XLSX guards: a workbook is a ZIP archive, so a small upload can unpack to gigabytes.
DATATALKS_FILE_XLSX_MAX_UNPACKED_BYTES = env_int(
    "DATATALKS_FILE_XLSX_MAX_UNPACKED_BYTES", 1024**3, minimum=1024
)
DATATALKS_FILE_XLSX_MAX_RATIO = env_int("DATATALKS_FILE_XLSX_MAX_RATIO", 200, minimum=1)
DATATALKS_FILE_MAX_COLUMNS = env_int("DATATALKS_FILE_MAX_COLUMNS", 1000, minimum=1)
# The Celery queue of file processing: "celery" (the default queue), or a queue of its
# own served by dedicated workers (celery worker -Q files), so that a large upload
# never delays deliveries.
DATATALKS_FILE_QUEUE = env_str("DATATALKS_FILE_QUEUE", "celery")
CELERY_TASK_ROUTES = {
    "ingestion.tasks.file_process_task": {"queue": DATATALKS_FILE_QUEUE}
}
DATATALKS_FILES_S3_BUCKET = env_str("DATATALKS_FILES_S3_BUCKET", "")
if DATATALKS_FILES_S3_BUCKET:
    _s3_options = {
        "bucket_name": DATATALKS_FILES_S3_BUCKET,
        "location": env_str("DATATALKS_FILES_S3_PREFIX", "files"),
        "endpoint_url": env_str("DATATALKS_FILES_S3_ENDPOINT_URL", "") or None,
        "region_name": env_str("DATATALKS_FILES_S3_REGION", "") or None,
        # Unset: boto3's own chain (AWS_ACCESS_KEY_ID..., an instance role).
        "access_key": env_str("DATATALKS_FILES_S3_ACCESS_KEY_ID", "") or None,
        "secret_key": env_str("DATATALKS_FILES_S3_SECRET_ACCESS_KEY", "") or None,
        "file_overwrite": True,  # names are new UUIDs: no existence check
        "default_acl": None,
        # A file being read spills to a temporary file past 1 MiB (0 would keep the
        # whole object in memory), so a worker's memory stays flat.
        "max_memory_size": 1024 * 1024,
    }
    # An upload streams in as it is received, so it is sent in 8 MiB parts; two at a
    # time keeps a web process's memory at a few parts, not a whole file.
    from boto3.s3.transfer import TransferConfig

    _s3_options["transfer_config"] = TransferConfig(max_concurrency=2)
    STORAGES["files"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": _s3_options,
    }
else:
    STORAGES["files"] = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": env_str("DATATALKS_FILES_DIR", str(VAR_DIR / "files"))},
    }

# Logs: one JSON object per line in production, text in development (make run); every
# line of a request carries its id, customer and key (datatalks/logs.py).
DATATALKS_LOG_FORMAT = env_str("DATATALKS_LOG_FORMAT", "text" if DEBUG else "json")
if DATATALKS_LOG_FORMAT not in ("json", "text"):
    raise ImproperlyConfigured(
        f"DATATALKS_LOG_FORMAT={DATATALKS_LOG_FORMAT!r} must be json or text"
    )
# While a dependency is down, each process logs one line per failed request and a
# summary this often (datatalks/outages.py).
DATATALKS_OUTAGE_SUMMARY_SECONDS = env_int(
    "DATATALKS_OUTAGE_SUMMARY_SECONDS", 60, minimum=1
)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "datatalks.middleware.RequestIdLogFilter"}},
    "formatters": {
        "text": {
            "format": "%(asctime)s %(levelname)s %(name)s "
            "[%(request_id)s %(customer)s %(key)s] %(message)s"
        },
        "json": {"()": "datatalks.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_id"],
            "formatter": DATATALKS_LOG_FORMAT,
        }
    },
    "root": {"handlers": ["console"], "level": env_str("DJANGO_LOG_LEVEL", "INFO")},
}

# Security. These headers go on every response (API, admin, docs): no MIME sniffing,
# no framing, no referrer to other origins. HTTPS and HSTS are for production only and
# off until set; README "Production settings" lists the values check --deploy passes.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
    # Off by default: a proxy may redirect already, and tests speak plain HTTP.
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", False)
    # A browser keeps HSTS for max-age seconds whatever is deployed later: opt in.
    SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", False)
    # Behind a TLS-terminating proxy: the header it sets to "https" (X-Forwarded-Proto).
    _ssl_header = env_str("DJANGO_SECURE_PROXY_SSL_HEADER", "").strip()
    if _ssl_header and not _ssl_header.replace("-", "").isalnum():
        raise ImproperlyConfigured(
            f"DJANGO_SECURE_PROXY_SSL_HEADER={_ssl_header!r} is not a header name, "
            "such as X-Forwarded-Proto"
        )
    if _ssl_header:
        _meta_name = "HTTP_" + _ssl_header.upper().replace("-", "_")
        SECURE_PROXY_SSL_HEADER = (_meta_name, "https")

# Salesmanago delivery.
SALESMANAGO_URL = env_str("SALESMANAGO_URL", "http://127.0.0.1:8765")
# Where accounts may point (integrations/salesmanago/addresses.py): these domains and
# their subdomains, over HTTPS, at public addresses only. The local sandbox (loopback)
# only in development or when allowed explicitly (tests, make bench).
SALESMANAGO_ALLOWED_HOSTS = env_list(
    "SALESMANAGO_ALLOWED_HOSTS", ["salesmanago.com", "salesmanago.pl"]
)
SALESMANAGO_ALLOW_LOOPBACK = env_bool("SALESMANAGO_ALLOW_LOOPBACK", DEBUG)
SALESMANAGO_TIMEOUT_SECONDS = env_int("SALESMANAGO_TIMEOUT_SECONDS", 30, minimum=1)
# Events go one call each (only the single add answers the eventId a later update
# needs), so a sender makes this many calls at once, from one thread; up to twice as
# many are on the wire while a wave is recorded (docs/scaling.md).
SALESMANAGO_EVENT_CALLS_AT_ONCE = env_int(
    "SALESMANAGO_EVENT_CALLS_AT_ONCE", 50, minimum=1
)
DELIVERY_MAX_AGE_SECONDS = env_int(
    "DATATALKS_DELIVERY_MAX_AGE_SECONDS", 72 * 3600, minimum=60
)
DELIVERY_BACKOFF_BASE_SECONDS = env_int(
    "DATATALKS_DELIVERY_BACKOFF_BASE_SECONDS", 2, minimum=0
)
DELIVERY_BACKOFF_CAP_SECONDS = env_int(
    "DATATALKS_DELIVERY_BACKOFF_CAP_SECONDS", 3600, minimum=1
)
# A send still "sending" after this long lost its worker; the sweeper queues it again.
# It must exceed the task's hard time limit.
DELIVERY_TASK_TIME_LIMIT_SECONDS = env_int(
    "DATATALKS_DELIVERY_TASK_TIME_LIMIT_SECONDS", 150, minimum=5
)
DELIVERY_STUCK_SECONDS = env_int("DATATALKS_DELIVERY_STUCK_SECONDS", 300, minimum=5)
DELIVERY_SWEEP_SECONDS = env_int("DATATALKS_DELIVERY_SWEEP_SECONDS", 30, minimum=1)
if DELIVERY_STUCK_SECONDS <= DELIVERY_TASK_TIME_LIMIT_SECONDS:
    raise ImproperlyConfigured(
        "DATATALKS_DELIVERY_STUCK_SECONDS must exceed DATATALKS_DELIVERY_TASK_TIME_LIMIT_SECONDS"
    )
# Retention (ingestion/privacy/retention.py): defaults a customer's own periods
# override; the beat task deletes in batches of DATATALKS_RETENTION_BATCH rows, one
# short transaction each.
DATATALKS_RETENTION_REQUEST_LOG_DAYS = env_int(
    "DATATALKS_RETENTION_REQUEST_LOG_DAYS", 90, minimum=1
)
DATATALKS_RETENTION_DELIVERIES_DAYS = env_int(
    "DATATALKS_RETENTION_DELIVERIES_DAYS", 30, minimum=1
)
DATATALKS_RETENTION_BATCH = env_int("DATATALKS_RETENTION_BATCH", 2000, minimum=1)
DATATALKS_RETENTION_SWEEP_SECONDS = env_int(
    "DATATALKS_RETENTION_SWEEP_SECONDS", 3600, minimum=1
)
CELERY_BEAT_SCHEDULE = {
    "retention": {
        "task": "ingestion.tasks.retention_task",
        "schedule": float(DATATALKS_RETENTION_SWEEP_SECONDS),
    },
    "sweep-deliveries": {
        "task": "integrations.tasks.deliveries_sweep_task",
        "schedule": float(DELIVERY_SWEEP_SECONDS),
    },
    "sweep-files": {
        "task": "ingestion.tasks.files_sweep_task",
        "schedule": float(DATATALKS_FILE_SWEEP_SECONDS),
    },
    # The data health page's counts (ingestion/rollups.py), a minute behind the log.
    "rollup-request-log": {
        "task": "ingestion.tasks.requestlog_rollup_task",
        "schedule": 60.0,
    },
}
