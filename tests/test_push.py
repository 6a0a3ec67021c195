"""Web Push (SPEC CON-6): subscribing a browser, what is pushed and to whom, answering an
approval from its notification, and sending that never holds up recording. The push
service is a strict fake on loopback that checks VAPID and decrypts every payload."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from accounts.models import User
from codexpanel import clock
from devices.models import Command, Device, PushAction, PushSubscription
from devices.realtime.presence import disconnect

from .fakes.push_service import PushService, b64decode
from .pairing import Person, csrf_token
from .realtime import make_device
from .test_attention import Agent

pytestmark = pytest.mark.django_db(transaction=True)

COMMAND_ASK = "item/commandExecution/requestApproval"


@pytest.fixture
def service(settings: Any) -> Iterator[PushService]:
    settings.CODEXPANEL_PUSH_ALLOW_HTTP = True
    fake = PushService()
    yield fake
    fake.close()


def subscribe(person: Person, browser: Any, kinds: list[str] | None = None) -> Any:
    body: dict[str, Any] = {"subscription": browser.subscription()}
    if kinds is not None:
        body["kinds"] = kinds
    return person.post("/api/push/subscription", body)


@pytest.fixture
def desk(ada: User) -> tuple[Device, Agent]:
    device, _token = make_device(ada)
    Device.objects.filter(pk=device.pk).update(online=True, last_heartbeat_at=clock.now())
    return Device.objects.get(pk=device.pk), Agent(Device.objects.get(pk=device.pk))


def ask(agent: Agent, request_id: str = "inst:1:0", command: str = "make deploy") -> None:
    agent.say("thr_1", "ship the release")
    params = {"threadId": "thr_1", "turnId": "turn_1", "itemId": "call-1", "command": command}
    agent.report(COMMAND_ASK, {"requestId": request_id, "params": params}, "thr_1", "turn_1")


def answer(token: str) -> Any:
    from django.test import Client

    return Client(enforce_csrf_checks=True).post(
        "/api/push/answer", {"token": token}, content_type="application/json"
    )


def test_the_relay_keeps_one_vapid_key_and_gives_its_public_half(person):
    first = person.client.get("/api/push/config").json()
    again = person.client.get("/api/push/config").json()
    assert first == again
    assert len(b64decode(first["publicKey"])) == 65  # an uncompressed P-256 point
    assert first["kinds"] == ["waiting", "turnEnded", "offline"]


def test_a_waiting_approval_is_pushed_to_each_subscribed_browser_signed_and_encrypted(
    person, desk, service
):
    phone, tablet = service.browser("phone"), service.browser("tablet")
    assert subscribe(person, phone).status_code == 201
    assert subscribe(person, tablet).status_code == 201
    _device, agent = desk
    ask(agent)
    pushed = service.wait_for(2)
    assert {push["browser"] for push in pushed} == {"phone", "tablet"}
    notice = pushed[0]["notice"]
    assert notice["title"] == "Codex is waiting for you on ada's desk"
    assert notice["body"] == "ship the release — wants to run: make deploy"
    assert notice["url"] == "/console/#/d/desk-0001-abcdef/s/thr_1"
    assert [action["action"] for action in notice["actions"]] == ["approve", "decline"]
    # Signed with the key the browsers subscribed with.
    assert pushed[0]["key"] == person.client.get("/api/push/config").json()["publicKey"]


def test_approve_from_the_notification_answers_that_request_once(person, desk, service, ada):
    subscribe(person, service.browser("phone"))
    device, agent = desk
    ask(agent)
    actions = {a["action"]: a["token"] for a in service.wait_for(1)[0]["notice"]["actions"]}
    stored = list(PushAction.objects.values_list("token_hash", flat=True))
    assert len(stored) == 2 and actions["approve"] not in stored  # kept hashed only

    taken = answer(actions["approve"])
    assert taken.status_code == 202
    sent = Command.objects.get(name="resolveApproval")
    assert sent.params == {"requestId": "inst:1:0", "decision": "accept"}
    assert sent.issued_by == ada and sent.device == device

    again = answer(actions["approve"])
    assert again.status_code == 403 and again.json()["error"]["code"] == "invalid_action"
    other = answer(actions["decline"])
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "approval_already_answered"
    assert Command.objects.count() == 1


def test_a_made_up_or_expired_token_answers_nothing(person, desk, service, clock):
    subscribe(person, service.browser("phone"))
    _device, agent = desk
    ask(agent)
    token = service.wait_for(1)[0]["notice"]["actions"][0]["token"]
    assert answer("cpa_" + "x" * 32).status_code == 403
    assert answer({"not": "a token"}).status_code == 400
    clock.advance(days=2)
    assert answer(token).status_code == 403
    assert not Command.objects.exists()


def test_an_answer_from_a_notification_for_a_request_that_died_is_refused(person, desk, service):
    subscribe(person, service.browser("phone"))
    _device, agent = desk
    ask(agent)
    token = service.wait_for(1)[0]["notice"]["actions"][0]["token"]
    agent.report("agent.codex.started", {"generation": 2})
    refused = answer(token)
    assert refused.status_code == 404
    assert refused.json()["error"]["code"] == "approval_not_found"
    assert not Command.objects.exists()


def test_a_browser_told_only_some_kinds_gets_only_those(person, desk, service):
    subscribe(person, service.browser("quiet"), kinds=["turnEnded"])
    _device, agent = desk
    ask(agent)
    agent.report("turn/completed", {"turn": {"id": "turn_1", "status": "failed"}}, "thr_1")
    pushed = service.wait_for(1)
    assert pushed[0]["notice"]["kind"] == "turnEnded"
    assert pushed[0]["notice"]["title"] == "A turn failed on ada's desk"
    PushSubscription.objects.update(kinds=["turnEnded", "waiting"])
    agent.report("turn/completed", {"turn": {"id": "turn_2", "status": "interrupted"}}, "thr_1")
    ask(agent, "inst:1:5")
    assert [p["notice"]["kind"] for p in service.wait_for(2)] == ["turnEnded", "waiting"]


def test_a_computer_going_offline_during_a_turn_is_pushed_and_an_idle_one_is_not(
    person, desk, service
):
    subscribe(person, service.browser("phone"))
    device, agent = desk
    agent.say("thr_1", "long job")
    agent.report("turn/started", {"turn": {"id": "turn_1"}}, "thr_1", "turn_1")
    Device.objects.filter(pk=device.pk).update(connection="chan-1", online=True)
    disconnect(device.pk, "chan-1", "heartbeat_timeout")
    pushed = service.wait_for(1)
    assert pushed[0]["notice"]["title"] == "ada's desk went offline during a turn"
    Device.objects.filter(pk=device.pk).update(connection="chan-2", online=True)
    disconnect(device.pk, "chan-2", "disconnected")  # no turn runs now
    ask(agent, "inst:1:9")
    assert [p["notice"]["kind"] for p in service.wait_for(2)] == ["offline", "waiting"]


def test_another_persons_events_never_reach_my_browser(person, service, make_user):
    subscribe(person, service.browser("mine"))
    bob = make_user("bob")
    bobs, _token = make_device(bob, "bobs-desk-0001")
    bob_person = Person()
    bob_person.sign_in("bob")
    subscribe(bob_person, service.browser("bobs"))
    ask(Agent(bobs))
    pushed = service.wait_for(1)
    assert [push["browser"] for push in pushed] == ["bobs"]


def test_a_subscription_the_push_service_calls_gone_is_forgotten(person, desk, service):
    subscribe(person, service.browser("old"))
    service.gone.add("old")
    _device, agent = desk
    ask(agent)
    from devices.push_sender import _queue

    _queue.join()
    assert not PushSubscription.objects.exists()


def test_a_slow_push_service_holds_up_no_event(person, desk, service):
    subscribe(person, service.browser("phone"))
    _device, agent = desk
    service.held.clear()  # the push service stops answering
    done = threading.Event()

    def record() -> None:
        ask(agent)
        done.set()

    threading.Thread(target=record).start()
    assert done.wait(10), "recording waited on the push service"
    from devices.models import Event

    assert Event.objects.filter(event_type=COMMAND_ASK).count() == 1
    assert service.received == []
    service.held.set()
    assert len(service.wait_for(1)) == 1


def test_signing_out_turns_this_browsers_notifications_off(person, service):
    subscribe(person, service.browser("phone"))
    other = Person()
    other.sign_in("ada")
    subscribe(other, service.browser("laptop"))
    person.post("/api/iam/auth/logout", {})
    assert list(PushSubscription.objects.values_list("endpoint", flat=True)) == [
        service.browsers["laptop"].endpoint
    ]


def test_a_disabled_account_is_told_nothing_more(person, service, ada):
    subscribe(person, service.browser("phone"))
    ada.is_active = False
    ada.save()
    assert not PushSubscription.objects.exists()


@pytest.mark.parametrize(
    "change, code",
    [
        (lambda s: s.update(endpoint="ftp://push.example/x"), "invalid_subscription"),
        (lambda s: s["keys"].update(p256dh="AAAA"), "invalid_subscription"),
        (lambda s: s["keys"].update(auth=""), "invalid_subscription"),
    ],
)
def test_a_broken_subscription_is_refused(person, service, change, code):
    subscription = service.browser("phone").subscription()
    change(subscription)
    refused = person.post("/api/push/subscription", {"subscription": subscription})
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == code
    assert not PushSubscription.objects.exists()


def test_kinds_are_changed_and_read_per_browser_and_nobody_elses(person, service, make_user):
    phone = service.browser("phone")
    subscribe(person, phone)
    changed = person.client.patch(
        "/api/push/subscription",
        {"endpoint": phone.endpoint, "kinds": ["waiting"]},
        content_type="application/json",
        HTTP_X_CSRFTOKEN=csrf_token(person.client),
    )
    assert changed.json()["kinds"] == ["waiting"]
    read = person.client.get("/api/push/subscription", {"endpoint": phone.endpoint})
    assert read.json() == {"endpoint": phone.endpoint, "kinds": ["waiting"]}
    make_user("bob")
    bob = Person()
    bob.sign_in("bob")
    assert bob.client.get("/api/push/subscription", {"endpoint": phone.endpoint}).status_code == 404
    gone = bob.client.delete(
        "/api/push/subscription",
        {"endpoint": phone.endpoint},
        content_type="application/json",
        HTTP_X_CSRFTOKEN=csrf_token(bob.client),
    )
    assert gone.status_code == 404
    assert PushSubscription.objects.count() == 1


def test_a_notification_cannot_answer_for_a_computer_its_person_no_longer_operates(
    person, desk, service
):
    subscribe(person, service.browser("phone"))
    device, agent = desk
    ask(agent)
    token = service.wait_for(1)[0]["notice"]["actions"][0]["token"]
    Device.objects.filter(pk=device.pk).update(enabled=False)
    refused = answer(token)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "invalid_action"
    assert not Command.objects.exists()
    # Refused, the token was not spent: with the computer back, it answers.
    Device.objects.filter(pk=device.pk).update(enabled=True)
    assert answer(token).status_code == 202


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://127.0.0.1/push/x",
        "https://10.1.2.3/push/x",
        "https://[::1]/push/x",
        "https://localhost/push/x",
        "https://metadata.internal/push/x",
        "https://push.example.com:8443/push/x",
        "http://push.example.com/push/x",
    ],
)
def test_an_endpoint_on_the_relays_own_network_is_refused(person, endpoint):
    from types import SimpleNamespace

    from .fakes.push_service import Browser as PushBrowser

    keys = PushBrowser(SimpleNamespace(base_url="https://push.example"), "a")
    subscription = {**keys.subscription(), "endpoint": endpoint}
    refused = person.post("/api/push/subscription", {"subscription": subscription})
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "invalid_subscription"
    accepted = {**subscription, "endpoint": "https://fcm.googleapis.com/fcm/send/abc"}
    assert person.post("/api/push/subscription", {"subscription": accepted}).status_code == 201
