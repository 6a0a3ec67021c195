"""Django's own middleware, run on the event loop when the relay serves a request.

Under ASGI Django runs every `process_request` and `process_response` of a MiddlewareMixin
through `sync_to_async`: two trips to the one thread database work runs on, per
middleware, per request, each queueing behind whatever that thread is doing. What these
middleware do is headers, cookies and lazily made objects, so they run here on the loop.
Only what does I/O goes to that thread: a session that must be saved, messages kept in it.
Everything else about them is Django's; under the test client's sync handler they are
exactly Django's classes.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
from django.http import HttpRequest
from django.middleware import clickjacking, common, csrf, locale, security


class OnTheLoop:
    """Placed before a MiddlewareMixin subclass: its hooks run on the event loop."""

    get_response: Any

    def response_needs_thread(self, request: HttpRequest, response: Any) -> bool:
        """Whether process_response does I/O this time; it runs in the thread then."""
        return False

    async def __acall__(self, request: HttpRequest) -> Any:
        response = None
        if hasattr(self, "process_request"):
            response = self.process_request(request)
        response = response or await self.get_response(request)
        if hasattr(self, "process_response"):
            if self.response_needs_thread(request, response):
                response = await sync_to_async(self.process_response, thread_sensitive=True)(
                    request, response
                )
            else:
                response = self.process_response(request, response)
        return response


class SecurityMiddleware(OnTheLoop, security.SecurityMiddleware):
    pass


class SessionMiddleware(OnTheLoop, sessions.SessionMiddleware):
    def response_needs_thread(self, request: HttpRequest, response: Any) -> bool:
        # Otherwise it only sets or deletes the cookie and the Vary header.
        session = request.session
        return session.modified or settings.SESSION_SAVE_EVERY_REQUEST


class LocaleMiddleware(OnTheLoop, locale.LocaleMiddleware):
    pass


class CommonMiddleware(OnTheLoop, common.CommonMiddleware):
    pass


class CsrfViewMiddleware(OnTheLoop, csrf.CsrfViewMiddleware):
    # The token lives in its cookie (CSRF_USE_SESSIONS is off, see settings): reading and
    # setting it is header work. process_view is Django's own, called by the handler.
    pass


class AuthenticationMiddleware(OnTheLoop, auth.AuthenticationMiddleware):
    # request.user and request.auser are lazy: the session is read when a view asks.
    pass


class MessageMiddleware(OnTheLoop, messages.MessageMiddleware):
    def response_needs_thread(self, request: HttpRequest, response: Any) -> bool:
        # Storing messages may read and write the session; untouched, update() does nothing.
        storage = getattr(request, "_messages", None)
        return storage is not None and (storage.used or storage.added_new)


class XFrameOptionsMiddleware(OnTheLoop, clickjacking.XFrameOptionsMiddleware):
    pass
