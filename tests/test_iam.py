"""Permission groups, not roles (SPEC IAM-1, IAM-2)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import FieldDoesNotExist
from django.test import Client

from accounts.backends import GroupScopeBackend
from accounts.groups import ensure_default_groups
from accounts.models import SCOPES, User

from .conftest import PASSWORD, post_json

pytestmark = pytest.mark.django_db


def test_the_user_model_has_no_role_superuser_flag_or_per_user_grants():
    field_names = {f.name for f in User._meta.get_fields()}
    assert not {"role", "is_superuser", "user_permissions", "is_staff"} & field_names
    with pytest.raises(FieldDoesNotExist):
        User._meta.get_field("user_permissions")


def test_permission_scopes_come_only_from_groups(make_user):
    user = make_user("alice")
    assert user.scopes() == []
    assert not user.has_perm("accounts.operate_any_device")
    group = Group.objects.create(name="Device operators")
    group.permissions.add(Permission.objects.get(codename="operate_any_device"))
    user.groups.add(group)
    user = User.objects.get(pk=user.pk)  # permissions are cached per instance
    assert user.has_perm("accounts.operate_any_device")
    assert user.scopes() == ["operate_any_device"]
    assert list(GroupScopeBackend().with_perm("accounts.operate_any_device")) == [user]


def test_a_disabled_member_holds_no_scopes(make_user):
    user = make_user("alice")
    user.groups.add(ensure_default_groups())
    user.is_active = False
    user.save()
    user = User.objects.get(pk=user.pk)
    assert user.scopes() == []
    assert not user.is_staff


def test_every_custom_scope_exists_and_administrators_hold_them_all():
    admins = ensure_default_groups()
    codenames = set(admins.permissions.values_list("codename", flat=True))
    assert set(SCOPES) <= codenames


def test_the_admin_console_needs_the_access_admin_scope(make_user):
    make_user("alice")
    client = Client()
    client.post("/admin/login/", {"username": "alice", "password": PASSWORD})
    assert client.get("/admin/").status_code == 302  # back to the sign-in page

    admin = make_user("boss")
    admin.groups.add(ensure_default_groups())
    client = Client()
    client.post("/admin/login/", {"username": "boss", "password": PASSWORD})
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/accounts/user/").status_code == 200


def test_public_user_ids_are_unique_and_generated(make_user):
    ids = {make_user().user_id for _ in range(20)}
    assert len(ids) == 20


def test_operators_can_open_add_and_edit_users_in_the_admin(make_user):
    admin = make_user("boss")
    admin.groups.add(ensure_default_groups())
    target = make_user("alice")
    client = Client()
    client.post("/admin/login/", {"username": "boss", "password": PASSWORD})
    for page in (
        f"/admin/accounts/user/{target.pk}/change/",
        f"/admin/accounts/user/{target.pk}/password/",
        "/admin/accounts/user/add/",
        "/admin/auth/group/",
    ):
        assert client.get(page).status_code == 200, page


def test_disabling_from_the_admin_action_ends_the_users_sessions(make_user):
    admin = make_user("boss")
    admin.groups.add(ensure_default_groups())
    target = make_user("alice")
    victim = Client()
    post_json(victim, "/api/iam/auth/login", {"username": "alice", "password": PASSWORD})
    assert victim.get("/api/iam/auth/status").json()["authenticated"] is True
    ops = Client()
    ops.post("/admin/login/", {"username": "boss", "password": PASSWORD})
    response = ops.post(
        "/admin/accounts/user/",
        {"action": "disable_users", "_selected_action": [target.pk]},
    )
    assert response.status_code == 302
    target.refresh_from_db()
    assert target.is_active is False
    assert victim.get("/api/iam/auth/status").json()["authenticated"] is False
