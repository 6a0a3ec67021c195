"""The /desktop/setup page (SPEC SET-2, SET-4, SET-6): its forms, driven as a browser
submits them, CSRF included."""

from __future__ import annotations

import re

import pytest
from django.test import Client, override_settings

from accounts.models import User
from devices.models import Device
from setupflow.models import SetupFlow

from .conftest import PASSWORD
from .pairing import PROFILE, Installer, Person, pair, reinstaller

pytestmark = pytest.mark.django_db


class Page:
    """A browser on the setup page: reads the form's CSRF token like a real one."""

    def __init__(self, installer: Installer) -> None:
        self.client = Client(enforce_csrf_checks=True)
        self.url = installer.started["verificationUrl"].removeprefix("http://testserver")
        self.installer = installer
        self.last = None

    def open(self, **extra: str):
        self.last = self.client.get(self.url, **extra)
        return self.last

    def submit(self, action: str, **fields: str):
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', self.last.text).group(1)
        data = {
            "csrfmiddlewaretoken": token,
            "flowId": self.installer.flow_id,
            "code": self.installer.code.replace("-", ""),
            "action": action,
            **fields,
        }
        response = self.client.post("/desktop/setup", data)
        self.last = (
            self.client.get(response["Location"]) if response.status_code == 302 else response
        )
        return response


@pytest.fixture
def installer():
    installer = Installer()
    installer.start()
    return installer


def test_signing_in_and_approving_on_the_page_binds_the_computer(make_user, installer, clock):
    make_user("ada")
    page = Page(installer)
    opened = page.open()
    assert opened.status_code == 200
    assert opened["Cache-Control"].startswith("max-age=0")
    assert PROFILE["deviceName"] in opened.text and PROFILE["workspace"] in opened.text
    assert installer.code in opened.text
    assert "Approve" not in opened.text

    assert page.submit("signin", username="ada", password=PASSWORD).status_code == 302
    assert "Bind to ada" in page.last.text
    assert page.submit("approve").status_code == 302
    assert (
        "Binding succeeded. You can close this browser or return to the installer."
        in page.last.text
    )

    clock.advance(seconds=10)
    handoff = installer.poll().json()
    assert installer.complete(handoff["setupToken"]).status_code == 200
    assert Device.objects.get().owner.username == "ada"


def test_a_wrong_password_on_the_page_says_so_and_changes_nothing(make_user, installer):
    make_user("ada")
    page = Page(installer)
    page.open()
    refused = page.submit("signin", username="ada", password="wrong")
    assert refused.status_code == 401
    assert "Invalid username or password." in refused.text
    assert SetupFlow.objects.get().state == "pending"


@override_settings(CODEXPANEL_REGISTRATION_ENABLED=True)
def test_a_new_person_registers_inline_and_approves(installer):
    page = Page(installer)
    assert "Create account" in page.open().text
    page.submit("register", username="newcomer", password=PASSWORD, email="")
    assert "Bind to newcomer" in page.last.text
    page.submit("approve")
    assert SetupFlow.objects.get().approved_by.username == "newcomer"


@override_settings(CODEXPANEL_REGISTRATION_ENABLED=False)
def test_the_page_offers_no_registration_when_it_is_closed(installer):
    assert "Create account" not in Page(installer).open().text


def test_the_terminal_token_is_shown_once_on_the_page(make_user, installer):
    make_user("ada")
    page = Page(installer)
    page.open()
    page.submit("signin", username="ada", password=PASSWORD)
    shown = page.submit("terminal_token")
    assert shown.status_code == 200
    assert "no-store" in shown["Cache-Control"] or "max-age=0" in shown["Cache-Control"]
    token = re.search(r'data-testid="terminal-token">([^<]+)<', shown.text).group(1)
    assert token.startswith("cpt_")
    assert token not in page.open().text
    assert installer.login_token(token).status_code == 200


def test_the_page_asks_for_explicit_confirmation_before_a_rebind(make_user, clock):
    make_user("grace")
    owner = Person()
    owner.sign_in("grace")
    old = pair(owner, Installer(), clock)

    make_user("ada")
    installer = reinstaller(old["deviceToken"])
    installer.start()
    page = Page(installer)
    page.open()
    page.submit("signin", username="ada", password=PASSWORD)
    assert "bound to another account and will not be switched automatically" in page.last.text
    refused = page.submit("approve")
    assert refused.status_code == 409
    assert SetupFlow.objects.get(flow_id=installer.flow_id).state == "pending"
    page.submit("approve", confirmRebind="yes")
    assert SetupFlow.objects.get(flow_id=installer.flow_id).rebind_confirmed


def test_page_forms_without_a_csrf_token_are_refused(make_user, installer):
    make_user("ada")
    client = Client(enforce_csrf_checks=True)
    client.get(Page(installer).url)
    forged = client.post(
        "/desktop/setup",
        {
            "flowId": installer.flow_id,
            "code": installer.code,
            "action": "signin",
            "username": "ada",
            "password": PASSWORD,
        },
    )
    assert forged.status_code == 403
    assert "_auth_user_id" not in client.session


def test_a_wrong_code_in_the_link_is_counted_and_shown(installer):
    wrong = "BBBBBBBB" if installer.code != "BBBB-BBBB" else "CCCCCCCC"
    page = Client().get(f"/desktop/setup?flowId={installer.flow_id}&code={wrong}")
    assert page.status_code == 400
    assert "does not match" in page.text
    assert SetupFlow.objects.get().wrong_attempts == 1


def test_the_page_without_a_link_explains_where_to_get_one(client):
    page = client.get("/desktop/setup")
    assert page.status_code == 400
    assert "Open the link printed by the installer" in page.text


def test_the_page_speaks_chinese(installer):
    page = Client().get(Page(installer).url, HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")
    assert '<html lang="zh-hans">' in page.text
    assert "绑定这台电脑" in page.text
    assert "登录" in page.text


@override_settings(CODEXPANEL_REGISTRATION_ENABLED=True, CODEXPANEL_REGISTRATION_RATE="1/h")
def test_registering_on_the_page_shares_the_api_budget(installer):
    page = Page(installer)
    page.open()
    page.submit("register", username="first", password=PASSWORD)
    page.submit("signout")
    refused = page.submit("register", username="second", password=PASSWORD)
    assert refused.status_code == 429
    assert not User.objects.filter(username="second").exists()


def test_the_setup_page_keeps_its_link_from_other_sites_yet_lets_forms_send_their_origin(
    installer,
):
    # `no-referrer` would make Chromium post `Origin: null`, which CSRF refuses; `same-origin`
    # keeps the flow id and code out of other sites' Referer and still sends the real Origin.
    opened = Page(installer).open()
    assert opened["Referrer-Policy"] == "same-origin"
    assert 'name="referrer"' not in opened.text
