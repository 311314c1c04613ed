"""Settings of the django-oauth-toolkit peer.

startproject's defaults plus DOT's documented setup (INSTALLED_APPS, urls,
OAUTH2_PROVIDER scopes). Environment:
  BENCH_DB     path of the SQLite database
  BENCH_TUNED  "1" = as an operator runs it: DEBUG off, SQLite in WAL mode
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
TUNED = os.environ.get("BENCH_TUNED") == "1"

SECRET_KEY = "bench-only-not-secret"  # loopback benchmark, nothing to protect
DEBUG = not TUNED  # startproject ships DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "oauth2_provider",
    "benchsite",
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

ROOT_URLCONF = "benchsite.urls"
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]},
}]
WSGI_APPLICATION = "benchsite.wsgi.application"

DATABASES = {"default": {
    "ENGINE": "django.db.backends.sqlite3",
    "NAME": os.environ.get("BENCH_DB", BASE_DIR / "db.sqlite3"),
    # Django's documented SQLite options (5.1+): WAL for concurrent readers, and
    # IMMEDIATE transactions so that concurrent writers wait instead of failing.
    "OPTIONS": {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
    } if TUNED else {},
}}

# Django's documented way to use argon2: its hasher first in PASSWORD_HASHERS;
# ours only sets the parameters mobproc uses.
PASSWORD_HASHERS = ["benchsite.hashers.Argon2idHasher"]

OAUTH2_PROVIDER = {
    "SCOPES": {"MOBPROC": "MOBPROC API", "introspection": "Introspect tokens"},
    "DEFAULT_SCOPES": ["MOBPROC"],
    "ACCESS_TOKEN_EXPIRE_SECONDS": 7200,  # mobproc's lifetime
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
