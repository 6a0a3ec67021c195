from __future__ import annotations

import os
import socket
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from django.core.cache import cache
from django.test import AsyncClient, Client
from hypothesis import settings as hypothesis_settings

from codexpanel import clock as relay_clock

# The browser and the deployment the console's browser tests share, as fixtures by name.
pytest_plugins = ["tests.browser", "tests.console_kit"]

IN_CI = os.environ.get("CI", "").lower() == "true"
PASSWORD = "correct horse battery staple"

# CI runs the same generated examples every time, so that a red run can be reproduced;
# locally each run explores new ones and remembers what failed (.hypothesis/).
hypothesis_settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if IN_CI:
    hypothesis_settings.load_profile("ci")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Modules that start their own relays (browsers, the real Codex, the fault suite) run
    first, the ones with most such tests before the others: spread over the workers from
    the start, they no longer leave one worker finishing a long module alone at the end.
    The sort is stable, so each module's tests keep their order and stay together."""
    heavy = Counter(
        item.module.__name__
        for item in items
        if item.module is not None and item.get_closest_marker("own_deployment")
    )
    items.sort(key=lambda item: -heavy[item.module.__name__] if item.module else 0)


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


@pytest.fixture(autouse=True)
def _fresh_channel_layers() -> Iterator[None]:
    """Each test gets its own channel layer: the in-memory one binds to the event loop
    that first used it, and every async test runs on a loop of its own."""
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture(scope="session", autouse=True)
def _close_stray_connections(django_db_setup: Any, django_db_blocker: Any) -> Iterator[None]:
    """Async tests leave database connections in the worker threads of finished requests;
    they are closed before the test database is dropped, which PostgreSQL refuses while
    any session remains."""
    yield
    import gc

    from django.db import connection

    gc.collect()
    if connection.vendor == "postgresql":
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )


@pytest.fixture
def ada(make_user: Callable[..., Any]) -> Any:
    return make_user("ada")


@pytest.fixture
def person(ada: Any) -> Any:
    """ada, signed in through a browser that sends CSRF tokens as a page does."""
    from .pairing import Person

    browser = Person()
    browser.sign_in("ada")
    return browser


@pytest_asyncio.fixture
async def console(ada: Any) -> AsyncClient:
    """ada's console, signed in, for the async API tests."""
    client = AsyncClient()
    await client.aforce_login(ada)
    return client


@pytest.fixture
def paired(ada: Any) -> Any:
    """ada's paired device and its token, as pairing leaves them."""
    from .realtime import make_device

    return make_device(ada)
