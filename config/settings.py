"""Custodia settings: the one settings module.

Every deployment knob is an environment variable read through the typed helpers in
``config.env``, which fail loudly on a value they cannot parse. With no variables set the
portal starts on embedded defaults (SQLite and a file-system Celery broker under
``var/``); production sets ``CUSTODIA_PROFILE=production`` plus PostgreSQL and Redis URLs
and passes ``manage.py check --deploy`` with no warnings.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from config.env import (
    env_bool,
    env_choice,
    env_int,
    env_list,
    env_secret,
    env_str,
    parse_database_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("CUSTODIA_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

PROFILE = env_choice("CUSTODIA_PROFILE", "development", ("development", "production"))
PRODUCTION = PROFILE == "production"
DEBUG = env_bool("DEBUG", not PRODUCTION)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DEBUG must be off in the production profile")


def _development_secret(file_name: str) -> str:
    """A per-checkout random secret kept under var/ (never committed), so development
    needs no configuration and no secret ever sits in the repository."""
    path = VAR_DIR / file_name
    if not path.exists():
        path.write_text(secrets.token_urlsafe(64), encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()


SECRET_KEY = env_secret("SECRET_KEY")
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured("SECRET_KEY (or SECRET_KEY_FILE) is required in the production profile")
    SECRET_KEY = _development_secret("secret_key")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost", "[::1]", "testserver"])
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS is required in the production profile")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# SEC-6: one deployment serves one data region.
DATA_REGION = env_choice("CUSTODIA_DATA_REGION", "cn", ("cn", "sg"))
# SEC-6: where each region's deployment is reached; registration pages point people of
# the other region there (docs/residency.md). Empty: no link is shown.
REGION_PORTAL_URLS = {
    "cn": env_str("CUSTODIA_PORTAL_URL_CN", ""),
    "sg": env_str("CUSTODIA_PORTAL_URL_SG", ""),
}

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "django_otp",
    "accounts.apps.AuthenticatorAppsConfig",  # django_otp.plugins.otp_totp, translated names
    "accounts.apps.RecoveryCodesConfig",  # django_otp.plugins.otp_static, translated names
    "dataprotection",
    "accounts",
    "organizations",
    "consent",
    "requests",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "dataprotection.middleware.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.assurance.AssuranceMiddleware",  # SEC-1: idle sign-out, second factor, fresh proof
    "django.contrib.messages.middleware.MessageMiddleware",
    "consent.views.gpc.GlobalPrivacyControlMiddleware",
    "consent.views.policy_notice.PolicyNoticeMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

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
                "organizations.context_processors.service_notices",
                "consent.context_processors.cookie_banner",
                "config.navigation.navigation",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------
_database_url = parse_database_url("DATABASE_URL", env_str("DATABASE_URL", "sqlite:///var/custodia.sqlite3"))
if PRODUCTION and _database_url.engine != "postgresql":
    raise ImproperlyConfigured("The production profile needs a PostgreSQL DATABASE_URL")
DATABASES = {"default": _database_url.as_django(BASE_DIR)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache --------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Authentication (ACC-1, ACC-4) ---------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "accounts:profile"
LOGOUT_REDIRECT_URL = "home"
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
        "OPTIONS": {"user_attributes": ("phone", "name", "nickname", "company_email")},
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "accounts.services.passwords.CharacterClassValidator", "OPTIONS": {"min_classes": 3}},
]
# Anonymous-then-authenticated sessions live at most a working day; a browser close ends them.
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 3600, minimum=300)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
ANONYMOUS_USER_NAME = None  # guardian: no anonymous user row

# Sign-in security (SEC-1, SEC-5). An idle session ends after SESSION_IDLE_TIMEOUT_SECONDS;
# dangerous actions ask for the password (or a second factor) again when the last proof is
# older than REAUTH_MAX_AGE_SECONDS. Failed sign-ins, SMS codes and second-factor codes
# count per account and per address: SIGN_IN_LOCKOUT_THRESHOLD failures within
# SIGN_IN_LOCKOUT_WINDOW_SECONDS lock that account (or address) for
# SIGN_IN_LOCKOUT_SECONDS.
SESSION_IDLE_TIMEOUT_SECONDS = env_int("SESSION_IDLE_TIMEOUT_SECONDS", 30 * 60, minimum=60)
REAUTH_MAX_AGE_SECONDS = env_int("REAUTH_MAX_AGE_SECONDS", 10 * 60, minimum=30)
SIGN_IN_LOCKOUT_THRESHOLD = env_int("SIGN_IN_LOCKOUT_THRESHOLD", 5, minimum=1)
SIGN_IN_LOCKOUT_WINDOW_SECONDS = env_int("SIGN_IN_LOCKOUT_WINDOW_SECONDS", 15 * 60, minimum=60)
SIGN_IN_LOCKOUT_SECONDS = env_int("SIGN_IN_LOCKOUT_SECONDS", 15 * 60, minimum=60)
SIGN_IN_LOCKOUT_PER_ADDRESS_THRESHOLD = env_int("SIGN_IN_LOCKOUT_PER_ADDRESS_THRESHOLD", 50, minimum=1)
# Two-factor authentication (SEC-1): TOTP (RFC 6238) with single-use recovery codes.
OTP_TOTP_ISSUER = env_str("OTP_TOTP_ISSUER", "Custodia")
TWO_FACTOR_RECOVERY_CODES = env_int("TWO_FACTOR_RECOVERY_CODES", 10, minimum=4)

# SMS one-time codes (ACC-1): pluggable sender, hashed storage, expiry, attempts, rate limits.
SMS_BACKEND = env_str("SMS_BACKEND", "accounts.services.sms_gateway.FileBackend")
SMS_FILE_PATH = Path(env_str("SMS_FILE_PATH", str(VAR_DIR / "sms-outbox.jsonl")))
# Development only: what the stand-in provider's deletion-notice endpoint received (/dev/deletion-notices/).
DEV_DELETION_NOTICES_PATH = Path(env_str("DEV_DELETION_NOTICES_PATH", str(VAR_DIR / "deletion-notices.jsonl")))
SMS_CODE_TTL = timedelta(seconds=env_int("SMS_CODE_TTL_SECONDS", 300, minimum=30))
SMS_CODE_MAX_ATTEMPTS = env_int("SMS_CODE_MAX_ATTEMPTS", 5, minimum=1)
SMS_CODE_RESEND_INTERVAL = timedelta(seconds=env_int("SMS_CODE_RESEND_SECONDS", 60, minimum=0))
SMS_CODES_PER_NUMBER_PER_HOUR = env_int("SMS_CODES_PER_NUMBER_PER_HOUR", 5, minimum=1)
SMS_CODES_PER_IP_PER_HOUR = env_int("SMS_CODES_PER_IP_PER_HOUR", 20, minimum=1)
SMS_DEFAULT_REGION = env_str("SMS_DEFAULT_REGION", "CN")
SMS_DELIVERY_MAX_ATTEMPTS = env_int("SMS_DELIVERY_MAX_ATTEMPTS", 5, minimum=1)

# Field encryption (ACC-3, ORG-10, SEC-5): AES-256-GCM keys as "id:base64key" pairs,
# the first one encrypts, all of them decrypt (rotation). Development derives keys from
# SECRET_KEY; production must set them explicitly.
FIELD_ENCRYPTION_KEYS = env_list("FIELD_ENCRYPTION_KEYS", [])
FIELD_HASH_KEY = env_secret("FIELD_HASH_KEY")
if PRODUCTION and (not FIELD_ENCRYPTION_KEYS or not FIELD_HASH_KEY):
    raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS and FIELD_HASH_KEY are required in the production profile")

# --- Internationalization ---------------------------------------------------
LANGUAGE_CODE = env_str("LANGUAGE_CODE", "zh-hans")
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "config" / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

# --- Static and uploaded files ------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)  # WhiteNoise warns on every start-up when it is missing
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
AVATAR_MAX_BYTES = env_int("AVATAR_MAX_BYTES", 2 * 1024 * 1024, minimum=1024)
# Sensitive uploads (certification documents, ORG-2) are stored encrypted here, outside
# MEDIA_ROOT, and only ever served through permission-checked, audited views.
PRIVATE_MEDIA_ROOT = Path(env_str("PRIVATE_MEDIA_ROOT", str(VAR_DIR / "private")))
CERTIFICATION_FILE_MAX_BYTES = env_int("CERTIFICATION_FILE_MAX_BYTES", 10 * 1024 * 1024, minimum=1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- Security headers (SEC-5) -------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# Strict CSP: everything is vendored and served from our own origin, no inline script.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# CUSTODIA_LOCAL_HTTP=true: the production profile served over plain HTTP on this
# machine only (``make serve``, the production-stack test, bench/load.py): no HTTPS
# redirect, no HSTS, cookies without the Secure flag -- everything else as in
# production. Off unless set, and refused unless every allowed host is a loopback name,
# so it cannot be left on in a real deployment.
LOCAL_HTTP = env_bool("CUSTODIA_LOCAL_HTTP", False)
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}
if PRODUCTION and LOCAL_HTTP and not (ALLOWED_HOSTS and set(ALLOWED_HOSTS) <= LOOPBACK_HOSTS):
    raise ImproperlyConfigured(
        "CUSTODIA_LOCAL_HTTP serves without TLS and is only for this machine: ALLOWED_HOSTS must be "
        f"loopback names ({', '.join(sorted(LOOPBACK_HOSTS))}), got {', '.join(ALLOWED_HOSTS) or 'none'}"
    )
if PRODUCTION and not LOCAL_HTTP:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    # Load balancers often probe the backend over plain HTTP (config/health.py).
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    LANGUAGE_COOKIE_SECURE = True

# --- Celery (rule 5 of the brief; style-anchors (d)) ---------------------------
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
CELERY_BROKER_VISIBILITY_TIMEOUT = env_int("CELERY_BROKER_VISIBILITY_TIMEOUT", 3600, minimum=60)
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_folder = VAR_DIR / "broker"
    (_broker_folder / "queue").mkdir(parents=True, exist_ok=True)
    (_broker_folder / "control").mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_folder / "queue"),
        "data_folder_out": str(_broker_folder / "queue"),
        # Where kombu keeps its exchange tables: under var/ too, never the working directory.
        "control_folder": str(_broker_folder / "control"),
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_BROKER_VISIBILITY_TIMEOUT}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True  # paired with attempt caps kept in database rows
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 240, minimum=1)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 300, minimum=1)
if CELERY_TASK_TIME_LIMIT >= CELERY_BROKER_VISIBILITY_TIMEOUT:
    raise ImproperlyConfigured("CELERY_TASK_TIME_LIMIT must stay below CELERY_BROKER_VISIBILITY_TIMEOUT")
if CELERY_TASK_SOFT_TIME_LIMIT >= CELERY_TASK_TIME_LIMIT:
    raise ImproperlyConfigured("CELERY_TASK_SOFT_TIME_LIMIT must stay below CELERY_TASK_TIME_LIMIT")

# --- Recovery of background jobs (README "Recovery"; dataprotection/liveness.py) -------
# A worker holding a job row beats its heartbeat every JOB_HEARTBEAT_SECONDS while it
# works; a row whose heartbeat is older than JOB_STALE_SECONDS has no live worker and is
# taken over. The sweep (beat, every JOB_SWEEP_SECONDS, and each worker as it starts)
# enqueues again every job that should be running and has no live worker, so a lost
# message or a dead worker costs at most JOB_STALE_SECONDS + JOB_SWEEP_SECONDS. A task
# that loses the database waits up to JOB_DATABASE_RETRY_SECONDS for it (backing off)
# and goes on, without counting an attempt. The time limits above stay the last resort.
JOB_HEARTBEAT_SECONDS = env_int("JOB_HEARTBEAT_SECONDS", 3, minimum=1)
JOB_STALE_SECONDS = env_int("JOB_STALE_SECONDS", 15, minimum=2)
JOB_SWEEP_SECONDS = env_int("JOB_SWEEP_SECONDS", 5, minimum=1)
JOB_DATABASE_RETRY_SECONDS = env_int("JOB_DATABASE_RETRY_SECONDS", 120, minimum=0)
if JOB_STALE_SECONDS <= 2 * JOB_HEARTBEAT_SECONDS:
    # Two missed beats (a slow statement, a busy database) must not look like a death.
    raise ImproperlyConfigured("JOB_STALE_SECONDS must be more than twice JOB_HEARTBEAT_SECONDS")
if JOB_DATABASE_RETRY_SECONDS >= CELERY_TASK_SOFT_TIME_LIMIT:
    raise ImproperlyConfigured("JOB_DATABASE_RETRY_SECONDS must stay below CELERY_TASK_SOFT_TIME_LIMIT")

# --- Anonymization engine (ANON-2, ORG-11) -------------------------------------------
# Rows per chunk: one chunk is one short transaction (~0.1 s at 5,000 rows on the
# reference box), far below every time limit, and never a long table lock.
ANONYMIZATION_CHUNK_ROWS = env_int("ANONYMIZATION_CHUNK_ROWS", 5000, minimum=1)
# A driver task hands over to a fresh message after this long.
ANONYMIZATION_TASK_BUDGET_SECONDS = env_int("ANONYMIZATION_TASK_BUDGET_SECONDS", 60, minimum=1)
if ANONYMIZATION_TASK_BUDGET_SECONDS >= CELERY_TASK_SOFT_TIME_LIMIT:
    raise ImproperlyConfigured("ANONYMIZATION_TASK_BUDGET_SECONDS must stay below CELERY_TASK_SOFT_TIME_LIMIT")
if ANONYMIZATION_TASK_BUDGET_SECONDS + JOB_DATABASE_RETRY_SECONDS >= CELERY_TASK_SOFT_TIME_LIMIT:
    # A driver that waited for the database still hands over before the soft limit.
    raise ImproperlyConfigured(
        "ANONYMIZATION_TASK_BUDGET_SECONDS + JOB_DATABASE_RETRY_SECONDS must stay below CELERY_TASK_SOFT_TIME_LIMIT"
    )
# Drivers started per cascade: chunks spread over this many worker processes.
ANONYMIZATION_PARALLEL_TASKS = env_int("ANONYMIZATION_PARALLEL_TASKS", 2, minimum=1)
# ORG-11: days between the owner's confirmation and the cascade (0: start at once).
DISBAND_GRACE_DAYS = env_int("DISBAND_GRACE_DAYS", 7, minimum=0)
# ANON-6: the least notice before a service shutdown takes effect.
SERVICE_SHUTDOWN_NOTICE_DAYS = env_int("SERVICE_SHUTDOWN_NOTICE_DAYS", 30, minimum=30)
# ACC-5: cooling-off days between a verified account-deletion request and its cascade,
# during which the person can cancel (0: start at once).
ACCOUNT_DELETION_GRACE_DAYS = env_int("ACCOUNT_DELETION_GRACE_DAYS", 7, minimum=0)

# --- Data-subject requests (REQ) ---------------------------------------------------
# REQ-7: hours an access or portability archive stays downloadable once built.
REQUEST_EXPORT_TTL_HOURS = env_int("REQUEST_EXPORT_TTL_HOURS", 72, minimum=1)
# REQ-4: open requests due within this many days are "due soon" in the queues.
REQUEST_DUE_SOON_DAYS = env_int("REQUEST_DUE_SOON_DAYS", 3, minimum=0)
# REQ-6: requests of one kind a person may file within twelve months before further
# ones count as excessive repeats (never blocking the verification itself).
REQUEST_REPEAT_LIMIT = env_int("REQUEST_REPEAT_LIMIT", 3, minimum=1)
# REQ-8, EN V(II): days until backups holding deleted data are purged; until then the
# data in them is isolated from any processing.
BACKUP_RETENTION_DAYS = env_int("BACKUP_RETENTION_DAYS", 30, minimum=1)
# REQ-1, REQ-9: largest correction evidence or proof of authority accepted.
REQUEST_FILE_MAX_BYTES = env_int("REQUEST_FILE_MAX_BYTES", 10 * 1024 * 1024, minimum=1024)

# --- Consent and services (CON, SVC) -----------------------------------------------
# CON-4: the key of the one-way hash clients apply to phone numbers before contact
# matching. Clients receive it (they hash on the device), so it is not a secret like
# the field keys; set it in production so every web process and app agrees on it.
CONTACT_MATCHING_KEY = env_secret("CONTACT_MATCHING_KEY") or ""
# CON-4: digests one person may submit per day; a published key makes the hash
# enumerable, so the volume is what protects the phone-number space.
CONTACT_MATCHING_DAILY_LIMIT = env_int("CONTACT_MATCHING_DAILY_LIMIT", 2000, minimum=1)
# SVC-3: lifetime of an access token issued to a provider.
PROVIDER_TOKEN_LIFETIME_SECONDS = env_int("PROVIDER_TOKEN_LIFETIME_SECONDS", 7200, minimum=60)
# SVC-3: one delivery attempt of a deletion notice waits this long for the provider.
DELETION_NOTICE_TIMEOUT_SECONDS = env_int("DELETION_NOTICE_TIMEOUT_SECONDS", 10, minimum=1)
# SVC-3: retries back off exponentially up to this pause, and go on until acknowledged.
DELETION_NOTICE_MAX_BACKOFF_SECONDS = env_int("DELETION_NOTICE_MAX_BACKOFF_SECONDS", 6 * 3600, minimum=1)
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_TASK_IGNORE_RESULT = True  # progress lives in database rows, not in a result backend
CELERY_RESULT_BACKEND = None
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "sweep-retention": {
        "task": "dataprotection.tasks.sweep_retention",
        "schedule": timedelta(days=1),
    },
    # Every kind of background job (cascades, imports, exports, deletion notices, SMS)
    # that should be running and has no live worker is enqueued again.
    "recover-background-jobs": {
        "task": "dataprotection.tasks.recover_jobs",
        "schedule": timedelta(seconds=JOB_SWEEP_SECONDS),
    },
    "remind-request-assignees": {
        "task": "requests.tasks.remind_assignees",
        "schedule": timedelta(days=1),
    },
    "expire-request-exports": {
        "task": "requests.tasks.expire_exports",
        "schedule": timedelta(hours=1),
    },
    "purge-spent-sms-codes": {
        "task": "accounts.tasks.purge_spent_codes",
        "schedule": timedelta(hours=1),
    },
    "purge-idempotency-records": {  # stored API answers are kept one day
        "task": "accounts.tasks.purge_idempotency_records",
        "schedule": timedelta(hours=1),
    },
    # SEC-2: seals new audit events every minute, verifies the whole chain daily.
    "seal-and-verify-audit-chain": {
        "task": "dataprotection.tasks.verify_audit_chain",
        "schedule": timedelta(minutes=1),
    },
    "check-incident-deadlines": {  # SEC-4
        "task": "organizations.tasks.check_incident_deadlines",
        "schedule": timedelta(hours=1),
    },
}

# --- REST framework --------------------------------------------------------------
# The REST API: one foundation for every app's API (accounts/api/): personal access tokens
# or the browser session, the permission gate of the HTML pages, one error body.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.api.authentication.ApiTokenAuthentication",
        "accounts.api.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "accounts.api.authentication.AssurancePermission",  # SEC-1: the sign-in assurance policy
        "accounts.api.authentication.TokenScopePermission",
        "accounts.api.authentication.PathIdsInRange",
    ],
    "DEFAULT_PAGINATION_CLASS": "dataprotection.api.pagination.PagePagination",
    "DEFAULT_THROTTLE_CLASSES": [
        "dataprotection.api.throttling.PerTokenThrottle",
        "dataprotection.api.throttling.PerAddressThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "token": env_str("API_THROTTLE_PER_TOKEN", "600/minute"),
        "address": env_str("API_THROTTLE_PER_ADDRESS", "1200/minute"),
    },
    "EXCEPTION_HANDLER": "dataprotection.api.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
# The REST API: personal access tokens last this many days unless asked otherwise, at most
# API_TOKEN_MAX_DAYS.
API_TOKEN_DEFAULT_DAYS = env_int("API_TOKEN_DEFAULT_DAYS", 90, minimum=1)
API_TOKEN_MAX_DAYS = env_int("API_TOKEN_MAX_DAYS", 365, minimum=1)
SPECTACULAR_SETTINGS = {
    "TITLE": "Custodia API",
    "DESCRIPTION": "The REST API of Custodia: the same capabilities and permission gate as the pages.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": "/api/v1",
    # Every operation documents the error body for the statuses the foundation can
    # answer with (401, 403, 429, 404 on paths with ids, 400/413/415 on writes), so the
    # fuzzer's response checks hold (accounts/api/schema.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "dataprotection.api.schema.add_error_responses",
    ],
}

# --- Logging ------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
