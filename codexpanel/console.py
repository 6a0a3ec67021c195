"""The mobile console (SPEC §6) and what makes it an installable PWA: the page shell, the
web app manifest, the service worker and the translations its scripts use. The console
itself is static files that talk to the JSON API and /events."""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe
from django.views.i18n import JavaScriptCatalog

from agent.setup.install_commands import install_commands

from . import __version__
from .access import public
from .net import relay_url

# Everything the console needs to open without a network: the service worker keeps these.
SHELL_FILES = (
    "codexpanel/site.css",
    "console/console.css",
    "console/app.js",
    "console/api.js",
    "console/dom.js",
    "console/stream.js",
    "console/store.js",
    "console/thread.js",
    "console/items.js",
    "console/approvals.js",
    "console/home.js",
    "console/device.js",
    "console/session.js",
    "console/signin.js",
    "console/account.js",
    "console/retry.js",
    "console/confirm.js",
    "console/markdown.js",
    "console/diffs.js",
    "console/output.js",
    "console/offline.js",
    "console/sessions.js",
    "console/turn_options.js",
    "console/questions.js",
    "console/elicitation.js",
    "console/notifications.js",
    "vendor/markdown-it/markdown-it.min.js",
    "vendor/dompurify/purify.min.js",
    "vendor/highlight/highlight.min.js",
    "console/icon.svg",
    "console/icon-192.png",
    "console/icon-512.png",
    "console/icon-maskable-512.png",
)


@cache
def shell_version() -> str:
    """Changes whenever a shell file does, so browsers replace an outdated offline copy."""
    digest = hashlib.sha256(__version__.encode())
    for name in SHELL_FILES:
        found = finders.find(name)
        if found:
            digest.update(Path(found).read_bytes())
    return digest.hexdigest()[:16]


@public
@require_safe
def root(request: HttpRequest) -> HttpResponse:
    return redirect("console")


@public
@require_safe
def console_page(request: HttpRequest) -> HttpResponse:
    """The console's one page; the signed-in state and all data come from the API, so the
    same page works from the service worker's cache while offline."""
    config = {
        "installCommands": install_commands(relay_url(request)),
        "language": get_language(),
        "currency": settings.CODEXPANEL_CURRENCY,
        "attachmentMaxBytes": settings.CODEXPANEL_ATTACHMENT_MAX_BYTES,
        "version": __version__,
        "stylesheets": [static("codexpanel/site.css"), static("console/console.css")],
    }
    return render(request, "console/index.html", {"config": config})


@public
@require_safe
def manifest(request: HttpRequest) -> JsonResponse:
    icons = [
        {"src": static("console/icon-192.png"), "sizes": "192x192", "type": "image/png"},
        {"src": static("console/icon-512.png"), "sizes": "512x512", "type": "image/png"},
        {"src": static("console/icon.svg"), "sizes": "any", "type": "image/svg+xml"},
        # Full-bleed, the glyph inside the safe zone: launchers crop it to their own shape.
        {
            "src": static("console/icon-maskable-512.png"),
            "sizes": "512x512",
            "type": "image/png",
            "purpose": "maskable",
        },
    ]
    screenshots = [
        {
            "src": static("console/screenshot-computers.png"),
            "sizes": "390x844",
            "type": "image/png",
            "form_factor": "narrow",
            "label": _("Your computers, and whether each is online"),
        },
    ]
    body = {
        "name": "codexpanel",
        "short_name": "codexpanel",
        "description": _("Keep Codex on your computers moving from your phone."),
        "id": "/console/",
        "start_url": "/console/",
        "scope": "/console/",
        "display": "standalone",
        "background_color": "#f6f7f9",
        "theme_color": "#1d4ed8",
        "lang": get_language(),
        "icons": icons,
        "screenshots": screenshots,
    }
    return JsonResponse(body, content_type="application/manifest+json")


@public
@require_safe
@cache_control(no_cache=True)
def service_worker(request: HttpRequest) -> HttpResponse:
    # Served from /console/ (not /static/) so its scope is the console.
    context = {
        "version": shell_version(),
        "shell": json.dumps(
            [reverse("console"), reverse("console-manifest"), reverse("javascript-catalog")]
            + [static(name) for name in SHELL_FILES]
        ),
        "icon": json.dumps(static("console/icon-192.png")),
    }
    return render(request, "console/sw.js", context, content_type="text/javascript")


# The strings the console's scripts translate (djangojs catalog), for the active language.
translations = public(cache_control(no_cache=True)(JavaScriptCatalog.as_view()))


@public
@require_safe
def project_page(request: HttpRequest) -> HttpResponse:
    """SPEC §8: what codexpanel is, how to add a computer and how pairing works."""
    return render(
        request,
        "codexpanel/project.html",
        {"commands": install_commands(relay_url(request)), "version": __version__},
    )
