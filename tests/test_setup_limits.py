"""Every limit and failure of the setup flow (SPEC SET-1, SET-3, SET-5, SET-6, SET-7, SET-8)."""

from __future__ import annotations

import pytest
from django.test import override_settings

from devices.models import Device
from setupflow.models import SetupFlow

from .pairing import PROFILE, Installer, Person, pair

pytestmark = pytest.mark.django_db


def error_of(response) -> str:
    return response.json()["error"]["code"]


@override_settings(CODEXPANEL_DESKTOP_SETUP_START_MAX_ATTEMPTS=3)
def test_starting_is_limited_per_address(clock):
    for _ in range(3):
        assert Installer().start().status_code == 201
    refused = Installer().start()
    assert refused.status_code == 429
    assert error_of(refused) == "rate_limited"
    assert int(refused["Retry-After"]) > 0
    assert SetupFlow.objects.count() == 3
    # Another address is not affected, and the limit lifts after its window.
    assert Installer(address="203.0.113.9").start().status_code == 201
    clock.advance(minutes=16)
    assert Installer().start().status_code == 201


@override_settings(
    CODEXPANEL_DESKTOP_SETUP_START_MAX_ATTEMPTS=1,
    CODEXPANEL_DESKTOP_SETUP_START_MAX_IP_BUCKETS=10,
)
def test_a_flood_of_addresses_keeps_the_start_limit_table_bounded():
    from setupflow.policies import setup_start_by_ip

    for n in range(40):
        Installer(address=f"10.0.{n}.1").start()
    assert setup_start_by_ip().tracked() <= 10


@override_settings(CODEXPANEL_DESKTOP_SETUP_MAX_PENDING=2)
def test_the_number_of_pending_flows_is_capped(clock):
    Installer(address="192.0.2.1").start()
    Installer(address="192.0.2.2").start()
    refused = Installer(address="192.0.2.3").start()
    assert refused.status_code == 503
    assert error_of(refused) == "setup_busy"
    assert refused["Retry-After"] == "60"
    # Expired flows no longer hold a place.
    clock.advance(minutes=11)
    assert Installer(address="192.0.2.3").start().status_code == 201


@pytest.mark.parametrize(
    "change",
    [
        {"deviceId": "short"},
        {"deviceId": "../../etc/passwd"},
        {"deviceName": ""},
        {"deviceName": "x" * 201},
        {"workspace": ["a", "list"]},
    ],
)
def test_a_bad_profile_is_refused_and_starts_nothing(change):
    installer = Installer(profile={**PROFILE, **change})
    refused = installer.start()
    assert refused.status_code == 400
    assert error_of(refused) == "invalid_request"
    assert SetupFlow.objects.count() == 0


def test_a_wrong_flow_secret_is_refused():
    installer = Installer()
    installer.start()
    refused = installer.poll(secret="cpf_" + "A" * 43)
    assert refused.status_code == 403
    assert error_of(refused) == "invalid_flow_secret"
    unknown = Installer().call(
        "/api/desktop/setup/poll", {"flowId": "sf_nope", "flowSecret": "cpf_x"}
    )
    assert unknown.status_code == 404 and error_of(unknown) == "flow_not_found"


def test_poll_needs_exactly_one_of_secret_and_code():
    installer = Installer()
    installer.start()
    both = installer.call(
        "/api/desktop/setup/poll",
        {"flowId": installer.flow_id, "flowSecret": "x", "code": installer.code},
    )
    assert both.status_code == 400 and error_of(both) == "invalid_request"
    neither = installer.call("/api/desktop/setup/poll", {"flowId": installer.flow_id})
    assert neither.status_code == 400


def test_an_expired_flow_can_no_longer_be_approved(person, clock):
    installer = Installer()
    installer.start()
    clock.advance(minutes=10, seconds=1)
    assert installer.poll().json() == {"status": "expired"}
    refused = person.approve(installer)
    assert refused.status_code == 410 and error_of(refused) == "flow_expired"
    assert person.look(installer).json()["status"] == "expired"


def test_an_approved_flow_not_collected_in_time_expires(person, clock):
    installer = Installer()
    installer.start()
    person.approve(installer)
    clock.advance(minutes=11)
    assert installer.poll().json() == {"status": "expired"}


