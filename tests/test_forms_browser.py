"""Every server-rendered form, submitted by tapping in a phone's Chromium against a live
relay (SPEC §2 SET-2…SET-6, §8): the setup page's sign-in, register, approve, deny,
rebind confirmation and terminal token, the language switch on each page, and the admin's
sign-in. Each test checks the outcome where it lands: the installer's poll, the
login-token exchange, the account that owns the computer."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.utils import translation

from agent.relay_client import RelayClient

from .browser import csp_refusal, screenshot, watched_page
from .conftest import PASSWORD
from .live import Relay, sqlite_relay
from .pairing import PROFILE

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"), pytest.mark.own_deployment]

LANGUAGES = ["en", "zh-hans"]

OPERATOR = """
import django; django.setup()
from accounts.models import User
User.objects.create_superuser("root", %r)
"""

OWNER = """
import django; django.setup()
from devices.models import Device
print(Device.objects.get(device_id=%r).owner.username)
"""

BIND_TO_BOB = """
import django; django.setup()
from accounts.models import User
from devices.actions import bind_device, mint_device_token
bob = User.objects.create_user("bob-" + %(device)r, "unused-password-1")
minted = mint_device_token()
bind_device(owner=bob, device_id=%(device)r, name="bob's desk", platform="linux",
    agent_version="0.2.0", workspace="/w", token_hash=minted.digest,
    token_hint=minted.plaintext[:12], bound_by=bob, allow_rebind=True)
print(minted.plaintext)
"""


@pytest.fixture(scope="module")
def relay(tmp_path_factory: pytest.TempPathFactory, static_root: dict[str, str]) -> Iterator[Any]:
    tmp = tmp_path_factory.mktemp("forms")
    env = {
        **static_root,
        "CODEXPANEL_REGISTRATION_ENABLED": "true",
        "CODEXPANEL_DESKTOP_SETUP_POLL_INTERVAL_SECONDS": "1",
    }
    with sqlite_relay(tmp, env) as deployment:
        deployment.python(OPERATOR % PASSWORD)
        deployment.start()
        yield deployment


@pytest.fixture
def page(chromium: Any, relay: Relay) -> Iterator[Any]:
    with watched_page(chromium, relay.hosts[0]) as opened:
        yield opened


def words(language: str, text: str) -> str:
    """The page's text for `text` in `language`, from the relay's own catalog."""
    with translation.override(language):
        return translation.gettext(text)


class Installer:
    """`python -m agent install`'s side of the flow, through the agent's own HTTP client."""

    def __init__(self, relay: Relay, device_id: str, device_token: str = "") -> None:
        self.client = RelayClient(f"http://{relay.hosts[0]}")
        self.device_id = device_id
        self.started = self.client.post(
            "/api/desktop/setup/start",
            {**PROFILE, "deviceId": device_id, "deviceToken": device_token},
        )

    @property
    def secrets(self) -> dict[str, str]:
        return {"flowId": self.started["flowId"], "flowSecret": self.started["flowSecret"]}

    @property
    def path(self) -> str:
        url = self.started["verificationUrl"]
        return url[url.index("/desktop/setup") :]

    def poll(self) -> dict[str, Any]:
        # The installer waits its interval between polls, as the relay requires.
        time.sleep(self.started["interval"])
        return self.client.post("/api/desktop/setup/poll", self.secrets)

    def complete(self, handoff: dict[str, Any]) -> None:
        """Finish as the installer does, then prove the handed-off token is the device's."""
        self.client.post("/api/desktop/setup/complete", {"setupToken": handoff["setupToken"]})
        device = self.client.get("/api/agent/device", token=handoff["deviceToken"])
        assert device["deviceId"] == self.device_id, device

    def login_token(self, token: str) -> dict[str, Any]:
        return self.client.post(
            "/api/iam/desktop/setup/login-token", {**self.secrets, "token": token}
        )


def person(relay: Relay, username: str) -> str:
    """A new account: each test binds its own computer, within the one-device quota."""
    relay.python(
        "import django; django.setup()\n"
        "from accounts.models import User\n"
        f"User.objects.create_user({username!r}, {PASSWORD!r})"
    )
    return username


