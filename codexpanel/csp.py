"""The Content-Security-Policy every response carries (SPEC §7): scripts, styles and
connections from this relay only, no inline script or style attribute, never framed.
Whatever text reaches a page (Codex output rendered as Markdown, a device name) can then
run nothing even if it slipped past escaping and DOMPurify."""

from __future__ import annotations

from collections.abc import Callable
from inspect import iscoroutinefunction
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.decorators import sync_and_async_middleware

POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    # data: for the icons CSS carries inline; blob: for a photo's preview before upload.
    "img-src": "'self' data: blob:",
    "font-src": "'self'",
    "connect-src": "'self'",
    "worker-src": "'self'",
    "manifest-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


HEADER = "; ".join(f"{name} {value}" for name, value in POLICY.items())


@sync_and_async_middleware
def content_security_policy(get_response: Callable[[HttpRequest], Any]) -> Callable[..., Any]:
    # Both kinds, so that under ASGI no request hops to a thread for this.
    if iscoroutinefunction(get_response):

        async def async_middleware(request: HttpRequest) -> HttpResponse:
            response = await get_response(request)
            response.headers.setdefault("Content-Security-Policy", HEADER)
            return response

        return async_middleware

    def middleware(request: HttpRequest) -> HttpResponse:
        response = get_response(request)
        response.headers.setdefault("Content-Security-Policy", HEADER)
        return response

    return middleware
