"""The desktop setup flow end to end over HTTP (SPEC SET-1 … SET-7): the installer's calls
and the browser's, as each really makes them."""

from __future__ import annotations

import re

import pytest

from codexpanel import tokens
from devices.models import Device, DeviceToken
from setupflow.models import CODE_ALPHABET, SetupFlow

from .pairing import PROFILE, Installer, Person, pair, reinstaller

pytestmark = pytest.mark.django_db


def test_start_answers_a_flow_with_a_secret_a_code_and_a_link():
    installer = Installer()
    response = installer.start()
    assert response.status_code == 201
    body = response.json()
    assert body["flowId"].startswith("sf_")
    assert len(body["flowSecret"]) >= 4 + 43  # prefix + 256 bits
    assert re.fullmatch(rf"[{CODE_ALPHABET}]{{4}}-[{CODE_ALPHABET}]{{4}}", body["oneTimeCode"])
    code = body["oneTimeCode"].replace("-", "")
    assert body["verificationUrl"] == (
        f"http://testserver/desktop/setup?flowId={body['flowId']}&code={code}"
    )
    assert body["expiresIn"] == 600
    assert body["interval"] == 5
    flow = SetupFlow.objects.get(flow_id=body["flowId"])
    assert body["flowSecret"] not in str(flow.__dict__)
    assert flow.secret_hash == tokens.digest(body["flowSecret"])
    assert code not in str(flow.__dict__)


def test_the_whole_flow_as_the_installer_and_a_browser_walk_it(client, ada, clock):
    installer = Installer()
    assert installer.start().status_code == 201

    # The link opens the setup page for an anonymous visitor: sign-in form, device details.
    page = client.get(installer.started["verificationUrl"].removeprefix("http://testserver"))
    assert page.status_code == 200
    assert PROFILE["deviceName"] in page.text
    assert installer.code in page.text
    assert 'name="password"' in page.text

    browser = Person()
    looked = browser.look(installer).json()
    assert looked["status"] == "pending"
    assert looked["device"]["name"] == PROFILE["deviceName"]
    assert "deviceToken" not in looked and "setupToken" not in looked

    assert installer.poll().json() == {"status": "pending", "interval": 5, "expiresIn": 600}

    assert browser.sign_in("ada").status_code == 200
    approved = browser.approve(installer)
    assert approved.status_code == 200, approved.json()
    assert approved.json()["status"] == "approved"
    assert approved.json()["message"].startswith("Binding succeeded.")
    assert "deviceToken" not in approved.json()

    clock.advance(seconds=5)
    handoff = installer.poll().json()
    assert handoff["status"] == "approved"
    assert handoff["deviceToken"].startswith("cpd_") and len(handoff["deviceToken"]) >= 4 + 43
    assert handoff["setupToken"].startswith("cps_")
    assert handoff["userId"] == ada.user_id
    assert handoff["deviceId"] == PROFILE["deviceId"]

    clock.advance(seconds=5)
    again = installer.poll().json()
    assert again == {"status": "approved", "tokensCollected": True}

    flow = SetupFlow.objects.get(flow_id=installer.flow_id)
    assert handoff["deviceToken"] not in str(flow.__dict__)
    assert flow.device_token_hash == tokens.digest(handoff["deviceToken"])
    assert flow.approved_by == ada
    # Not active before complete: the installer has not finished yet.
    assert installer.device_status(handoff["deviceToken"]).status_code == 401

    context = installer.context(handoff["setupToken"])
    assert context.status_code == 200
    assert context.json() == {
        "relayUrl": "http://testserver",
        "userId": ada.user_id,
        "deviceId": PROFILE["deviceId"],
        "deviceName": PROFILE["deviceName"],
        "workspace": PROFILE["workspace"],
        "agentVersion": "0.2.0",
        "deviceWssUrl": "ws://testserver/device-wss",
        "heartbeatIntervalSeconds": 15,
    }

    completed = installer.complete(handoff["setupToken"], agentVersion="0.2.0")
    assert completed.status_code == 200
    assert completed.json() == {
        "status": "completed",
        "deviceId": PROFILE["deviceId"],
        "mode": "host-runtime",
    }
    device = Device.objects.get(device_id=PROFILE["deviceId"])
    assert device.owner == ada
    assert device.mode == "host-runtime"
    assert (device.platform, device.workspace, device.agent_version) == (
        "linux",
        "/home/ada/src",
        "0.2.0",
    )
    assert device.tokens.get().token_hash == tokens.digest(handoff["deviceToken"])

    status = installer.device_status(handoff["deviceToken"])
    assert status.status_code == 200
    assert status.json()["deviceId"] == PROFILE["deviceId"]
    assert status.json()["online"] is False

    clock.advance(seconds=5)
    assert installer.poll().json() == {"status": "completed"}
    done_page = browser.client.get(
        f"/desktop/setup?flowId={installer.flow_id}&code={installer.code}"
    )
    assert "Binding succeeded." in done_page.text


