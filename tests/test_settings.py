"""Settings from the environment, production hardening and the one version number."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings

import agent
import codexpanel

from .conftest import port_open, require

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = {
    "DEBUG": "false",
    "CODEXPANEL_SESSION_SECRET": "Zq3-production-secret-" + "k8Yw2" * 10,
    "ALLOWED_HOSTS": "relay.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://relay.example.com",
    "DATABASE_URL": "sqlite:////tmp/codexpanel-deploy-check.sqlite3",
}


def run_relay(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(
            ("CODEXPANEL_", "DEBUG", "ALLOWED_HOSTS", "CSRF_", "DATABASE_URL", "REDIS_URL")
        )
    }
    clean.update(env, DJANGO_SETTINGS_MODULE="codexpanel.settings")
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_with_production_settings_has_no_warnings():
    result = run_relay(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], **PRODUCTION)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_session_secret():
    env = {k: v for k, v in PRODUCTION.items() if k != "CODEXPANEL_SESSION_SECRET"}
    result = run_relay(["manage.py", "check"], **env)
    assert result.returncode != 0
    assert "CODEXPANEL_SESSION_SECRET is required" in result.stderr


def _print_settings(*names: str, **env: str) -> list[str]:
    code = "from django.conf import settings as s; " + "; ".join(f"print({n})" for n in names)
    result = run_relay(["-c", "import django; django.setup(); " + code], **env)
    assert result.returncode == 0, result.stderr
    return result.stdout.split("\n")


def test_the_embedded_default_needs_no_services():
    lines = _print_settings(
        "s.DATABASES['default']['ENGINE']",
        "s.CHANNEL_LAYERS['default']['BACKEND']",
        "s.CACHES['default']['BACKEND']",
        "s.PASSWORD_HASHERS[0]",
        DEBUG="true",
    )
    assert lines[:4] == [
        "django.db.backends.sqlite3",
        "channels.layers.InMemoryChannelLayer",
        "django.core.cache.backends.locmem.LocMemCache",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]


def test_database_and_redis_urls_switch_to_the_shared_services():
    lines = _print_settings(
        "s.DATABASES['default']['ENGINE']",
        "s.CHANNEL_LAYERS['default']['BACKEND']",
        "s.CACHES['default']['BACKEND']",
        "s.SESSION_COOKIE_SECURE",
        "s.SESSION_COOKIE_NAME",
        "s.CHANNEL_LAYERS['default']['CONFIG']['hosts'][0]['socket_timeout']",
        "s.CHANNEL_LAYERS['default']['CONFIG']['prefix'] == s.CACHES['default']['KEY_PREFIX']",
        **{
            **PRODUCTION,
            "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/test",
            "REDIS_URL": "redis://127.0.0.1:6379/0",
        },
    )
    assert lines[:5] == [
        "django.db.backends.postgresql",
        "codexpanel.channel_layer.RelayChannelLayer",
        "django.core.cache.backends.redis.RedisCache",
        "True",
        "codexpanel_session",
    ]
    # The relay's channel layer reads for longer than its blocking pop waits.
    from channels_redis.core import RedisChannelLayer

    assert float(lines[5]) > RedisChannelLayer.brpop_timeout
    assert lines[6] == "True"  # one deployment prefix for its groups and its cache keys


def test_one_version_number_for_the_package_the_agent_and_the_relay():
    assert codexpanel.__version__ == agent.__version__
    assert metadata.version("codexpanel") == agent.__version__


@pytest.mark.service
def test_the_redis_channel_layer_delivers_a_message():
    """The scale-out layer works against a real Redis (the configured one when set)."""
    require(port_open("127.0.0.1", 6379), "Redis on 127.0.0.1:6379")
    from channels_redis.core import RedisChannelLayer

    layer = (
        get_channel_layer()
        if settings.REDIS_URL
        else RedisChannelLayer(hosts=["redis://127.0.0.1:6379/1"], prefix="codexpanel-test")
    )
    assert isinstance(layer, RedisChannelLayer)

    async def round_trip() -> dict:
        channel = await layer.new_channel()
        await layer.send(channel, {"type": "probe", "n": 1})
        message = await layer.receive(channel)
        await layer.flush()
        return message

    assert async_to_sync(round_trip)() == {"type": "probe", "n": 1}


def test_ci_runs_use_the_services_they_were_given():
    """Under CI the PostgreSQL + Redis pass must really be on them, not silently on SQLite."""
    wanted = os.environ.get("CODEXPANEL_EXPECT_DATABASE", "")
    require(bool(wanted), "CODEXPANEL_EXPECT_DATABASE names the expected engine (.ci/run sets it)")
    assert settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1] == wanted
    assert bool(settings.REDIS_URL) == (wanted == "postgresql")


@pytest.mark.django_db
def test_the_models_and_the_migrations_agree():
    from django.core.management import call_command

    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def test_every_middleware_can_run_async_so_long_polls_hold_no_thread():
    """One sync-only middleware makes Django run every async view inside the process's
    single sync thread: a 30-second command wait would then stall all database work."""
    from django.conf import settings
    from django.utils.module_loading import import_string

    sync_only = [
        path
        for path in settings.MIDDLEWARE
        if not getattr(import_string(path), "async_capable", False)
    ]
    assert sync_only == []


@pytest.mark.service
def test_the_redis_channel_layer_survives_a_quiet_spell_longer_than_a_read_timeout():
    """redis-py 8 times reads out after 5 s by default; a channel that stays quiet longer
    than that must still deliver, not fail on the blocking pop's read."""
    require(port_open("127.0.0.1", 6379), "Redis on 127.0.0.1:6379")
    from channels_redis.core import RedisChannelLayer

    # Built as the relay builds it (tests/settings.py keeps a shorter timeout in-process).
    layer = RedisChannelLayer(
        hosts=[
            {
                "address": settings.REDIS_URL or "redis://127.0.0.1:6379/1",
                "socket_timeout": settings.REDIS_SOCKET_TIMEOUT,
            }
        ],
        prefix="codexpanel-test",
    )
    quiet = RedisChannelLayer.brpop_timeout + 2

    async def wait_then_receive() -> dict:
        channel = await layer.new_channel()

        async def send_later() -> None:
            await asyncio.sleep(quiet)
            await layer.send(channel, {"type": "probe", "n": 2})

        sender = asyncio.create_task(send_later())
        message = await layer.receive(channel)
        await sender
        await layer.flush()
        return message

    assert async_to_sync(wait_then_receive)() == {"type": "probe", "n": 2}