def test_the_sixth_wrong_code_kills_the_flow(person):
    installer = Installer()
    installer.start()
    wrong = "BBBB-BBBB" if installer.code != "BBBB-BBBB" else "CCCC-CCCC"
    for remaining in (4, 3, 2, 1, 0):
        refused = person.approve(installer, code=wrong)
        assert refused.status_code == 400
        assert error_of(refused) == "invalid_code"
        assert refused.json()["error"]["details"] == {"remainingAttempts": remaining}
    killed = person.approve(installer, code=wrong)
    assert killed.status_code == 410 and error_of(killed) == "flow_denied"
    # Dead for good: the right code no longer works, and the installer is told.
    assert error_of(person.approve(installer)) == "flow_denied"
    assert installer.poll().json() == {"status": "denied"}
    flow = SetupFlow.objects.get(flow_id=installer.flow_id)
    assert flow.denied_reason == "code_attempts"


def test_wrong_codes_on_the_browser_poll_count_too(person):
    installer = Installer()
    installer.start()
    wrong = "BBBB-BBBB" if installer.code != "BBBB-BBBB" else "CCCC-CCCC"
    for _ in range(6):
        person.look(installer, code=wrong)
    assert error_of(person.look(installer)) == "flow_denied"


def test_polling_faster_than_the_interval_answers_slow_down(clock):
    installer = Installer()
    installer.start()
    assert installer.poll().json()["status"] == "pending"
    clock.advance(seconds=2)
    fast = installer.poll()
    assert fast.status_code == 429
    assert error_of(fast) == "slow_down"
    assert fast.json()["error"]["details"] == {"interval": 10}
    assert fast["Retry-After"] == "10"
    # The interval grew: five seconds is now too soon, ten is fine.
    clock.advance(seconds=5)
    assert error_of(installer.poll()) == "slow_down"
    clock.advance(seconds=15)
    assert installer.poll().json()["interval"] == 15


def test_approve_needs_a_session_and_a_csrf_token(ada):
    installer = Installer()
    installer.start()
    anonymous = Person()
    refused = anonymous.approve(installer)
    assert refused.status_code == 401 and error_of(refused) == "not_authenticated"

    person = Person()
    person.sign_in("ada")
    forged = person.client.post(
        "/api/desktop/setup/approve",
        {"flowId": installer.flow_id, "code": installer.code},
        content_type="application/json",
    )
    assert forged.status_code == 403 and error_of(forged) == "csrf_failed"
    assert SetupFlow.objects.get(flow_id=installer.flow_id).state == "pending"


def test_the_terminal_token_needs_a_session_csrf_and_the_right_code(ada):
    installer = Installer()
    installer.start()
    assert Person().terminal_token(installer).status_code == 401
    person = Person()
    person.sign_in("ada")
    forged = person.client.post(
        "/api/iam/desktop/setup/terminal-token",
        {"flowId": installer.flow_id, "code": installer.code},
        content_type="application/json",
    )
    assert forged.status_code == 403
    wrong = "BBBB-BBBB" if installer.code != "BBBB-BBBB" else "CCCC-CCCC"
    assert error_of(person.terminal_token(installer, code=wrong)) == "invalid_code"
    assert SetupFlow.objects.get(flow_id=installer.flow_id).terminal_token_hash == ""


def test_a_terminal_token_works_once(person):
    installer = Installer()
    installer.start()
    token = person.terminal_token(installer).json()["token"]
    assert installer.login_token(token).status_code == 200
    again = installer.login_token(token)
    assert again.status_code == 401 and error_of(again) == "invalid_terminal_token"


def test_a_terminal_token_expires_after_five_minutes(person, clock):
    installer = Installer()
    installer.start()
    token = person.terminal_token(installer).json()["token"]
    clock.advance(minutes=5, seconds=1)
    refused = installer.login_token(token)
    assert refused.status_code == 401 and error_of(refused) == "terminal_token_expired"
    assert SetupFlow.objects.get(flow_id=installer.flow_id).state == "pending"


def test_a_terminal_token_is_useless_on_another_flow(person):
    mine = Installer()
    mine.start()
    token = person.terminal_token(mine).json()["token"]
    other = Installer(profile={**PROFILE, "deviceId": "another-computer-0001"})
    other.start()
    refused = other.login_token(token)
    assert refused.status_code == 401 and error_of(refused) == "invalid_terminal_token"
    assert SetupFlow.objects.get(flow_id=other.flow_id).state == "pending"
    # And it still works where it belongs.
    assert mine.login_token(token).status_code == 200


