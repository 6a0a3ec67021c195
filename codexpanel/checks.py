"""Deploy checks for the relay's own middleware, and what its fast paths assume.

Django's `check --deploy` finds the security, clickjacking, CSRF and session middleware
by their dotted paths; the relay runs subclasses of them (codexpanel.middleware). Three of
Django's checks would then warn falsely that a middleware is missing: settings silence
security.W001–W003 and `required_middleware`, which accepts any subclass, says the same.
The others would pass silently whatever the settings (HSTS off, cookies not secure): they
run again in `djangos_middleware_checks`, as if Django's own classes were installed.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.checks.security import base, csrf, sessions
from django.db import connections
from django.test.utils import override_settings
from django.utils.module_loading import import_string

REQUIRED = {
    "codexpanel.W001": (
        "django.middleware.security.SecurityMiddleware",
        "the SECURE_* settings (HSTS, nosniff, referrer policy, SSL redirect) have no effect",
    ),
    "codexpanel.W002": (
        "django.middleware.clickjacking.XFrameOptionsMiddleware",
        "pages are not served with an X-Frame-Options header",
    ),
    "codexpanel.W003": (
        "django.middleware.csrf.CsrfViewMiddleware",
        "browser writes are not protected against cross-site request forgery",
    ),
}


def _installed() -> list[type]:
    found = []
    for path in settings.MIDDLEWARE:
        middleware = import_string(path)
        if isinstance(middleware, type):
            found.append(middleware)
    return found


@checks.register(checks.Tags.security, deploy=True)
def required_middleware(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    installed = _installed()
    problems = []
    for check_id, (path, consequence) in REQUIRED.items():
        required = import_string(path)
        if not any(issubclass(middleware, required) for middleware in installed):
            problems.append(
                checks.Warning(
                    f"Neither {path} nor a subclass of it is in MIDDLEWARE, so {consequence}.",
                    id=check_id,
                )
            )
    return problems


# Django's checks that pass without a word when they do not find their middleware by path.
MIDDLEWARE_CHECKS = [
    base.check_sts,
    base.check_sts_include_subdomains,
    base.check_sts_preload,
    base.check_content_type_nosniff,
    base.check_ssl_redirect,
    base.check_xframe_deny,
    base.check_referrer_policy,
    base.check_cross_origin_opener_policy,
    csrf.check_csrf_cookie_secure,
    sessions.check_session_cookie_secure,
    sessions.check_session_cookie_httponly,
]
# Of what they report, what depends on the middleware (the rest Django reports itself).
MIDDLEWARE_CHECK_IDS = {
    "security.W004",
    "security.W005",
    "security.W006",
    "security.W008",
    "security.W011",
    "security.W012",
    "security.W014",
    "security.W015",
    "security.W016",
    "security.W019",
    "security.W021",
    "security.W022",
    "security.E023",
    "security.E024",
}


def _as_djangos(path: str) -> str:
    middleware = import_string(path)
    if isinstance(middleware, type):
        for parent in middleware.__mro__[1:]:
            if parent.__module__.startswith("django."):
                return f"{parent.__module__}.{parent.__qualname__}"
    return path


@checks.register(checks.Tags.security, deploy=True)
def djangos_middleware_checks(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    as_djangos = [_as_djangos(path) for path in settings.MIDDLEWARE]
    with override_settings(MIDDLEWARE=as_djangos):
        found = [message for check in MIDDLEWARE_CHECKS for message in check(app_configs)]
    return [message for message in found if message.id in MIDDLEWARE_CHECK_IDS]


@checks.register(checks.Tags.compatibility)
def fast_paths_assumptions(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """What codexpanel.middleware and the event log's counter upsert rely on."""
    problems = []
    if settings.CSRF_USE_SESSIONS:
        problems.append(
            checks.Error(
                "CSRF_USE_SESSIONS must stay off: the CSRF middleware runs on the event loop "
                "and reads its token from the cookie (codexpanel.middleware).",
                id="codexpanel.E001",
            )
        )
    uses_sqlite = any(connections[alias].vendor == "sqlite" for alias in settings.DATABASES)
    if uses_sqlite and sqlite3.sqlite_version_info < (3, 35):
        problems.append(
            checks.Error(
                f"SQLite {sqlite3.sqlite_version} is too old: the event log needs 3.35 or "
                "newer (INSERT … RETURNING).",
                id="codexpanel.E002",
            )
        )
    return problems