def owner(relay: Relay, device_id: str) -> str:
    return relay.python(OWNER % device_id).strip()


def open_setup(page: Any, installer: Installer, language: str) -> None:
    page.goto(installer.path)
    page.get_by_test_id("code").wait_for()
    if language != "en":
        switch_language(page, language)
    assert page.locator("html").get_attribute("lang") == language


def switch_language(page: Any, language: str, scope: Any = None) -> None:
    """Choose the language in the page's own form and tap Switch, as a person does."""
    form = (scope or page).locator("form.language")
    form.locator("select").select_option(language)
    current = page.locator("html").get_attribute("lang") or "en"
    form.get_by_role("button", name=words(current, "Switch")).tap()
    # A function, not an expression: the page's CSP forbids eval, which expressions need.
    page.wait_for_function("lang => document.documentElement.lang === lang", arg=language)


def sign_in_on_setup(page: Any, language: str, username: str) -> None:
    form = page.locator("form", has=page.locator('input[value="signin"]'))
    form.get_by_label(words(language, "Username")).fill(username)
    form.get_by_label(words(language, "Password")).fill(PASSWORD)
    form.get_by_role("button", name=words(language, "Sign in")).tap()
    page.get_by_role("button", name=words(language, "Approve"), exact=True).wait_for()


def signed_in_on_setup(page: Any, relay: Relay, kind: str, language: str) -> tuple[Installer, str]:
    """A fresh account signed in on the setup page of a new computer's flow."""
    ada = person(relay, f"ada-{kind}-{language}")
    installer = Installer(relay, f"{kind}-{language}-".ljust(24, "0"))
    open_setup(page, installer, language)
    sign_in_on_setup(page, language, ada)
    return installer, ada


@pytest.mark.parametrize("language", LANGUAGES)
def test_signing_in_and_approving_on_the_setup_page_hands_the_installer_its_token(
    page, relay, language
):
    installer, ada = signed_in_on_setup(page, relay, "approve", language)
    assert installer.poll()["status"] == "pending"
    page.get_by_role("button", name=words(language, "Approve"), exact=True).tap()
    success = "Binding succeeded. You can close this browser or return to the installer."
    page.get_by_text(words(language, success)).wait_for()
    screenshot(page, f"setup-approved-{language}")

    handoff = installer.poll()
    assert handoff["status"] == "approved" and handoff["deviceToken"], handoff
    installer.complete(handoff)
    assert owner(relay, installer.device_id) == ada


@pytest.mark.parametrize("language", LANGUAGES)
def test_registering_on_the_setup_page_then_denying_tells_the_installer(page, relay, language):
    installer = Installer(relay, f"deny-{language}-00000000000")
    open_setup(page, installer, language)
    form = page.locator("form", has=page.locator('input[value="register"]'))
    form.get_by_label(words(language, "Username")).fill(f"newcomer-{language}")
    form.get_by_label(words(language, "Password")).fill(PASSWORD)
    form.get_by_role("button", name=words(language, "Create account")).tap()
    page.get_by_role("button", name=words(language, "This is not my computer")).tap()
    page.get_by_text(
        words(language, "This setup was cancelled. Run the installer again.")
    ).wait_for()

    assert installer.poll()["status"] == "denied"


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_terminal_token_shown_on_the_setup_page_pairs_through_login_token(
    page, relay, language
):
    installer, ada = signed_in_on_setup(page, relay, "terminal", language)
    page.get_by_role("button", name=words(language, "Generate one-time terminal token")).tap()
    token = page.get_by_test_id("terminal-token").inner_text().strip()
    screenshot(page, f"setup-terminal-token-{language}")

    handoff = installer.login_token(token)
    installer.complete(handoff)
    assert owner(relay, installer.device_id) == ada


