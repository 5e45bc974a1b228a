"""Handoff settings: one module, every deployment difference comes from the environment.

Development defaults work with no environment at all (scripts/run exports
DATABASE_URL and REDIS_URL for the embedded services). Production sets
DJANGO_DEBUG=false, DJANGO_SECRET_KEY, BASE_DOMAIN and the SMTP variables;
`manage.py check --deploy` passes with those (see README, "Configuration").
"""

import hashlib
from datetime import timedelta
from pathlib import Path

import environ
import plotly
from csp.constants import NONE, SELF, UNSAFE_INLINE

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DJANGO_DEBUG", default=True)
# The fallback key is for development only: production refuses to start without one.
SECRET_KEY = env(
    "DJANGO_SECRET_KEY",
    default="dev-only-insecure-key-do-not-use-in-production" if DEBUG else environ.Env.NOTSET,
)

# Tenants live on subdomains of BASE_DOMAIN: acme.localhost in development.
BASE_DOMAIN = env("BASE_DOMAIN", default="localhost")
ALLOWED_HOSTS = env.list(
    "DJANGO_ALLOWED_HOSTS", default=[BASE_DOMAIN, f".{BASE_DOMAIN}", "127.0.0.1"]
)
# Port the public site and tenant links are served on ("" in production behind :443).
SITE_PORT = env("SITE_PORT", default="8000" if DEBUG else "")
SITE_SCHEME = env("SITE_SCHEME", default="http" if DEBUG else "https")

# --- Tenancy ---------------------------------------------------------------
# Decided up front because moving an app between the lists breaks migration
# history: the public schema holds organizations and domains only; users,
# sessions and every piece of domain data live in the tenant's schema.
SHARED_APPS = [
    "django_tenants",
    "apps.tenants",
    "django.contrib.contenttypes",
    "django.contrib.staticfiles",
    "django.contrib.messages",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "template_partials",
]
TENANT_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.admin",
    # Failed sign-ins and lockouts are kept per organization, beside its users.
    "axes",
    # Order matters for the demo seed (each app's demo.py runs in this order):
    # definitions and the signed SLA exist before leads stream in.
    "apps.accounts",
    "apps.icp",
    "apps.mql",
    "apps.sla",
    "apps.leads",
    "apps.dispositions",
    "apps.compliance",
    "apps.dashboards",
    # No models: the layer every channel goes through (apps/handoff/pipeline.py).
    "apps.handoff",
]
INSTALLED_APPS = list(SHARED_APPS) + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "tenants.Organization"
TENANT_DOMAIN_MODEL = "tenants.Domain"
PUBLIC_SCHEMA_NAME = "public"
PUBLIC_SCHEMA_URLCONF = "config.urls_public"
ROOT_URLCONF = "config.urls_tenant"
# Unknown subdomains get the public site's 404 page rather than a bare error.
SHOW_PUBLIC_IF_NO_TENANT_FOUND = False
# `SET search_path` once per connection and tenant switch, not before every statement
# (django-tenants forgets it on rollback and on a tenant switch, so it is re-sent then).
TENANT_LIMIT_SET_CALLS = True

