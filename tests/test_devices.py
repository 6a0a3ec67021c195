"""Devices and who may touch them (SPEC DEV-1, DEV-6): owners, other users, operators,
disabled devices, revoked tokens."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import IntegrityError, transaction

from accounts.models import AuditRecord, User
from devices.actions import DeviceTokenRefused, authenticate_device_token, set_device_enabled
from devices.models import Device, DeviceToken
from devices.signals import device_access_revoked

from .pairing import PROFILE, Installer, Person, pair

pytestmark = pytest.mark.django_db


@pytest.fixture
def ada_browser(ada):
    person = Person()
    person.sign_in("ada")
    return person


@pytest.fixture
def paired(ada_browser, clock):
    return pair(ada_browser, Installer(), clock)


@pytest.fixture
def mallory(make_user):
    make_user("mallory")
    person = Person()
    person.sign_in("mallory")
    return person


def error_of(response) -> str:
    return response.json()["error"]["code"]


def test_owners_see_their_devices(ada_browser, paired):
    listed = ada_browser.client.get("/api/devices").json()["devices"]
    assert [d["deviceId"] for d in listed] == [PROFILE["deviceId"]]
    detail = ada_browser.client.get(f"/api/devices/{PROFILE['deviceId']}").json()
    assert detail["name"] == PROFILE["deviceName"]
    assert detail["enabled"] is True and detail["online"] is False
    assert "token" not in str(detail).lower()


def test_another_users_device_is_invisible_and_inoperable(mallory, paired):
    assert mallory.client.get("/api/devices").json() == {"devices": []}
    detail = mallory.client.get(f"/api/devices/{PROFILE['deviceId']}")
    assert detail.status_code == 404 and error_of(detail) == "device_not_found"
    # Refused exactly like a device that does not exist.
    missing = mallory.client.get("/api/devices/no-such-device-0000")
    assert missing.json() == detail.json()
    revoke = mallory.post(f"/api/devices/{PROFILE['deviceId']}/revoke-token", {})
    assert revoke.status_code == 404
    removed = mallory.client.delete(
        f"/api/devices/{PROFILE['deviceId']}",
        HTTP_X_CSRFTOKEN=mallory.client.cookies["csrftoken"].value,
    )
    assert removed.status_code == 404
    assert DeviceToken.objects.get().active
    assert Device.objects.exists()


def test_operators_may_operate_any_device(mallory, paired, make_user):
    operators = Group.objects.create(name="Operators")
    operators.permissions.add(Permission.objects.get(codename="operate_any_device"))
    User.objects.get(username="mallory").groups.add(operators)
    mallory.sign_in("mallory")  # group changes end sessions (IAM-9)
    assert len(mallory.client.get("/api/devices").json()["devices"]) == 1
    assert mallory.post(f"/api/devices/{PROFILE['deviceId']}/revoke-token", {}).status_code == 200
    assert not DeviceToken.objects.get().active


def test_anonymous_callers_see_no_devices(client, paired):
    assert client.get("/api/devices").status_code == 401
    assert client.get(f"/api/devices/{PROFILE['deviceId']}").status_code == 401


def test_a_disabled_device_is_refused(ada_browser, paired):
    device = Device.objects.get()
    set_device_enabled(device, False)
    status = Installer().device_status(paired["deviceToken"])
    assert status.status_code == 403 and error_of(status) == "device_disabled"
    with pytest.raises(DeviceTokenRefused) as refused:
        authenticate_device_token(paired["deviceToken"])
    assert refused.value.reason == "device_disabled"
    # The owner can still see it is disabled, but not operate it.
    detail = ada_browser.client.get(f"/api/devices/{PROFILE['deviceId']}").json()
    assert detail["enabled"] is False
    revoke = ada_browser.post(f"/api/devices/{PROFILE['deviceId']}/revoke-token", {})
    assert revoke.status_code == 403 and error_of(revoke) == "device_disabled"


def test_a_disabled_owner_makes_the_token_useless(ada, paired):
    ada.is_active = False
    ada.save()
    with pytest.raises(DeviceTokenRefused) as refused:
        authenticate_device_token(paired["deviceToken"])
    assert refused.value.reason == "owner_disabled"


def test_revoking_the_token_cuts_the_agent_off_and_announces_it(
    ada_browser, paired, django_capture_on_commit_callbacks
):
    heard = []

    def receiver(**kwargs):
        heard.append((kwargs["device_id"], kwargs["reason"]))

    device_access_revoked.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            revoked = ada_browser.post(f"/api/devices/{PROFILE['deviceId']}/revoke-token", {})
    finally:
        device_access_revoked.disconnect(receiver)
    assert revoked.status_code == 200
    assert heard == [(PROFILE["deviceId"], "revoked")]
    status = Installer().device_status(paired["deviceToken"])
    assert status.status_code == 401 and error_of(status) == "token_revoked"


def test_removing_a_device_frees_the_quota(ada_browser, paired, clock):
    csrf = ada_browser.client.cookies["csrftoken"].value
    removed = ada_browser.client.delete(
        f"/api/devices/{PROFILE['deviceId']}", HTTP_X_CSRFTOKEN=csrf
    )
    assert removed.status_code == 200
    assert not Device.objects.exists()
    other = Installer(profile={**PROFILE, "deviceId": "replacement-computer-01"})
    assert pair(ada_browser, other, clock)["deviceToken"]


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Bearer cpd_unknown", "Bearer not-a-device-token", "Bearer a b", "Basic abc"],
)
def test_bad_device_tokens_are_refused(client, paired, header):
    response = client.get("/api/agent/device", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert error_of(response) in {"invalid_token", "not_authenticated"}


def test_one_device_has_at_most_one_active_token(paired):
    device = Device.objects.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        DeviceToken.objects.create(
            device=device, token_hash="0" * 64, hint="cpd_x", created_at=device.created_at
        )


def rename(person, name, device_id=PROFILE["deviceId"], **extra):
    return person.client.patch(
        f"/api/devices/{device_id}",
        data={"name": name},
        content_type="application/json",
        **{"HTTP_X_CSRFTOKEN": person.client.cookies["csrftoken"].value, **extra},
    )


def test_an_owner_renames_a_device_and_the_name_is_trimmed(ada_browser, paired):
    answer = rename(ada_browser, "  Studio Mac  ")
    assert answer.status_code == 200 and answer.json()["name"] == "Studio Mac"
    assert Device.objects.get().name == "Studio Mac"
    record = AuditRecord.objects.get(action="device.rename")
    assert record.actor.username == "ada" and record.subject == PROFILE["deviceId"]
    assert record.before == {"name": PROFILE["deviceName"]}
    assert record.after == {"name": "Studio Mac"}


@pytest.mark.parametrize("name", ["", "   ", "two\nlines", "tab\there", "nul\x00", "x" * 201])
def test_a_name_that_cannot_be_shown_on_one_line_is_refused_and_nothing_changes(
    ada_browser, paired, name
):
    answer = rename(ada_browser, name)
    expected = "invalid_text" if "\x00" in name else "invalid_request"  # refused on reading
    assert answer.status_code == 400 and error_of(answer) == expected, answer.json()
    assert Device.objects.get().name == PROFILE["deviceName"]


def test_another_user_cannot_rename_a_device(mallory, paired):
    answer = rename(mallory, "mine now")
    assert answer.status_code == 404 and error_of(answer) == "device_not_found"
    assert Device.objects.get().name == PROFILE["deviceName"]


def test_renaming_needs_the_pages_csrf_token(ada_browser, paired):
    forged = ada_browser.client.patch(
        f"/api/devices/{PROFILE['deviceId']}",
        data={"name": "forged"},
        content_type="application/json",
    )
    assert forged.status_code == 403
    assert Device.objects.get().name == PROFILE["deviceName"]