def test_the_terminal_token_path_approves_and_hands_over_in_one_answer(ada, person):
    installer = Installer()
    installer.start()
    issued = person.terminal_token(installer)
    assert issued.status_code == 201
    assert issued["Cache-Control"] == "no-store"
    token = issued.json()["token"]
    assert token.startswith("cpt_")
    assert issued.json()["expiresIn"] == 300

    answer = installer.login_token(token)
    assert answer.status_code == 200, answer.json()
    body = answer.json()
    assert body["status"] == "approved" and body["userId"] == ada.user_id
    assert installer.complete(body["setupToken"]).status_code == 200
    assert installer.device_status(body["deviceToken"]).status_code == 200
    flow = SetupFlow.objects.get(flow_id=installer.flow_id)
    assert flow.approved_by == ada and flow.terminal_token_hash == ""


def test_rebinding_needs_confirmation_then_rotates_the_token(make_user, clock):
    first = Person()
    make_user("grace")
    first.sign_in("grace")
    old = pair(first, Installer(), clock)

    ada_browser = Person()
    ada = make_user("ada")
    ada_browser.sign_in("ada")
    installer = reinstaller(old["deviceToken"])
    installer.start()
    looked = ada_browser.look(installer).json()
    assert looked["rebindRequired"] is True

    refused = ada_browser.approve(installer)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "device_rebind_required"
    assert "will not be switched automatically" in refused.json()["error"]["message"]
    assert SetupFlow.objects.get(flow_id=installer.flow_id).state == "pending"

    assert ada_browser.approve(installer, confirmRebind=True).status_code == 200
    clock.advance(seconds=10)
    handoff = installer.poll().json()
    assert handoff["rebind"] is True
    # Until complete, the old binding still works (a failed reinstall cuts nobody off).
    assert installer.device_status(old["deviceToken"]).status_code == 200
    assert installer.complete(handoff["setupToken"]).status_code == 200

    device = Device.objects.get(device_id=PROFILE["deviceId"])
    assert device.owner == ada and device.bound_by == ada
    refused_old = installer.device_status(old["deviceToken"])
    assert refused_old.status_code == 401
    assert refused_old.json()["error"]["code"] == "token_revoked"
    assert installer.device_status(handoff["deviceToken"]).status_code == 200
    retired = DeviceToken.objects.get(token_hash=tokens.digest(old["deviceToken"]))
    assert retired.revoked_reason == "rebound" and retired.revoked_by == ada
    flow = SetupFlow.objects.get(flow_id=installer.flow_id)
    assert flow.rebind_confirmed and flow.previous_owner.username == "grace"


def test_a_rebind_refusal_does_not_use_up_the_terminal_token(make_user, clock):
    owner = Person()
    make_user("grace")
    owner.sign_in("grace")
    old = pair(owner, Installer(), clock)

    make_user("ada")
    ada = Person()
    ada.sign_in("ada")
    installer = reinstaller(old["deviceToken"])
    installer.start()
    token = ada.terminal_token(installer).json()["token"]

    refused = installer.login_token(token)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "device_rebind_required"
    confirmed = installer.login_token(token, confirm_rebind=True)
    assert confirmed.status_code == 200, confirmed.json()
    assert confirmed.json()["rebind"] is True


