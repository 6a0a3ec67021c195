"""Devices and setup flows in the operators' console (SPEC ADM-4, as far as pairing goes)."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.groups import ensure_default_groups
from devices.models import Device
from setupflow.models import SetupFlow

from .conftest import PASSWORD
from .pairing import Installer, Person, pair

pytestmark = pytest.mark.django_db


@pytest.fixture
def paired(make_user, clock):
    make_user("ada")
    person = Person()
    person.sign_in("ada")
    return pair(person, Installer(), clock)


@pytest.fixture
def operator(make_user) -> Client:
    boss = make_user("boss")
    boss.groups.add(ensure_default_groups())
    client = Client()
    client.post("/admin/login/", {"username": "boss", "password": PASSWORD})
    return client


def test_operators_see_devices_and_their_tokens(operator, paired):
    device = Device.objects.get()
    assert device.name in operator.get("/admin/devices/device/").text
    page = operator.get(f"/admin/devices/device/{device.pk}/change/")
    assert page.status_code == 200
    assert paired["deviceToken"][:12] in page.text  # the hint, never the token
    assert paired["deviceToken"] not in page.text


def test_an_operator_holding_only_the_device_scope_sees_the_tokens_too(make_user, paired):
    from django.contrib.auth.models import Group, Permission

    group = Group.objects.create(name="Device desk")
    for codename in ("access_admin", "operate_any_device"):
        group.permissions.add(Permission.objects.get(codename=codename))
    make_user("desk").groups.add(group)
    client = Client()
    assert client.login(username="desk", password=PASSWORD)
    page = client.get(f"/admin/devices/device/{Device.objects.get().pk}/change/")
    assert paired["deviceToken"][:12] in page.text


def test_the_disable_action_disables_and_the_agent_is_refused(operator, paired):
    device = Device.objects.get()
    operator.post(
        "/admin/devices/device/",
        {"action": "disable_devices", "_selected_action": [device.pk]},
    )
    assert not Device.objects.get().enabled
    assert Installer().device_status(paired["deviceToken"]).status_code == 403


def test_the_revoke_action_cuts_the_agent_off(operator, paired):
    device = Device.objects.get()
    operator.post(
        "/admin/devices/device/",
        {"action": "revoke_tokens", "_selected_action": [device.pk]},
    )
    assert Installer().device_status(paired["deviceToken"]).status_code == 401


def test_setup_flows_are_visible_but_read_only(operator, paired):
    flow = SetupFlow.objects.get()
    assert flow.flow_id in operator.get("/admin/setupflow/setupflow/").text
    page = operator.get(f"/admin/setupflow/setupflow/{flow.pk}/change/")
    assert page.status_code == 200
    assert 'name="_save"' not in page.text
    assert flow.secret_hash not in page.text and flow.device_token_hash not in page.text
    assert operator.get("/admin/setupflow/setupflow/add/").status_code == 403
    assert operator.post(f"/admin/setupflow/setupflow/{flow.pk}/delete/").status_code == 403


def test_people_without_the_admin_scope_cannot_open_device_pages(make_user, paired):
    make_user("eve")
    client = Client()
    client.post("/admin/login/", {"username": "eve", "password": PASSWORD})
    response = client.get("/admin/devices/device/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
