"""Settings, read from the environment (django-environ). With no environment at all the service runs on SQLite
with a development secret, so `make run` needs no configuration; production sets DJANGO_DEBUG=false,
SECRET_KEY, DATABASE_URL (PostgreSQL) and REDIS_URL."""

import os
from pathlib import Path

import environ
from kombu import Exchange, Queue

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("SANDBOX_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()
env_file = BASE_DIR / ".env"
if env_file.exists():
    environ.Env.read_env(env_file)

DEBUG = env.bool("DJANGO_DEBUG", default=True)
DEV_SECRET_KEY = "dev-only-insecure-secret-key-change-me"  # noqa: S105 - refused in production (below)
# Production (DJANGO_DEBUG=false) starts only with its secrets and addresses given: no default reaches it.
PRODUCTION_REQUIRED = ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "DJANGO_ALLOWED_HOSTS")
if not DEBUG:
    missing = [name for name in PRODUCTION_REQUIRED if not os.environ.get(name, "").strip()]
    if missing:
        raise environ.ImproperlyConfigured(f"DJANGO_DEBUG is false, so {', '.join(missing)} must be set in the "
                                           "environment (see .env.example); refusing to start")  # fmt: skip
    if len(os.environ["SECRET_KEY"]) < 40 or os.environ["SECRET_KEY"] == DEV_SECRET_KEY:
        raise environ.ImproperlyConfigured("SECRET_KEY is too short or the development one: use 40 or more random "
                                           "characters (python -c 'import secrets; print(secrets.token_urlsafe(50))')")
SECRET_KEY = env.str("SECRET_KEY", default=DEV_SECRET_KEY)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# --- HTTPS and headers --------------------------------------------------------------------------------------
# Behind a TLS-terminating proxy (production's default): secure cookies, HSTS, plain HTTP redirected — except the
# probes, which load balancers and compose's healthchecks send over plain HTTP inside the network.
HTTPS = env.bool("DJANGO_HTTPS", default=not DEBUG)
if HTTPS:
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", default=True)
    # Preloading is a commitment of the whole domain to browsers' lists: the operator's decision, not a default.
    SECURE_HSTS_PRELOAD = env.bool("DJANGO_HSTS_PRELOAD", default=False)
    if not SECURE_HSTS_PRELOAD:
        SILENCED_SYSTEM_CHECKS = ["security.W021"]
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")  # the proxy says whether the client used TLS
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Every response without a policy of its own gets this one (sandbox_service.core.middleware): scripts only from
# our own files, never inline, so nothing a program prints can run as script even if it reached a page as HTML.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                           "img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
                           "form-action 'self'")  # fmt: skip

INSTALLED_APPS = [
    "sandbox_service.ops.apps.SandboxAdminConfig",  # django.contrib.admin with the operations dashboard
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "sandbox_service.languages",
    "sandbox_service.images",
    "sandbox_service.problems",
    "sandbox_service.submissions",
    "sandbox_service.api",
    "sandbox_service.web",
    "sandbox_service.webhooks",
    "sandbox_service.judge0",
    "sandbox_service.piston",
    "sandbox_service.core",
    "sandbox_service.ops",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",  # static files (the admin's) served by gunicorn itself
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "sandbox_service.core.middleware.ContentSecurityPolicyMiddleware",
]

ROOT_URLCONF = "sandbox_service.urls"
WSGI_APPLICATION = "sandbox_service.wsgi.application"

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
            ],
        },
    },
]

# The executor reads its settings from EXECUTOR_* variables (executor/config.py); its image store defaults to the
# service's data directory rather than the executor's own /var/lib default, in every process of the service.
os.environ.setdefault("EXECUTOR_IMAGES_DIR", str(VAR_DIR / "images"))

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server, the workers and beat write concurrently: wait for the lock instead of failing at once,
    # and let readers proceed during writes (WAL).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 30, "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"}
    )
    DATABASES["default"]["TEST"] = {"NAME": env.str("SQLITE_TEST_NAME", default=str(VAR_DIR / "test-db.sqlite3"))}
# Connections are kept between requests and tasks (opening one, with SQLite's pragmas or PostgreSQL's handshake,
# costs milliseconds per request); checked before reuse, so a database restart costs one failed check, not errors.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

