from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _

# Custom permission scopes (IAM-2). They are granted only through permission groups.
SCOPES: dict[str, str] = {
    "access_admin": "Use the operators' console (/admin/)",
    "manage_users": "Enable, disable and reset users; assign permission groups",
    "operate_any_device": "Read and command any user's devices",
    "adjust_wallet": "Recharge, gift, deduct and correct wallet balances",
    "manage_cards": "Grant, renew and revoke monthly cards",
    # Every operator reads the audit records of their own actions; this opens everyone's.
    "read_audit": "Read every operator's audit records",
}

USER_ID_VALIDATOR = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
    _("A user id is 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit."),
)
USERNAME_VALIDATOR = RegexValidator(
    r"^[\w.@+-]{1,150}$",
    _("A username is 1-150 letters, digits or . @ + - _ characters."),
)


def generate_user_id() -> str:
    return "u" + secrets.token_hex(8)


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def get_by_natural_key(self, username: str | None) -> User:
        # Usernames are unique regardless of case, so sign-in ignores case too.
        return self.get(username__iexact=username)

    def create_user(self, username: str, password: str | None = None, **fields: Any) -> User:
        user = self.model(username=self.model.normalize_username(username), **fields)
        user.email = self.normalize_email(user.email)
        user.set_password(password)
        user.full_clean(exclude=["password"])
        user.save(using=self._db)
        return user

    def create_superuser(self, username: str, password: str | None = None, **fields: Any) -> User:
        """`createsuperuser`: a user in the Administrators permission group."""
        from .groups import ensure_default_groups

        user = self.create_user(username, password, **fields)
        user.groups.add(ensure_default_groups())
        return user


class User(AbstractBaseUser, PermissionsMixin):
    """An account. Permissions come only from its permission groups (IAM-2): there is no
    superuser flag, no per-user permission and no role field."""

    username = models.CharField(
        _("username"), max_length=150, unique=True, validators=[USERNAME_VALIDATOR]
    )
    user_id = models.CharField(
        _("user id"),
        max_length=64,
        unique=True,
        default=generate_user_id,
        validators=[USER_ID_VALIDATOR],
        help_text=_("Stable public id used by the agent and the API."),
    )
    email = models.EmailField(_("email address"), blank=True, default="")
    is_active = models.BooleanField(
        _("enabled"),
        default=True,
        help_text=_("Disabled users cannot sign in; disabling ends their sessions."),
    )
    date_joined = models.DateTimeField(_("date joined"), default=timezone.now)
    # Part of the session hash: bumping it ends every session of this user at their next
    # request, in every relay process, without enumerating session rows.
    session_epoch = models.PositiveIntegerField(default=0, editable=False)

    # Removing the inherited fields keeps IAM-2 true by construction.
    is_superuser = False
    user_permissions = None

    objects = UserManager()

    USERNAME_FIELD = "username"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            models.UniqueConstraint(Lower("username"), name="accounts_user_username_ci_unique"),
            models.UniqueConstraint(
                Lower("email"),
                condition=~models.Q(email=""),
                name="accounts_user_email_ci_unique",
            ),
        ]
        permissions = list(SCOPES.items())

    def __str__(self) -> str:
        return self.username

    @property
    def is_staff(self) -> bool:
        """Django admin's gate: the access_admin scope from a group."""
        return self.is_active and self.has_perm("accounts.access_admin")

    def scopes(self) -> list[str]:
        """The custom scopes this user holds through groups, e.g. ['manage_users']."""
        return sorted(
            perm.split(".", 1)[1]
            for perm in self.get_all_permissions()
            if perm.startswith("accounts.") and perm.split(".", 1)[1] in SCOPES
        )

    @classmethod
    def from_db(cls, db: str | None, field_names: Any, values: Any) -> User:
        instance = super().from_db(db, field_names, values)
        instance._remember_security_state()
        return instance

    def _remember_security_state(self) -> None:
        self._loaded_security = (self.__dict__.get("is_active"), self.__dict__.get("password"))

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Disabling a user or changing their password ends their sessions and live
        sockets (IAM-9), whichever path made the change: action, admin form or shell."""
        from .signals import announce_sessions_ended, end_sessions

        was_active, old_password = getattr(self, "_loaded_security", (None, None))
        disabled = was_active is True and not self.is_active
        password_changed = old_password is not None and old_password != self.password
        if not self._state.adding and kwargs.get("update_fields") is None:
            # session_epoch only moves forward, in the database: a full save of an
            # object loaded earlier must not write an older epoch back.
            kwargs["update_fields"] = [
                f.name
                for f in self._meta.concrete_fields
                if not f.primary_key and f.name != "session_epoch"
            ]
        super().save(*args, **kwargs)
        self._remember_security_state()
        if disabled:
            # The password hash is already part of the session hash; disabling needs
            # the epoch.
            end_sessions(self)
        elif password_changed:
            announce_sessions_ended(self)

    def _get_session_auth_hash(self, secret: str | None = None) -> str:
        return salted_hmac(
            "codexpanel.accounts.User.session",
            f"{self.password}:{self.session_epoch}",
            secret=secret,
            algorithm="sha256",
        ).hexdigest()


class RateLimitBucket(models.Model):
    """Attempts counted for one key of one named policy (see accounts/ratelimit.py).

    Kept in the database so every relay process sees the same counts and the number of
    tracked keys can be bounded exactly."""

    policy = models.CharField(max_length=64)
    key = models.CharField(max_length=64, help_text="sha256 of the identifier")
    count = models.PositiveIntegerField(default=0)
    window_started_at = models.DateTimeField()
    locked_until = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["policy", "key"], name="ratelimit_policy_key_unique")
        ]
        indexes = [models.Index(fields=["policy", "updated_at"])]

    def __str__(self) -> str:
        return f"{self.policy}:{self.key[:12]} ({self.count})"


class EmailLoginCode(models.Model):
    """A six-digit sign-in code (IAM-7). Only an HMAC of the code is stored."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="email_codes")
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)
    failed_attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "used_at"])]

    def __str__(self) -> str:
        return f"sign-in code for {self.user_id} until {self.expires_at:%Y-%m-%d %H:%M}"

    @staticmethod
    def hash_code(user_pk: int, code: str) -> str:
        return salted_hmac("codexpanel.accounts.EmailLoginCode", f"{user_pk}:{code}").hexdigest()

    def is_live(self, now: Any, max_attempts: int) -> bool:
        return (
            self.used_at is None and self.expires_at > now and (self.failed_attempts < max_attempts)
        )