def test_a_failed_reinstall_leaves_the_old_token_working(ada, person, clock):
    old = pair(person, Installer(), clock)

    reinstall = Installer()
    reinstall.start()
    assert person.approve(reinstall).status_code == 200
    clock.advance(seconds=10)
    new = reinstall.poll().json()
    assert "deviceToken" in new
    # The reinstall dies here, before complete, and its setup token runs out.
    clock.advance(hours=1)
    assert reinstall.complete(new["setupToken"]).json()["error"]["code"] == "setup_token_expired"

    assert reinstall.device_status(old["deviceToken"]).status_code == 200
    assert reinstall.device_status(new["deviceToken"]).status_code == 401


def test_a_completed_reinstall_replaces_the_token_of_the_same_owner(ada, person, clock):
    old = pair(person, Installer(), clock)
    new = pair(person, Installer(), clock)
    installer = Installer()
    assert installer.device_status(old["deviceToken"]).json()["error"]["code"] == "token_revoked"
    assert installer.device_status(new["deviceToken"]).status_code == 200
    assert Device.objects.count() == 1
    assert DeviceToken.objects.get(token_hash=tokens.digest(old["deviceToken"])).revoked_reason == (
        "reinstalled"
    )


def test_a_denied_flow_tells_the_installer(ada, person):
    installer = Installer()
    installer.start()
    body = {"flowId": installer.flow_id, "code": installer.code}
    denied = person.post("/api/desktop/setup/deny", body)
    assert denied.status_code == 200 and denied.json()["status"] == "denied"
    assert installer.poll().json() == {"status": "denied"}
    assert person.approve(installer).json()["error"]["code"] == "flow_denied"


def test_the_code_may_be_typed_with_its_dash_in_any_case(ada, person):
    installer = Installer()
    installer.start()
    assert person.approve(installer, code=installer.code.lower()).status_code == 200


def test_knowing_a_device_id_is_not_enough_to_take_the_computer(make_user, clock):
    grace = Person()
    make_user("grace")
    grace.sign_in("grace")
    kept = pair(grace, Installer(), clock)

    make_user("mallory")
    mallory = Person()
    mallory.sign_in("mallory")
    for presented in ({}, {"deviceToken": "cpd_" + "x" * 43}):
        impostor = Installer(profile={**PROFILE, **presented})
        impostor.start()
        refused = mallory.approve(impostor, confirmRebind=True)
        assert refused.status_code == 409
        assert refused.json()["error"]["code"] == "device_bound_elsewhere"
        assert "details" not in refused.json()["error"]
    assert Installer().device_status(kept["deviceToken"]).status_code == 200
    assert Device.objects.get().owner.username == "grace"


def test_a_rebound_device_keeps_nothing_of_the_old_binding(make_user, clock):
    grace = Person()
    make_user("grace")
    grace.sign_in("grace")
    old = pair(grace, Installer(), clock)
    Device.objects.update(capabilities={"x": 1}, control_state={"workMode": "plan"}, last_error="e")

    make_user("ada")
    ada = Person()
    ada.sign_in("ada")
    installer = reinstaller(old["deviceToken"])
    installer.start()
    ada.approve(installer, confirmRebind=True)
    clock.advance(seconds=10)
    installer.complete(installer.poll().json()["setupToken"])
    device = Device.objects.get()
    assert (device.capabilities, device.control_state, device.last_error) == ({}, {}, "")


def test_complete_records_what_the_agent_reports_but_keeps_the_approved_name(ada, person, clock):
    installer = Installer()
    installer.start()
    person.approve(installer)
    clock.advance(seconds=10)
    setup_token = installer.poll().json()["setupToken"]
    installer.complete(setup_token, deviceName="renamed", workspace="/srv/work", platform="darwin")
    device = Device.objects.get()
    assert device.name == PROFILE["deviceName"]
    assert (device.workspace, device.platform) == ("/srv/work", "darwin")


def test_an_approval_in_the_last_seconds_still_reaches_the_installer(ada, person, clock):
    installer = Installer()
    installer.start()
    clock.advance(seconds=598)
    assert person.approve(installer).status_code == 200
    clock.advance(seconds=5)
    assert "deviceToken" in installer.poll().json()