# --- Celery -------------------------------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
CELERY_BROKER_URL = REDIS_URL
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True  # a pool process killed mid-task puts its message back at once
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "interactive"
# Interactive runs (a student waiting) and bulk grading (rejudges, batches) have their own queues, consumed by
# their own workers (`make run` starts one of each), so a regrade of 500 submissions never starves a student.
# (Kombu's Redis transport keeps a worker's queues in a set, so one worker reading both has no reliable order.)
CELERY_TASK_QUEUES = (
    Queue("interactive", Exchange("interactive"), routing_key="interactive"),
    Queue("grading", Exchange("grading"), routing_key="grading"),
)
# Languages whose runtime only some worker hosts have: their submissions go to "<queue>.<group>" (e.g.
# SUBMISSIONS_LANGUAGE_QUEUES=csharp=mono,fortran=hpc sends C# to interactive.mono and grading.mono), consumed by the
# workers started on those hosts with `-Q interactive.mono,grading.mono`; every other language stays on the plain
# queues. (Celery creates a queue a worker names; nothing to declare here.)
SUBMISSIONS_LANGUAGE_QUEUES = env.dict("SUBMISSIONS_LANGUAGE_QUEUES", default={})
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # An unacknowledged message (its worker died) is delivered again after this; the lease check below is
    # usually faster, and the state machine makes the second delivery harmless.
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=600),
}
CELERY_BEAT_SCHEDULE = {
    "recover-stuck-submissions": {
        "task": "sandbox_service.submissions.tasks.recover_stuck_submissions",
        "schedule": env.float("RECOVER_STUCK_EVERY", default=15.0),
        "options": {"queue": "interactive", "expires": 60},
    },
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# --- Submissions --------------------------------------------------------------------------------------------
SUBMISSIONS = {
    # More queued submissions than this and new ones are refused with 503 + Retry-After.
    "MAX_QUEUED": env.int("SUBMISSIONS_MAX_QUEUED", default=1000),
    "RETRY_AFTER_SECONDS": env.int("SUBMISSIONS_RETRY_AFTER", default=10),
    # Per user: more submissions than this in the last minute are refused with 429.
    "PER_USER_PER_MINUTE": env.int("SUBMISSIONS_PER_USER_PER_MINUTE", default=30),
    # Per student: more than this in the last hour are refused with 429, unless a quota (admin) says otherwise.
    "PER_USER_PER_HOUR": env.int("SUBMISSIONS_PER_USER_PER_HOUR", default=300),
    # A running submission whose worker has not renewed its lease for this long is taken back.
    "LEASE_SECONDS": env.float("SUBMISSIONS_LEASE_SECONDS", default=60.0),
    # A queued submission not started after this long is enqueued again (its message may have been lost).
    "REQUEUE_AFTER_SECONDS": env.float("SUBMISSIONS_REQUEUE_AFTER", default=120.0),
    # How many times a submission may be started before it finishes as internal_error.
    "MAX_ATTEMPTS": env.int("SUBMISSIONS_MAX_ATTEMPTS", default=3),
    # How much of each stream is kept per test result.
    "OUTPUT_EXCERPT_BYTES": env.int("SUBMISSIONS_OUTPUT_EXCERPT", default=4096),
}

# --- Webhooks ---------------------------------------------------------------------------------------------------
# Hosts (or host:port) a submission's callback_url may name; empty: no callbacks at all.
WEBHOOK_ALLOWED_HOSTS = env.list("WEBHOOK_ALLOWED_HOSTS", default=[])
# The HMAC-SHA256 key of the X-Sandbox-Signature header; defaults to one derived from SECRET_KEY.
WEBHOOK_SECRET = env.str("WEBHOOK_SECRET", default="")
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=6)
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT", default=5.0)

# --- Compatibility APIs -----------------------------------------------------------------------------------------
# Upstream Piston has no authentication; here a token is required unless the operator allows anonymous calls,
# which are then throttled per client address.
# Per-account API rates over the defaults of api/throttling.py, e.g. API_THROTTLE_RATES="submit=600/min,read=6000/min".
API_THROTTLE_RATES = env.dict("API_THROTTLE_RATES", default={})
PISTON_ALLOW_ANONYMOUS = env.bool("PISTON_ALLOW_ANONYMOUS", default=False)
PISTON_ANONYMOUS_RATE = env.str("PISTON_ANONYMOUS_RATE", default="30/min")

# --- REST framework -----------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "sandbox_service.api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.BasicAuthentication",  # scripts and curl; use HTTPS in production
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Sandbox service API",
    "VERSION": "1.0.0",
    "PREPROCESSING_HOOKS": ["sandbox_service.api.schema.only_native_api"],
    # Swagger UI's own files from the sidecar package, served by WhiteNoise: no CDN at run time.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        # One JSON object per line: the life of each submission, for log collectors (sandbox_service.ops.lifecycle).
        "json": {"()": "pythonjsonlogger.json.JsonFormatter",
                 "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s", "rename_fields": {"asctime": "time"},
                 "datefmt": "%Y-%m-%dT%H:%M:%S%z"},  # fmt: skip
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler"},
        "json_console": {"class": "logging.StreamHandler", "formatter": "json"},
    },
    "loggers": {
        "sandbox_service.lifecycle": {"handlers": ["json_console"], "level": "INFO", "propagate": False},
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}

# --- operations -------------------------------------------------------------------------------------------
# /metrics answers a request bearing this token (Authorization: Bearer ...), or an admin's session; empty: admins only.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# Each Celery worker writes a heartbeat to Redis this often; a worker silent for 3 heartbeats counts as gone.
WORKER_HEARTBEAT_SECONDS = env.float("WORKER_HEARTBEAT_SECONDS", default=10.0)
# /readyz: how long it waits for a worker to answer a ping.
READYZ_WORKER_TIMEOUT = env.float("READYZ_WORKER_TIMEOUT", default=1.0)
