"""Settings, read from the environment (see CONTRACT.md)."""

import os
import secrets
import tempfile
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

from leadloop.config.queue import QueueStorage

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("LEADLOOP_VAR_DIR", Path.cwd() / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def secret_key(var_dir: Path) -> str:
    """LEADLOOP_SECRET_KEY, else the key kept in `var_dir`, made by the first process that
    needs it. `make run` starts the server and the worker at once: the key is written whole
    to a file of its own, then linked into place only if no other process's key got there
    first, so every process reads one complete key."""
    if key := os.environ.get("LEADLOOP_SECRET_KEY"):
        return key
    path = var_dir / "secret_key"
    if not path.exists():
        handle, draft = tempfile.mkstemp(dir=var_dir, prefix=".secret_key.")  # mode 0600
        try:
            with os.fdopen(handle, "w") as f:
                f.write(secrets.token_urlsafe(50))
            _first_in_place(draft, path)
        finally:
            Path(draft).unlink(missing_ok=True)
    return path.read_text().strip()


def _first_in_place(draft: str, path: Path) -> None:
    try:
        os.link(draft, path)
    except FileExistsError:
        pass  # another process's key is in place: it is the one
    except OSError:  # a file system without hard links (vfat, some shares): whole, last wins
        os.replace(draft, path)


SECRET_KEY = secret_key(VAR_DIR)
DEBUG = os.environ.get("LEADLOOP_DEBUG", "").lower() in {"1", "true", "yes", "on"}
ALLOWED_HOSTS = [h for h in os.environ.get("LEADLOOP_ALLOWED_HOSTS", "*").split(",") if h]
CSRF_TRUSTED_ORIGINS = [
    o for o in os.environ.get("LEADLOOP_CSRF_TRUSTED_ORIGINS", "").split(",") if o
]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "huey.contrib.djhuey",
    "leadloop.core",
    "leadloop.contacts",
    "leadloop.campaigns",
    "leadloop.pipeline",
    "leadloop.intake",
    "leadloop.routing",
    "leadloop.activities",
    "leadloop.notifications",
    "leadloop.reports",
    "leadloop.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "leadloop.config.middleware.MachineErrorMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "leadloop.web.middleware.MemberMiddleware",  # sets request.member, request.actor, language
]

ROOT_URLCONF = "leadloop.config.urls"
ASGI_APPLICATION = "leadloop.config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "leadloop.web.context.navigation",
            ],
        },
    },
]


def _databases() -> dict:
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'leadloop.sqlite3'}"
    # Under ASGI each request runs in its own thread, so persistent per-thread connections
    # (CONN_MAX_AGE > 0) pile up until PostgreSQL refuses more: PostgreSQL gets a connection
    # pool per process instead, SQLite opens its file per request (docs/performance.md).
    db = dj_database_url.parse(url, conn_max_age=0)
    if db["ENGINE"] == "django.db.backends.postgresql":
        size = int(os.environ.get("LEADLOOP_DB_POOL_SIZE", "8"))
        db["OPTIONS"] = {"pool": {"min_size": 1, "max_size": size, "timeout": 10}}
    if db["ENGINE"] == "django.db.backends.sqlite3":
        db["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
        db["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
    return {"default": db}


DATABASES = _databases()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"

LANGUAGE_CODE = "vi"
LANGUAGES = [("vi", _("Vietnamese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
FORMAT_MODULE_PATH = ["leadloop.config.formats"]  # day first in both languages
USE_I18N = True
USE_TZ = True
TIME_ZONE = "Asia/Ho_Chi_Minh"

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [("plotly", Path(__import__("plotly").__file__).parent / "package_data")]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 2000

# Lead import (CSV/XLSX): the wizard's upload limit, the command line's, rows, unpacked XLSX.
LEADLOOP_IMPORT_MAX_UPLOAD_BYTES = (
    int(os.environ.get("LEADLOOP_IMPORT_MAX_UPLOAD_MB", "50")) * 2**20
)
LEADLOOP_IMPORT_MAX_FILE_BYTES = int(os.environ.get("LEADLOOP_IMPORT_MAX_FILE_MB", "2048")) * 2**20
LEADLOOP_IMPORT_MAX_ROWS = int(os.environ.get("LEADLOOP_IMPORT_MAX_ROWS", "1000000"))
# Processes a long import runs in on PostgreSQL (intake/import_workers.py); 1: the worker's own.
LEADLOOP_IMPORT_PROCESSES = int(os.environ.get("LEADLOOP_IMPORT_PROCESSES", "2"))
LEADLOOP_IMPORT_MAX_UNZIPPED_BYTES = 2 * 2**30
LEADLOOP_IMPORT_MAX_ZIP_RATIO = 200

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Behind HTTPS unless told otherwise (`make run` serves plain HTTP on loopback: LEADLOOP_HTTPS=0).
if not DEBUG and os.environ.get("LEADLOOP_HTTPS", "1") != "0":
    SECURE_SSL_REDIRECT = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("LEADLOOP_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# The Graph API that answers Facebook lead ids (a stand-in server in tests and benchmarks).
LEADLOOP_FACEBOOK_GRAPH_URL = os.environ.get(
    "LEADLOOP_FACEBOOK_GRAPH_URL", "https://graph.facebook.com/v21.0"
).rstrip("/")

# E-mail (notifications, for members who ask for them): SMTP when a host is set, else printed
# on the console. LEADLOOP_SMTP_TLS: 1 (STARTTLS, the default), ssl (implicit TLS) or 0.
if SMTP_HOST := os.environ.get("LEADLOOP_SMTP_HOST", ""):
    _tls = os.environ.get("LEADLOOP_SMTP_TLS", "1").lower()
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = SMTP_HOST
    EMAIL_PORT = int(os.environ.get("LEADLOOP_SMTP_PORT", "465" if _tls == "ssl" else "587"))
    EMAIL_HOST_USER = os.environ.get("LEADLOOP_SMTP_USER", "")
    EMAIL_HOST_PASSWORD = os.environ.get("LEADLOOP_SMTP_PASSWORD", "")
    EMAIL_USE_SSL = _tls == "ssl"
    EMAIL_USE_TLS = _tls in {"1", "true", "yes", "on", "starttls"}
    EMAIL_TIMEOUT = 20
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = os.environ.get("LEADLOOP_EMAIL_FROM", "LeadLoop <leadloop@localhost>")
# Where members reach LeadLoop (https://crm.example.com): links in e-mails; none when unset.
LEADLOOP_BASE_URL = os.environ.get("LEADLOOP_BASE_URL", "").rstrip("/")

REDIS_URL = os.environ.get("REDIS_URL", "")
# The cache counts form submissions per address: Redis shares the count between web processes;
# without it each process counts on its own (one process is the single-machine default).
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}
if REDIS_URL:
    HUEY = {
        "huey_class": "huey.RedisHuey",
        "name": "leadloop",
        "url": REDIS_URL,
        "immediate": False,
    }
else:
    HUEY = {
        "huey_class": "huey.SqliteHuey",
        "storage_class": QueueStorage,
        "name": "leadloop",
        "filename": str(VAR_DIR / "huey.sqlite3"),
        "immediate": False,
    }

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LEADLOOP_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.request": {"level": "ERROR"},
        "huey": {"propagate": False},  # the consumer prints through its own handler
        "httpx": {"level": "WARNING"},  # its INFO line is each URL, a Graph API token included
    },
}