@pytest.mark.parametrize("language", LANGUAGES)
def test_moving_a_computer_from_another_account_needs_the_ticked_confirmation(
    page, relay, language
):
    device_id = f"rebind-{language}-00000000000"
    # The installer runs again on bob's computer: its install's token proves the binding.
    existing = relay.python(BIND_TO_BOB % {"device": device_id}).strip()
    ada = person(relay, f"ada-rebind-{language}")
    installer = Installer(relay, device_id, device_token=existing)
    open_setup(page, installer, language)
    sign_in_on_setup(page, language, ada)
    page.get_by_test_id("rebind-warning").wait_for()
    approve = page.get_by_role("button", name=words(language, "Approve"), exact=True)
    approve.tap()
    # The box is required: the browser keeps the form until it is ticked.
    assert page.get_by_test_id("rebind-warning").is_visible()
    assert owner(relay, device_id).startswith("bob-")

    page.get_by_role("checkbox").tap()
    approve.tap()
    success = "Binding succeeded. You can close this browser or return to the installer."
    page.get_by_text(words(language, success)).wait_for()
    installer.complete(installer.poll())
    assert owner(relay, device_id) == ada


def test_the_language_switch_works_on_the_site_pages_and_in_the_console_menu(page, relay):
    page.goto("/project.html")
    switch_language(page, "zh-hans")
    page.get_by_role("link", name=words("zh-hans", "Console")).first.wait_for()
    switch_language(page, "en")

    page.goto("/console/")
    page.get_by_role("heading", name="Sign in").wait_for()
    menu = page.locator("details.menu")
    menu.locator("summary").tap()
    switch_language(page, "zh-hans", scope=menu)
    assert page.url.endswith("/console/")
    page.get_by_role("heading", name=words("zh-hans", "Sign in")).wait_for()
    screenshot(page, "console-signin-zh-hans")

    page.locator("details.menu summary").tap()
    switch_language(page, "en", scope=page.locator("details.menu"))
    page.get_by_role("heading", name="Sign in").wait_for()


@pytest.mark.parametrize("language", LANGUAGES)
def test_an_operator_signs_in_to_the_admin(page, relay, language):
    page.set_extra_http_headers({"Accept-Language": language})
    page.goto("/admin/login/")
    assert page.locator("html").get_attribute("lang") == language
    page.locator("#id_username").fill("root")
    page.locator("#id_password").fill(PASSWORD)
    page.locator('input[type="submit"]').tap()
    page.locator("#site-name").wait_for()
    assert page.url.rstrip("/").endswith("/admin")
    assert page.locator("#user-tools").get_by_text("root").count() == 1
    screenshot(page, f"admin-signed-in-{language}")


ADMIN_PAGES = [
    "/admin/",
    "/admin/accounts/user/",
    "/admin/accounts/user/add/",
    "/admin/wallet/wallet/",
    "/admin/wallet/ledgerentry/",
    "/admin/wallet/wallet/find/?q=root",
    "/admin/wallet/entitlement/?status=active",
    "/admin/accounts/auditrecord/",
    "/admin/accounts/signinfailure/",
    "/admin/devices/event/?waiting=approvals",
    "/admin/devices/device/",
    "/admin/auth/group/add/",
]


def test_the_admin_and_the_setup_page_run_under_the_csp_without_a_violation(page, relay):
    # watched_page fails the test on any refusal Chromium reports for these pages.
    page.goto("/desktop/setup")
    page.locator("h1").wait_for()
    page.goto("/admin/login/")
    page.locator("#id_username").fill("root")
    page.locator("#id_password").fill(PASSWORD)
    page.locator('input[type="submit"]').tap()
    page.locator("#site-name").wait_for()
    for path in ADMIN_PAGES:
        response = page.goto(path)
        assert response.status == 200, path
        assert "script-src 'self'" in response.headers["content-security-policy"]
        page.locator("#content").wait_for()


def test_the_csp_stops_a_script_that_slipped_into_a_page(chromium, relay):
    context = chromium.new_context(base_url=f"http://{relay.hosts[0]}")
    try:
        page = context.new_page()
        refused: list[str] = []
        page.on("console", lambda message: csp_refusal(message, refused))
        page.goto("/desktop/setup")
        slipped = '<img src="/static/none.png" onerror="window.ran = 1">'
        page.evaluate("html => document.body.insertAdjacentHTML('beforeend', html)", slipped)
        page.wait_for_timeout(300)
        assert page.evaluate("() => window.ran") is None
        assert any("script-src" in text for text in refused), refused
    finally:
        context.close()