MIDDLEWARE = [
    "django_tenants.middleware.main.TenantMainMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After the tenant is known: pages show and forms read times in the organization's zone.
    "apps.sla.middleware.OrganizationTimezoneMiddleware",
    "apps.accounts.middleware.BadInputMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

# Two PostgreSQL roles (README, "Database roles"): the app connects as DATABASE_URL's
# least-privilege role; migrations and creating an organization's schema run as
# DATABASE_OWNER_URL's role, which owns the tables (apps/tenants/database_roles.py).
_EMBEDDED_DATABASE = "postgres://{}@127.0.0.1:55432/handoff"  # scripts/services.py's roles
DATABASES = {"default": env.db("DATABASE_URL", default=_EMBEDDED_DATABASE.format("handoff_app"))}
DATABASES["default"]["ENGINE"] = "django_tenants.postgresql_backend"
# django-tenants wraps this one: Django's, naming added columns' checks (for Citus).
ORIGINAL_BACKEND = "config.postgresql"
# Credentials of the owner role; its database is always DATABASE_URL's. Unset next to a
# set DATABASE_URL: one role does everything (`manage.py check --deploy` warns).
_owner_url = env(
    "DATABASE_OWNER_URL",
    default="" if env("DATABASE_URL", default="") else _EMBEDDED_DATABASE.format("handoff_owner"),
)
DATABASE_OWNER = env.db_url_config(_owner_url) if _owner_url else None
# The role that receives the app's privileges when the owner migrates (tests swap it).
DATABASE_APP_ROLE = DATABASES["default"]["USER"]
# django-tenants runs every schema's migrations through this executor: as the owner role.
GET_EXECUTOR_FUNCTION = "apps.tenants.database_roles.migration_executor"
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Lets parallel test runs on one server use separate test databases.
DATABASES["default"]["TEST"] = {"NAME": env("TEST_DATABASE_NAME", default=None)}
DATABASE_ROUTERS = ["django_tenants.routers.TenantSyncRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

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
                "apps.accounts.context_processors.navigation",
                "apps.compliance.context_processors.notifications",
            ],
        },
    }
]
WSGI_APPLICATION = "config.wsgi.application"

# --- Users -----------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
# django-axes counts failed sign-ins before the password check and refuses locked ones.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
INVITATION_MAX_AGE_DAYS = env.int("INVITATION_MAX_AGE_DAYS", default=7)
PASSWORD_RESET_TIMEOUT = 60 * 60 * 24

# The public schema has no session table, so messages travel in a cookie.
MESSAGE_STORAGE = "django.contrib.messages.storage.cookie.CookieStorage"