class AuditRecord(models.Model):
    """What an operator did (SPEC WAL-6): who, to whom, what, the state before and after,
    and when. Written by the action functions, shown read-only in the admin."""

    actor = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, related_name="+", verbose_name=_("operator")
    )
    target_user = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, related_name="+", verbose_name=_("user")
    )
    action = models.CharField(_("action"), max_length=64)
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    before = models.JSONField(_("before"), default=dict, blank=True)
    after = models.JSONField(_("after"), default=dict, blank=True)
    created_at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("audit record")
        verbose_name_plural = _("audit records")
        ordering = ["-id"]
        indexes = [models.Index(fields=["target_user", "created_at"])]

    def __str__(self) -> str:
        return f"{self.action} by {self.actor_id} on {self.target_user_id}"


class SignInFailure(models.Model):
    """One refused sign-in with a password (IAM-6): wrong credentials, or refused while
    the username or network was locked. Operators read them in the admin; rows older than
    SIGN_IN_FAILURE_DAYS are dropped as new ones arrive."""

    class Reason(models.TextChoices):
        INVALID = "invalid", _("Wrong username or password")
        LOCKED = "locked", _("Refused while locked")

    at = models.DateTimeField(_("when"), db_index=True)
    # As typed, with anything unprintable replaced, so hostile text is never stored raw.
    username = models.CharField(_("username tried"), max_length=150, blank=True)
    network = models.CharField(_("network"), max_length=64)
    reason = models.CharField(_("reason"), max_length=8, choices=Reason)

    class Meta:
        verbose_name = _("failed sign-in")
        verbose_name_plural = _("failed sign-ins")
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.username or '-'} from {self.network} at {self.at:%Y-%m-%d %H:%M}"
