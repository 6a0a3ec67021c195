"""Django's middleware runs on the event loop under ASGI (codexpanel.middleware): no hop to
the database thread for header and cookie work, while a session that changed is still
saved and a message still kept."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from channels.testing import ApplicationCommunicator
from django.conf import settings
from django.contrib.sessions.models import Session
from django.utils.deprecation import MiddlewareMixin
from django.utils.module_loading import import_string

from codexpanel.asgi import application

from .conftest import PASSWORD
from .realtime import db, session_of

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def request(
    method: str, path: str, body: bytes = b"", headers: list[tuple[bytes, bytes]] | None = None
) -> tuple[int, dict[bytes, list[bytes]], bytes]:
    app = ApplicationCommunicator(
        application,
        {
            "type": "http",
            "method": method,
            "path": path,
            "query_string": b"",
            "headers": [
                (b"host", b"testserver"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
            "http_version": "1.1",
            "scheme": "http",
            "server": ("testserver", 80),
            "client": ("127.0.0.1", 5555),
        },
    )
    await app.send_input({"type": "http.request", "body": body, "more_body": False})
    start = await app.receive_output(timeout=10)
    chunks = []
    while True:
        part = await app.receive_output(timeout=10)
        chunks.append(part.get("body", b""))
        if not part.get("more_body"):
            break
    response_headers: dict[bytes, list[bytes]] = {}
    for name, value in start["headers"]:
        response_headers.setdefault(name.lower(), []).append(value)
    return start["status"], response_headers, b"".join(chunks)


def mixin_middleware() -> list[type[MiddlewareMixin]]:
    classes = [import_string(path) for path in settings.MIDDLEWARE]
    return [cls for cls in classes if isinstance(cls, type) and issubclass(cls, MiddlewareMixin)]


@pytest.fixture
def hook_threads(monkeypatch) -> dict[str, set[int]]:
    """Which threads each middleware's hooks ran in, by 'Class.hook'."""
    seen: dict[str, set[int]] = {}
    for cls in mixin_middleware():
        for hook in ("process_request", "process_response"):
            original = getattr(cls, hook, None)
            if original is None:
                continue

            def spy(self: Any, *args: Any, _original=original, _name=f"{cls.__name__}.{hook}"):
                seen.setdefault(_name, set()).add(threading.get_ident())
                return _original(self, *args)

            monkeypatch.setattr(cls, hook, spy)
    return seen


async def test_every_middleware_hook_of_a_signed_in_request_runs_on_the_event_loop(
    ada, hook_threads
):
    cookie = f"codexpanel_session={await db(session_of)(ada)}".encode()
    status, _headers, body = await request(
        "GET", "/api/iam/auth/status", headers=[(b"cookie", cookie)]
    )
    assert status == 200 and json.loads(body)["authenticated"] is True
    loop_thread = {threading.get_ident()}
    assert len(hook_threads) >= 10  # all of Django's own: security … clickjacking
    assert {name: threads for name, threads in hook_threads.items() if threads != loop_thread} == {}


async def test_a_session_the_view_changed_is_still_saved_and_its_cookie_set(ada, hook_threads):
    status, headers, _body = await request("GET", "/api/iam/auth/status")
    assert status == 200
    csrf = next(
        value.split(b";")[0].split(b"=", 1)[1]
        for value in headers[b"set-cookie"]
        if value.startswith(b"csrftoken=")
    )
    status, headers, body = await request(
        "POST",
        "/api/iam/auth/login",
        json.dumps({"username": "ada", "password": PASSWORD}).encode(),
        headers=[
            (b"content-type", b"application/json"),
            (b"cookie", b"csrftoken=" + csrf),
            (b"x-csrftoken", csrf),
            (b"origin", b"http://testserver"),
        ],
    )
    assert status == 200, body
    session_cookie = next(
        value for value in headers[b"set-cookie"] if value.startswith(b"codexpanel_session=")
    )
    key = session_cookie.split(b";")[0].split(b"=", 1)[1].decode()
    stored = await db(Session.objects.get)(session_key=key)
    assert str(stored.get_decoded()["_auth_user_id"]) == str(ada.pk)
    # Saving it was database work: that one hook went to the thread.
    assert hook_threads["SessionMiddleware.process_response"] - {threading.get_ident()}


@pytest.mark.parametrize(
    ("left_out", "check_id"),
    [
        ("codexpanel.middleware.SecurityMiddleware", "codexpanel.W001"),
        ("codexpanel.middleware.XFrameOptionsMiddleware", "codexpanel.W002"),
        ("codexpanel.middleware.CsrfViewMiddleware", "codexpanel.W003"),
    ],
)
async def test_the_deploy_check_warns_when_a_protecting_middleware_is_left_out(left_out, check_id):
    from django.test import override_settings

    from codexpanel.checks import required_middleware

    assert required_middleware() == []
    with override_settings(MIDDLEWARE=[path for path in settings.MIDDLEWARE if path != left_out]):
        assert [warning.id for warning in required_middleware()] == [check_id]


async def test_djangos_checks_that_find_middleware_by_path_still_warn_about_weak_settings():
    from django.test import override_settings

    from codexpanel.checks import djangos_middleware_checks

    with override_settings(
        SECURE_HSTS_SECONDS=0,
        SECURE_SSL_REDIRECT=False,
        SESSION_COOKIE_SECURE=False,
        CSRF_COOKIE_SECURE=False,
    ):
        found = {message.id for message in djangos_middleware_checks()}
    assert {"security.W004", "security.W008", "security.W012", "security.W016"} <= found
    with override_settings(
        SECURE_HSTS_SECONDS=31536000,
        SECURE_SSL_REDIRECT=True,
        SESSION_COOKIE_SECURE=True,
        CSRF_COOKIE_SECURE=True,
    ):
        assert {m.id for m in djangos_middleware_checks()} & {
            "security.W004",
            "security.W008",
        } == set()


async def test_the_csrf_token_may_not_move_into_the_session_the_loop_cannot_read():
    from django.core.checks import run_checks
    from django.test import override_settings

    from codexpanel.checks import fast_paths_assumptions

    assert fast_paths_assumptions() == []
    with override_settings(CSRF_USE_SESSIONS=True):
        assert [message.id for message in fast_paths_assumptions()] == ["codexpanel.E001"]
        # Among the checks every start runs, not only `check --deploy` or `migrate`.
        assert "codexpanel.E001" in {message.id for message in run_checks()}
