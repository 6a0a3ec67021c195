"""Test settings: the production settings module, read with a test environment."""

import os

os.environ.setdefault("CODEXPANEL_SESSION_SECRET", "tests-" + "s3cr3t-" * 8)
os.environ.setdefault("CODEXPANEL_SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")

from codexpanel.settings import *  # noqa: F403

# The real hasher is PBKDF2 (tests/test_settings.py proves it); hundreds of sign-ins per
# run would spend minutes in it.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# No collectstatic in tests: serve nothing from disk rather than warn about a missing folder.
STATIC_ROOT = None
SERVESTATIC_USE_STATIC_ROOT = False
SERVESTATIC_USE_FINDERS = True

# A file, not SQLite's shared in-memory database, so tests that race threads meet the same
# locking (and busy timeout) as the embedded relay does in production.
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    import tempfile

    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": os.path.join(tempfile.gettempdir(), f"codexpanel-tests-{os.getpid()}.sqlite3")
    }
CODEXPANEL_BACKGROUND_SWEEP = False

# In-process tests keep redis-py's own 5 s read timeout for the channel layer: each test
# module's event loop is closed by cancelling whatever is left on it, and a channel-layer
# receive whose reads never time out can keep that from finishing. The relay processes the
# fault suite starts run with the production setting.
if REDIS_URL:  # noqa: F405
    CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0]["socket_timeout"] = 5  # noqa: F405

# pytest-xdist runs the suite in several processes. Each gets its own Redis database, as it
# gets its own test database: Django's RedisCache.clear() (run around every test) empties
# the whole database, which would wipe another process's channel layer mid-test. Databases
# 10 and up stay clear of the ones the fault suite's relays use.
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
if REDIS_URL and XDIST_WORKER.startswith("gw"):  # noqa: F405
    from urllib.parse import urlsplit, urlunsplit

    _parts = urlsplit(REDIS_URL)  # noqa: F405
    REDIS_URL = urlunsplit(_parts._replace(path=f"/{10 + int(XDIST_WORKER[2:])}"))
    CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0]["address"] = REDIS_URL  # noqa: F405
    CACHES["default"]["LOCATION"] = REDIS_URL  # noqa: F405
