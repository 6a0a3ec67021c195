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