# --- Email -----------------------------------------------------------------
# Development prints mail to the console; production sets EMAIL_URL to an SMTP
# relay, e.g. smtp+tls://user:password@smtp.example.com:587
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
# With EMAIL_URL=filemail://, messages are written as files under this folder.
EMAIL_FILE_PATH = env("EMAIL_FILE_PATH", default=str(BASE_DIR / ".data" / "mail"))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Handoff <no-reply@handoff.localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Static files ----------------------------------------------------------
STATIC_URL = "/static/"
# collectstatic writes here (the Procfile's release step); production serves the hashed copies.
STATIC_ROOT = env.path("DJANGO_STATIC_ROOT", default=BASE_DIR / "staticfiles")
STATICFILES_DIRS = [
    BASE_DIR / "static",
    # plotly.js comes from the plotly package itself, so the charts work offline
    # and always match the Python library that builds the figures.
    ("vendor/plotly", Path(plotly.__file__).parent / "package_data"),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG
MEDIA_ROOT = env("MEDIA_ROOT", default=str(BASE_DIR / ".data" / "media"))

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- API -------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.accounts.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["apps.accounts.access.RolePermission"],
    # Bodies are UTF-8 JSON of bounded depth (apps/accounts/api_parsers.py).
    "DEFAULT_PARSER_CLASSES": [
        "apps.accounts.api_parsers.JsonParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "NUM_PROXIES": env.int("TRUSTED_PROXY_COUNT", default=0),
    "DEFAULT_THROTTLE_CLASSES": [
        "apps.accounts.throttles.TokenRateThrottle",
        "apps.accounts.throttles.OrganizationRateThrottle",
        "apps.accounts.throttles.AnonymousRateThrottle",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "apps.accounts.schema.HandoffAutoSchema",
    "EXCEPTION_HANDLER": "apps.accounts.api_errors.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Handoff API",
    "DESCRIPTION": "Leads, activities, dispositions, SLA and compliance for one organization. "
    "Authenticate with `Authorization: Bearer <token>` (a personal token or an organization API key).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # SLA review periods and compliance period kinds are the same week/month/quarter set.
    "ENUM_NAME_OVERRIDES": {
        "PeriodEnum": "apps.sla.models.ReviewPeriod",
        "OutcomeEnum": "apps.dispositions.models.Outcome",
        "ReasonCodeOutcomeEnum": "apps.dispositions.models.REASON_CODE_OUTCOME_CHOICES",
        "AlertKindEnum": "apps.compliance.models.AlertKind",
        "DeliveryStatusEnum": "apps.compliance.models.DeliveryStatus",
        # The compliance status keeps its name beside the delivery status.
        "StatusEnum": ["green", "yellow", "red", "grey"],
        "TokenKindEnum": "apps.accounts.models.ApiKey.Kind",
        "ScopeEnum": "apps.accounts.models.Scope",
    },
}
# Bearer tokens (apps/accounts/tokens.py): personal tokens expire after this many days
# unless asked otherwise; organization API keys never do unless given an expiry.
PERSONAL_TOKEN_MAX_AGE_DAYS = env.int("PERSONAL_TOKEN_MAX_AGE_DAYS", default=90)
# The password-to-token exchange (POST /api/v1/auth/token/): per client address and per email.
TOKEN_EXCHANGE_RATE = env("TOKEN_EXCHANGE_RATE", default="5/min")
# Signing the SLA through the API needs a fresh proof: the password, or a token with the
# `sign` scope created no longer ago than this.
SIGNING_PROOF_MAX_AGE_MINUTES = env.int("SIGNING_PROOF_MAX_AGE_MINUTES", default=10)
# Keys of the sign-off HMACs (apps/sla/sealing.py): "<id>:<secret>[,<id>:<secret>…]", the
# first signs, every one verifies. They live outside the database on purpose; development
# derives one from SECRET_KEY, production must set them.
SLA_SIGNING_KEYS = env(
    "SLA_SIGNING_KEYS",
    default="dev:" + hashlib.sha256(f"{SECRET_KEY}:sla-signing".encode()).hexdigest()
    if DEBUG
    else environ.Env.NOTSET,
)
# Bulk endpoints take at most this many items per request (413 beyond).
API_BULK_MAX_ITEMS = 1000
# Back-tests over more leads than this run in a Celery worker, with progress.
MQL_BACKTEST_SYNC_MAX_LEADS = env.int("MQL_BACKTEST_SYNC_MAX_LEADS", default=1000)
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=10 * 1024 * 1024)

# --- Celery ----------------------------------------------------------------
REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:56379/0")
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True  # a worker killed mid-task leaves the message for another
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE = {
    "tenants-sweep-every-minute": {
        "task": "apps.tenants.tasks.tenants_fan_out_task",
        "schedule": env.float("SWEEP_INTERVAL_SECONDS", default=60.0),
    },
    "tenants-imports-requeue": {
        "task": "apps.tenants.tasks.tenants_fan_out_task",
        "args": ["imports"],
        "schedule": 60.0,
    },
    "tenants-charts-refresh": {
        "task": "apps.tenants.tasks.tenants_fan_out_task",
        "args": ["charts"],
        "schedule": env.float("DASHBOARD_CHARTS_REFRESH_SECONDS", default=300.0),
    },
}
# Chart snapshots (apps/dashboards/snapshots.py): an open period's stored chart is served
# while younger than MAX_AGE, served and recomputed behind while younger than STALE.
DASHBOARD_CHARTS_MAX_AGE_SECONDS = env.int("DASHBOARD_CHARTS_MAX_AGE_SECONDS", default=300)
DASHBOARD_CHARTS_STALE_SECONDS = env.int("DASHBOARD_CHARTS_STALE_SECONDS", default=3600)
# The scorecard of an open period reads the sweep's snapshots (tiles, per-rep figures,
# pipeline-at-risk win rates) while younger than this; older ones are computed in the request.
DASHBOARD_SCORECARD_MAX_AGE_SECONDS = env.int("DASHBOARD_SCORECARD_MAX_AGE_SECONDS", default=120)
# The pipeline-at-risk win rates (twelve months of clocks and outcomes) move slowly: the sweep
# recomputes them when the stored ones are older than this, and the scorecard accepts them
# until this much older than its snapshots.
WIN_RATES_REFRESH_SECONDS = env.int("WIN_RATES_REFRESH_SECONDS", default=900)

# --- Cache and abuse limits ------------------------------------------------
# How many proxies (load balancers) in front of the web processes append to X-Forwarded-For:
# the client address the limits count by is that many hops from the right; 0 = REMOTE_ADDR
# only, so a client cannot pick its own address with a forged header.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
# One cache shared by every web process and worker (rate limits, webhook replay memory):
# a per-process LocMem cache would let each gunicorn worker count on its own.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": env("CACHE_URL", default=REDIS_URL),
        "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="handoff"),
    }
}
# API rate limits (DRF throttles, apps/accounts/throttles.py): per token (or signed-in user),
# per organization, and per client address for unauthenticated calls and failed tokens.
# Format "<count>/<second|minute|hour|day>"; beyond a limit the API answers 429 + Retry-After.
API_RATE_PER_TOKEN = env("API_RATE_PER_TOKEN", default="600/minute")
API_RATE_PER_ORGANIZATION = env("API_RATE_PER_ORGANIZATION", default="3000/minute")
API_RATE_ANONYMOUS = env("API_RATE_ANONYMOUS", default="120/minute")
API_RATE_FAILED_TOKENS = env("API_RATE_FAILED_TOKENS", default="10/minute")
# Sign-in lockout (django-axes): after LOGIN_FAILURE_LIMIT wrong passwords for one account,
# or from one address, sign-in is refused for LOGIN_LOCKOUT_MINUTES; the account's owner
# gets an e-mail with a link that lifts the lock at once.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_CALLABLE = "apps.accounts.lockout.attempt_username"
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_IPWARE_PROXY_COUNT = TRUSTED_PROXY_COUNT or None
AXES_IPWARE_META_PRECEDENCE_ORDER = (
    ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"] if TRUSTED_PROXY_COUNT else ["REMOTE_ADDR"]
)
AXES_VERBOSE = False
LOGIN_UNLOCK_MAX_AGE = 60 * 60 * 24  # seconds an unlock link works
# Public signup: at most SIGNUP_RATE_PER_ADDRESS new organizations requested per client
# address per hour; the admin confirms the e-mail within SIGNUP_VERIFY_MAX_AGE_HOURS, then a
# worker provisions the organization while the browser shows its progress.
SIGNUP_RATE_PER_ADDRESS = env("SIGNUP_RATE_PER_ADDRESS", default="5/hour")
SIGNUP_VERIFY_MAX_AGE_HOURS = env.int("SIGNUP_VERIFY_MAX_AGE_HOURS", default=48)

# --- Security --------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads it to send X-CSRFToken
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 30)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
# An organization's pages accept form posts from their own host only (Django compares the
# Origin with the request's host): no wildcard over BASE_DOMAIN, so a page on another
# organization's subdomain cannot post with a visitor's token. Extra origins are opt-in.
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# Content-Security-Policy (django-csp): scripts only from our own static files, no inline
# script or event-handler attribute, no eval (htmx runs with allowEval off). Styles allow
# inline because plotly.js and htmx set element styles while drawing.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:", "blob:"],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
# Permissions-Policy (django-permissions-policy): none of these browser features is used.
PERMISSIONS_POLICY = {
    feature: []
    for feature in (
        "accelerometer", "autoplay", "camera", "display-capture", "encrypted-media",
        "geolocation", "gyroscope", "magnetometer", "microphone", "midi", "payment",
        "publickey-credentials-get", "screen-wake-lock", "usb", "xr-spatial-tracking",
    )
}  # fmt: skip
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # django-axes logs every sign-in at INFO; lockouts are in the audit log.
        "axes": {"level": "WARNING"},
    },
}