def test_username_and_password_sent_to_login_token_are_refused(ada):
    installer = Installer()
    installer.start()
    refused = installer.call(
        "/api/iam/desktop/setup/login-token",
        {
            "flowId": installer.flow_id,
            "flowSecret": installer.started["flowSecret"],
            "username": "ada",
            "password": "whatever",
        },
    )
    assert refused.status_code == 410 and error_of(refused) == "retired"
    assert "--token-login" in refused.json()["error"]["message"]
    assert SetupFlow.objects.get(flow_id=installer.flow_id).state == "pending"


def test_a_setup_token_completes_once(person, clock):
    installer = Installer()
    installer.start()
    person.approve(installer)
    clock.advance(seconds=10)
    setup_token = installer.poll().json()["setupToken"]
    assert installer.complete(setup_token).status_code == 200
    again = installer.complete(setup_token)
    assert again.status_code == 401 and error_of(again) == "invalid_setup_token"
    assert error_of(installer.context(setup_token)) == "invalid_setup_token"
    assert error_of(installer.complete("cps_" + "x" * 43)) == "invalid_setup_token"


@override_settings(CODEXPANEL_FREE_DEVICE_QUOTA=1)
def test_approving_beyond_the_device_quota_is_refused(ada, person, clock):
    pair(person, Installer(), clock)
    second = Installer(profile={**PROFILE, "deviceId": "second-computer-0002"})
    second.start()
    refused = person.approve(second)
    assert refused.status_code == 403
    assert error_of(refused) == "device_quota_exceeded"
    assert refused.json()["error"]["details"] == {"quota": 1, "used": 1}
    assert "1" in refused.json()["error"]["message"]
    # Re-pairing the device already owned is not a new device.
    assert pair(person, Installer(), clock)["deviceToken"]


@override_settings(CODEXPANEL_FREE_DEVICE_QUOTA=1)
def test_the_quota_is_enforced_again_at_complete(ada, person, clock):
    first = Installer(profile={**PROFILE, "deviceId": "first-computer-0001"})
    second = Installer(profile={**PROFILE, "deviceId": "second-computer-0002"})
    first.start()
    second.start()
    # Both approved while the account had no device; only one may complete.
    person.approve(first)
    person.approve(second)
    clock.advance(seconds=10)
    first_tokens = first.poll().json()
    second_tokens = second.poll().json()
    assert first.complete(first_tokens["setupToken"]).status_code == 200
    refused = second.complete(second_tokens["setupToken"])
    assert refused.status_code == 403 and error_of(refused) == "device_quota_exceeded"
    assert Device.objects.filter(owner=ada).count() == 1


def test_a_disabled_device_cannot_be_paired_again(ada, person, clock):
    pair(person, Installer(), clock)
    Device.objects.update(enabled=False)
    installer = Installer()
    installer.start()
    refused = person.approve(installer)
    assert refused.status_code == 403 and error_of(refused) == "device_disabled"


def test_a_disabled_account_cannot_complete(ada, person, clock):
    installer = Installer()
    installer.start()
    person.approve(installer)
    clock.advance(seconds=10)
    setup_token = installer.poll().json()["setupToken"]
    ada.is_active = False
    ada.save()
    refused = installer.complete(setup_token)
    assert refused.status_code == 403 and error_of(refused) == "account_disabled"
    assert not Device.objects.exists()


def test_errors_speak_chinese_when_asked(ada):
    installer = Installer()
    installer.start()
    refused = installer.call(
        "/api/desktop/setup/poll",
        {"flowId": installer.flow_id, "flowSecret": "cpf_wrong"},
        HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9",
    )
    assert error_of(refused) == "invalid_flow_secret"
    assert refused.json()["error"]["message"] == "安装密钥不匹配。"


def test_wrong_codes_cannot_kill_a_flow_once_it_is_approved(person, clock):
    installer = Installer()
    installer.start()
    person.approve(installer)
    clock.advance(seconds=10)
    setup_token = installer.poll().json()["setupToken"]
    wrong = "BBBB-BBBB" if installer.code != "BBBB-BBBB" else "CCCC-CCCC"
    for _ in range(10):
        assert error_of(person.look(installer, code=wrong)) == "invalid_code"
    assert installer.complete(setup_token).status_code == 200


def test_a_denied_flow_gives_no_install_context(person, clock):
    installer = Installer()
    installer.start()
    person.approve(installer)
    clock.advance(seconds=10)
    setup_token = installer.poll().json()["setupToken"]
    SetupFlow.objects.update(state="denied")
    assert error_of(installer.context(setup_token)) == "invalid_setup_token"
