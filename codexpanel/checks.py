"""Deploy checks that stand in for three of Django's own.

Django's `check --deploy` looks for the security, clickjacking and CSRF middleware by
their dotted paths; the relay runs subclasses of them (codexpanel.middleware), which those
checks cannot see. So settings silence security.W001–W003 and these checks, which accept
any subclass, take their place with the same advice.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks
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
