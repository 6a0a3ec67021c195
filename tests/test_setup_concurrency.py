"""Several relay processes may act on one flow at once: each step still happens once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from codexpanel.errors import ActionError
from devices.models import Device
from setupflow import installer as setup
from setupflow.actions import approve
from setupflow.lookup import flow_for_browser, flow_for_installer
from setupflow.models import SetupFlow

from .pairing import Installer

pytestmark = pytest.mark.django_db(transaction=True)

RACERS = 6


def race(work: Callable[[], Any], racers: int = RACERS) -> list[Any]:
    """Run work in threads released together; returns results and exceptions."""
    barrier = threading.Barrier(racers)
    results: list[Any] = []
    lock = threading.Lock()

    def run() -> None:
        barrier.wait()
        try:
            outcome = work()
        except Exception as exc:  # the race's losers are the point
            outcome = exc
        finally:
            connection.close()
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=run) for _ in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_racing_approvals_and_polls_hand_the_tokens_over_exactly_once(make_user):
    ada = make_user("ada")
    installer = Installer()
    installer.start()
    flow = SetupFlow.objects.get(flow_id=installer.flow_id)

    approvals = race(lambda: approve(SetupFlow.objects.get(pk=flow.pk), ada, False))
    assert sum(result is None for result in approvals) == 1, approvals
    losers = [getattr(result, "code", result) for result in approvals if result is not None]
    assert losers == ["flow_not_pending"] * (RACERS - 1)

    secret = installer.started["flowSecret"]
    handoffs = race(lambda: setup.hand_off(flow_for_installer(installer.flow_id, secret)))
    collected = [h for h in handoffs if isinstance(h, setup.Handoff)]
    assert len(collected) == 1
    assert all(h is None for h in handoffs if h is not collected[0])


def test_parallel_guesses_cannot_compare_more_codes_than_the_limit(make_user):
    installer = Installer()
    installer.start()
    wrong = "BBBBBBBB" if installer.code != "BBBB-BBBB" else "CCCCCCCC"

    def guess() -> str:
        try:
            flow_for_browser(installer.flow_id, wrong)
        except ActionError as error:
            return error.code
        return "accepted"

    answers = race(guess, racers=8)
    assert answers.count("invalid_code") <= 5
    assert set(answers) <= {"invalid_code", "flow_denied"}
    assert SetupFlow.objects.get().state == "denied"


def test_two_accounts_completing_the_same_new_computer_at_once_bind_it_once(make_user):
    people = [make_user("ada"), make_user("grace")]
    setup_tokens = []
    for number, person in enumerate(people):
        installer = Installer(address=f"192.0.2.{number + 1}")
        installer.start()
        flow = SetupFlow.objects.get(flow_id=installer.flow_id)
        approve(flow, person, False)
        setup_tokens.append(setup.hand_off(flow).setup_token)

    tokens_left = list(setup_tokens)
    lock = threading.Lock()

    def complete() -> Any:
        with lock:
            token = tokens_left.pop()
        return setup.complete_flow(token, {})

    outcomes = race(complete, racers=2)
    bound = [o for o in outcomes if isinstance(o, Device)]
    refused = [getattr(o, "code", repr(o)) for o in outcomes if not isinstance(o, Device)]
    assert len(bound) == 1
    assert refused == ["device_rebind_required"]
    assert Device.objects.get().tokens.count() == 1
