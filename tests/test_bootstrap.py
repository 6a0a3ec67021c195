"""First-admin bootstrap (SPEC IAM-3) and the development start command."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from accounts.actions import SAMPLE_ADMIN_PASSWORD, bootstrap_first_admin
from accounts.groups import ADMINISTRATORS
from accounts.models import User
from codexpanel.errors import ActionError

pytestmark = pytest.mark.django_db
STRONG = "a long operator passphrase 2026"


def test_bootstrap_creates_the_first_admin_with_the_configured_user_id():
    result = bootstrap_first_admin(
        username="root", user_id="admin", password=STRONG, production=True
    )
    assert result.created
    admin = User.objects.get(username="root")
    assert admin.user_id == "admin"
    assert admin.groups.filter(name=ADMINISTRATORS).exists()
    assert admin.is_staff
    assert admin.check_password(STRONG)


def test_bootstrap_is_idempotent_and_never_overwrites_the_password():
    bootstrap_first_admin(username="root", password=STRONG, production=True)
    again = bootstrap_first_admin(
        username="root", password="another passphrase 77", production=True
    )
    assert not again.created
    assert User.objects.count() == 1
    assert User.objects.get().check_password(STRONG)


def test_bootstrap_only_creates_the_first_admin():
    bootstrap_first_admin(username="root", password=STRONG, production=True)
    later = bootstrap_first_admin(username="second", password=STRONG, production=True)
    assert not later.created
    assert not User.objects.filter(username="second").exists()


def test_production_bootstrap_refuses_the_sample_password():
    with pytest.raises(ActionError, match="sample password"):
        bootstrap_first_admin(username="root", password=SAMPLE_ADMIN_PASSWORD, production=True)
    assert not User.objects.exists()


def test_production_bootstrap_refuses_a_password_the_validators_reject():
    with pytest.raises(ActionError) as refused:
        bootstrap_first_admin(username="root", password="12345678", production=True)
    assert refused.value.code == "invalid_password"
    assert not User.objects.exists()


def test_development_bootstrap_accepts_the_sample_password():
    assert bootstrap_first_admin(
        username="root", password=SAMPLE_ADMIN_PASSWORD, production=False
    ).created


def test_bootstrap_refuses_to_promote_an_existing_ordinary_account(make_user):
    make_user("root")
    with pytest.raises(ActionError) as refused:
        bootstrap_first_admin(username="ROOT", password=STRONG, production=True)
    assert refused.value.code == "bootstrap_conflict"
    assert not User.objects.get(username="root").is_staff


def test_bootstrap_without_a_username_does_nothing():
    assert not bootstrap_first_admin(username="", password=STRONG, production=True).created
    assert not User.objects.exists()


def test_the_management_command_reads_the_environment_settings(settings):
    settings.CODEXPANEL_ADMIN_USERNAME = "root"
    settings.CODEXPANEL_ADMIN_USER_ID = "ops"
    settings.CODEXPANEL_ADMIN_PASSWORD = STRONG
    out = io.StringIO()
    call_command("bootstrap_admin", stdout=out)
    call_command("bootstrap_admin", stdout=out)
    assert User.objects.get().user_id == "ops"
    assert "password unchanged" in out.getvalue()


def test_the_management_command_fails_clearly_on_the_sample_password(settings):
    settings.CODEXPANEL_ADMIN_USERNAME = "root"
    settings.CODEXPANEL_ADMIN_PASSWORD = SAMPLE_ADMIN_PASSWORD
    with pytest.raises(CommandError, match="sample password"):
        call_command("bootstrap_admin")


def test_createsuperuser_makes_an_administrator_through_the_group():
    user = User.objects.create_superuser("boss", STRONG)
    assert user.has_perm("accounts.manage_users")
    assert user.is_superuser is False


def test_the_dev_command_refuses_to_run_without_debug():
    with pytest.raises(CommandError, match="DEBUG=true"):
        call_command("dev")


def test_the_dev_command_prepares_the_relay_and_prints_where_to_go(settings, tmp_path, monkeypatch):
    from codexpanel.management.commands import dev

    monkeypatch.setattr(dev, "CREDENTIALS_FILE", tmp_path / "dev-admin.json")
    settings.CODEXPANEL_ADMIN_USERNAME = ""
    out = io.StringIO()
    command = dev.Command(stdout=out)
    command._prepare("127.0.0.1", 8123)
    command._prepare("127.0.0.1", 8123)
    text = out.getvalue()
    assert "http://127.0.0.1:8123/admin/" in text
    saved = (tmp_path / "dev-admin.json").read_text()
    assert (tmp_path / "dev-admin.json").stat().st_mode & 0o077 == 0
    admin = User.objects.get(username="admin")
    assert admin.is_staff
    assert text.count("admin sign-in") == 2
    assert admin.check_password(__import__("json").loads(saved)["password"])
