"""The settings of the relays tests start as processes of their own (tests/live.py): the
production settings, read with the environment each test gives, with one change: a fast
password hasher. Every sign-in through such a relay would otherwise spend a second of CPU
in PBKDF2 (tests/test_settings.py proves production uses it)."""

from codexpanel.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
