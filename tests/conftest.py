from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from codexpanel import clock as relay_clock

IN_CI = os.environ.get("CI", "").lower() == "true"
PASSWORD = "correct horse battery staple"


def require(condition: bool, reason: str) -> None:
    """Skip when a service or binary is missing, except in CI, where it is a failure."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI requires it: {reason}")
    pytest.skip(reason)


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


class FakeClock:
    def __init__(self, start: datetime) -> None:
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock(relay_clock.now())
    monkeypatch.setattr(relay_clock, "now", fake)
    return fake


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def make_user(db: Any) -> Callable[..., Any]:
    from accounts.models import User

    counter = iter(range(1, 10_000))

    def make(username: str | None = None, password: str = PASSWORD, **fields: Any) -> User:
        return User.objects.create_user(username or f"user{next(counter)}", password, **fields)

    return make


@pytest.fixture
def browser() -> Client:
    """A client that sends CSRF tokens only when told to, as a browser page would."""
    return Client(enforce_csrf_checks=True)


def csrf_token(client: Client) -> str:
    response = client.get("/api/iam/auth/status")
    return response.json()["csrfToken"]


def post_json(client: Client, path: str, body: Any, **extra: str) -> Any:
    """POST JSON; extra are WSGI-style keys such as REMOTE_ADDR or HTTP_ACCEPT_LANGUAGE."""
    return client.post(path, body, content_type="application/json", **extra)


@pytest.fixture
def post(client: Client) -> Callable[..., Any]:
    def send(path: str, body: Any, **extra: str) -> Any:
        return post_json(client, path, body, **extra)

    return send
