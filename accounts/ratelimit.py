"""Rate limits as named policies (SPEC IAM-6, IAM-7; setupflow adds its own).

A policy counts attempts per key in a fixed window; reaching the limit locks the key for a
lockout period. Counts live in the database so every relay process shares them, and each
policy tracks at most `max_buckets` keys: a flood of distinct usernames or addresses costs
the relay a bounded table, never unbounded memory. Time comes from codexpanel.clock so
tests move it instead of sleeping.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from codexpanel import clock

from .models import RateLimitBucket


@dataclass(frozen=True)
class Policy:
    name: str
    limit: int
    window: timedelta
    # None: the key stays locked until its window ends (a plain "N per window" limit).
    lockout: timedelta | None
    max_buckets: int

    def _key(self, identifier: str) -> str:
        # Identifiers (usernames, addresses) are case-folded and stored only as hashes.
        return hashlib.sha256(f"{self.name}:{identifier.casefold()}".encode()).hexdigest()

    def retry_after(self, identifier: str) -> float | None:
        """Seconds until this key may try again, or None when it is not locked."""
        now = clock.now()
        locked_until = (
            RateLimitBucket.objects.filter(policy=self.name, key=self._key(identifier))
            .values_list("locked_until", flat=True)
            .first()
        )
        if locked_until is None or locked_until <= now:
            return None
        return (locked_until - now).total_seconds()

    @transaction.atomic
    def hit(self, identifier: str) -> float | None:
        """Count one attempt; returns the lock's remaining seconds if this key is now
        locked, else None."""
        now = clock.now()
        bucket, created = RateLimitBucket.objects.select_for_update().get_or_create(
            policy=self.name,
            key=self._key(identifier),
            defaults={"count": 0, "window_started_at": now, "updated_at": now},
        )
        if created and not self._make_room(now, new=bucket.pk):
            return None  # every tracked key is locked: this one goes untracked
        lock_over = bucket.locked_until is not None and bucket.locked_until <= now
        if lock_over or bucket.window_started_at + self.window <= now:
            bucket.count = 0
            bucket.window_started_at = now
            bucket.locked_until = None
        bucket.count += 1
        bucket.updated_at = now
        if bucket.count >= self.limit and bucket.locked_until is None:
            bucket.locked_until = (
                now + self.lockout
                if self.lockout is not None
                else bucket.window_started_at + self.window
            )
        bucket.save()
        if bucket.locked_until is None:
            return None
        return (bucket.locked_until - now).total_seconds()

    def reset(self, identifier: str) -> None:
        RateLimitBucket.objects.filter(policy=self.name, key=self._key(identifier)).delete()

    def tracked(self) -> int:
        return RateLimitBucket.objects.filter(policy=self.name).count()

    def _make_room(self, now: datetime, new: int) -> bool:
        """Keep at most max_buckets keys, dropping first keys whose window and lock are
        over, then the least recently used unlocked ones. A lock is never evicted (else a
        flood of fresh keys would erase it); if only locked keys remain, the new key is
        not tracked and False is returned. Trimming after the insert means concurrent
        inserts from several processes still converge to the cap."""
        buckets = RateLimitBucket.objects.filter(policy=self.name).exclude(pk=new)
        excess = buckets.count() + 1 - self.max_buckets
        if excess <= 0:
            return True
        # Trim a tenth below the cap so a flood pays for one trim per many new keys.
        excess += self.max_buckets // 10
        unlocked = Q(locked_until__isnull=True) | Q(locked_until__lte=now)
        finished = Q(window_started_at__lte=now - self.window) & unlocked
        excess -= buckets.filter(finished).delete()[0]
        if excess > 0:
            oldest = buckets.filter(unlocked).order_by("updated_at").values_list("pk", flat=True)
            excess -= RateLimitBucket.objects.filter(pk__in=list(oldest[:excess])).delete()[0]
        if buckets.count() + 1 <= self.max_buckets:
            return True
        RateLimitBucket.objects.filter(pk=new).delete()
        return False


def _ms(value: int) -> timedelta:
    return timedelta(milliseconds=value)


def login_by_username() -> Policy:
    """Failed sign-ins per account name (username, or "email:<address>" for wrong email
    codes): stops guessing one account's secret from many addresses. Unknown names are
    counted too, so the answer never tells them apart."""
    return Policy(
        "login_by_username",
        limit=settings.CODEXPANEL_LOGIN_MAX_ATTEMPTS,
        window=_ms(settings.CODEXPANEL_LOGIN_WINDOW_MS),
        lockout=_ms(settings.CODEXPANEL_LOGIN_LOCKOUT_MS),
        max_buckets=settings.CODEXPANEL_LOGIN_MAX_BUCKETS,
    )


def login_by_ip() -> Policy:
    """Failed sign-ins (password or email code) per source address: stops one client from
    spraying a common password across many usernames."""
    return Policy(
        "login_by_ip",
        limit=settings.CODEXPANEL_LOGIN_IP_MAX_ATTEMPTS,
        window=_ms(settings.CODEXPANEL_LOGIN_WINDOW_MS),
        lockout=_ms(settings.CODEXPANEL_LOGIN_LOCKOUT_MS),
        max_buckets=settings.CODEXPANEL_LOGIN_MAX_BUCKETS,
    )


def email_code_by_address() -> Policy:
    """Sign-in code requests per email address: however many clients ask, one inbox
    gets a bounded number of mails."""
    return Policy(
        "email_code_by_address",
        limit=settings.CODEXPANEL_EMAIL_CODE_IP_MAX_ATTEMPTS,
        window=_ms(settings.CODEXPANEL_EMAIL_CODE_IP_WINDOW_MS),
        lockout=None,
        max_buckets=settings.CODEXPANEL_EMAIL_CODE_MAX_CODES,
    )


def email_code_by_ip() -> Policy:
    """Sign-in code requests per source address: every request sends an email, so this
    bounds the mail one client can make the relay send."""
    return Policy(
        "email_code_by_ip",
        limit=settings.CODEXPANEL_EMAIL_CODE_IP_MAX_ATTEMPTS,
        window=_ms(settings.CODEXPANEL_EMAIL_CODE_IP_WINDOW_MS),
        lockout=None,
        max_buckets=settings.CODEXPANEL_LOGIN_MAX_BUCKETS,
    )


def register_by_ip_rate(group: str, request: object) -> str:
    """New accounts per source address (django-ratelimit, cache-counted): sign-ups are
    cheap to attempt and each one writes a user row."""
    return settings.CODEXPANEL_REGISTRATION_RATE
