"""Nimbo settings: everything comes from the environment, with a one-machine default.

Defaults: SQLite in WAL mode under var/, a private Redis on a unix socket under var/ (started by
`make run`). DATABASE_URL and REDIS_URL point Nimbo at PostgreSQL and a shared Redis instead.
"""

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("NIMBO_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _env_bool(name, default=False):
    return os.environ.get(name, str(default)).lower() in ("1", "true", "yes", "on")


def _secret_key():
    """A per-installation secret, generated once and kept under var/ (never a fixed default)."""
    if os.environ.get("NIMBO_SECRET_KEY"):
        return os.environ["NIMBO_SECRET_KEY"]
    path = VAR_DIR / "secret_key"
    if not path.exists():
        import secrets

        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(50))
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = _env_bool("NIMBO_DEBUG")


def _site_urls():
    """NIMBO_URLS: the addresses people open the portal at ("https://nimbo.example.org,http://10.0.0.5:8000").
    From this one setting come ALLOWED_HOSTS (their host names, and localhost for the machine itself) and
    CSRF_TRUSTED_ORIGINS (the URLs); the websocket accepts pages of these origins only. Unset: any host
    name, and pages of the host they were served from (the websocket still checks Origin)."""
    from urllib.parse import urlsplit

    urls = [u.strip().rstrip("/") for u in os.environ.get("NIMBO_URLS", "").split(",") if u.strip()]
    hosts = [urlsplit(u).hostname for u in urls if urlsplit(u).hostname]
    if not urls:
        return ["*"], []
    return [*dict.fromkeys([*hosts, "localhost", "127.0.0.1"])], urls


ALLOWED_HOSTS, CSRF_TRUSTED_ORIGINS = _site_urls()

INSTALLED_APPS = [
    "portal.apps.NimboAdminConfig",  # the admin with the sidebar in the scenarios' order
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_rq",
    "django_htmx",
    "channels",
    "apps.core",
    "apps.projects",
    "apps.infra",
    "apps.storage",
    "apps.images",
    "apps.networks",
    "apps.secgroups",
    "apps.compute",
    "apps.vrouter",
    "apps.openstack",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "apps.projects.access.AccessMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "portal.urls"
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
                "apps.projects.views.current_project",
            ],
        },
    },
]
ASGI_APPLICATION = "portal.asgi.application"
WSGI_APPLICATION = None

# --- Database: SQLite (WAL) under var/ unless DATABASE_URL is set -------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0)}
    postgres = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
    if postgres and os.environ.get("NIMBO_DB_POOL_SIZE") != "0":
        # A bounded pool per process (psycopg_pool) instead of one persistent connection per
        # thread: a burst of requests waits for a free connection (up to `timeout` s) instead of
        # opening one each until PostgreSQL refuses every client. NIMBO_DB_POOL_SIZE=0: no pool, a
        # connection per request (behind an external pooler such as PgBouncer).
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": 1,
            "max_size": int(os.environ.get("NIMBO_DB_POOL_SIZE", "8")),
            "timeout": float(os.environ.get("NIMBO_DB_POOL_TIMEOUT", "20")),
        }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "nimbo.sqlite3",
            "OPTIONS": {
                # WAL lets the web server and the workers read while one of them writes;
                # IMMEDIATE makes a writing transaction take the lock at BEGIN, so two writers
                # queue on busy_timeout instead of failing half-way with "database is locked".
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: private unix-socket Redis under var/ unless REDIS_URL is set -------------------------
REDIS_SOCKET = VAR_DIR / "redis.sock"
REDIS_URL = os.environ.get("REDIS_URL") or f"unix://{REDIS_SOCKET}"
NIMBO_PRIVATE_REDIS = not os.environ.get("REDIS_URL")

RQ_QUEUES = {
    "default": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 3600},
}
RQ = {"DEFAULT_RESULT_TTL": 3600}
# Jobs run in the web process right after commit instead of on a worker (tests of pure services).
NIMBO_JOBS_INLINE = _env_bool("NIMBO_JOBS_INLINE")

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL], "prefix": os.environ.get("NIMBO_CHANNEL_PREFIX", "nimbo")},
    }
}

# --- Images: where they may be fetched from (apps/images/sources.py) -----------------------------
# Local files (file:/// or absolute paths) only from these directories; os.pathsep-separated.
NIMBO_IMAGE_IMPORT_DIRS = [Path(p) for p in os.environ.get("NIMBO_IMAGE_IMPORT_DIRS", "").split(os.pathsep) if p] or [
    BASE_DIR / "images"]
# http(s) from loopback, link-local or metadata addresses (a mirror on this very machine).
NIMBO_IMAGE_ALLOW_LOCAL_ADDRESSES = _env_bool("NIMBO_IMAGE_ALLOW_LOCAL_ADDRESSES")

# --- Auth, static ----------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
]
LOGIN_URL = "admin:login"
# Logins: the password, then the role in each project (apps/projects/portal.py answers model permissions).
AUTHENTICATION_BACKENDS = ["apps.projects.portal.RoleBackend"]
# Failed logins allowed per user name and per client address within the window (seconds), then 429.
NIMBO_LOGIN_WINDOW = int(os.environ.get("NIMBO_LOGIN_WINDOW", "300"))
NIMBO_LOGIN_MAX_PER_USER = int(os.environ.get("NIMBO_LOGIN_MAX_PER_USER", "5"))
NIMBO_LOGIN_MAX_PER_ADDRESS = int(os.environ.get("NIMBO_LOGIN_MAX_PER_ADDRESS", "20"))
LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TZ", "UTC")
USE_I18N = True
USE_TZ = True
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# --- API ---------------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Who may do what, for every API view: apps/projects/access.py.
    "DEFAULT_PERMISSION_CLASSES": ["apps.projects.api.permissions.ProjectAccess"],
    "DEFAULT_FILTER_BACKENDS": [
        "apps.projects.api.permissions.ProjectScopeFilter",
        "apps.core.api.filters.StrictFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    # JSON objects only: every view reads request.data as a dict (see apps/core/api/parsers.py).
    "DEFAULT_PARSER_CLASSES": ["apps.core.api.parsers.JSONObjectParser"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "DEFAULT_PAGINATION_CLASS": "apps.core.api.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "apps.core.api.schema.NimboAutoSchema",
    "EXCEPTION_HANDLER": "apps.core.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Nimbo API",
    "DESCRIPTION": "Zones, clusters, hosts, storage, images, networks, security groups, routers and VMs.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI from our own static files, never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "nimbo": {"handlers": ["console"], "level": os.environ.get("NIMBO_LOG_LEVEL", "INFO")},
        # A 500's traceback (Django's default only prints it with DEBUG on, or mails it).
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
    },
}
