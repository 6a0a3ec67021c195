"""`python manage.py dev`: the development relay on the embedded default."""

from __future__ import annotations

import json
import os
import secrets
import socket
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.actions import bootstrap_first_admin
from agent.setup.servers import dev_relay_file
from codexpanel.errors import ActionError

DEV_PORTS = range(8000, 8011)
CREDENTIALS_FILE = settings.BASE_DIR / "var" / "dev-admin.json"


def free_port(host: str) -> int:
    for port in DEV_PORTS:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((host, port))
            except OSError:
                continue
            return port
    raise CommandError(f"Ports {DEV_PORTS.start}-{DEV_PORTS.stop - 1} are all taken; pass --port.")


def dev_admin_credentials() -> tuple[str, str, str]:
    """CODEXPANEL_ADMIN_* when set; otherwise 'admin' with a random password kept in
    var/dev-admin.json (readable by you only) so every run can print it again."""
    if settings.CODEXPANEL_ADMIN_USERNAME:
        return (
            settings.CODEXPANEL_ADMIN_USERNAME,
            settings.CODEXPANEL_ADMIN_USER_ID,
            settings.CODEXPANEL_ADMIN_PASSWORD,
        )
    if CREDENTIALS_FILE.exists():
        saved = json.loads(CREDENTIALS_FILE.read_text(encoding="utf-8"))
        return saved["username"], saved["userId"], saved["password"]
    CREDENTIALS_FILE.parent.mkdir(parents=True, exist_ok=True)
    saved = {"username": "admin", "userId": "admin", "password": secrets.token_urlsafe(12)}
    fd = os.open(CREDENTIALS_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(saved, handle)
    return saved["username"], saved["userId"], saved["password"]


class Command(BaseCommand):
    help = "Migrate, bootstrap the first admin, print where to go, and serve the relay."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="Address to listen on.")
        parser.add_argument("--port", type=int, help="Port (default: first free of 8000-8010).")
        parser.add_argument("--noreload", action="store_true", help="Do not reload on changes.")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("`dev` serves the development relay: run it with DEBUG=true.")
        host = options["host"]
        # The autoreloader re-runs this command in a child process: set up once, in the
        # parent, and hand the port down so both agree.
        if os.environ.get("RUN_MAIN") != "true":
            port = options["port"] or free_port(host)
            os.environ["CODEXPANEL_DEV_PORT"] = str(port)
            self._prepare(host, port)
        port = int(os.environ.get("CODEXPANEL_DEV_PORT") or options["port"] or 8000)
        from daphne.management.commands.runserver import Command as Runserver

        from codexpanel.serve import RelayServer

        # Daphne's development server, on the relay's own server class (codexpanel.serve).
        runserver = Runserver()
        runserver.server_cls = RelayServer
        call_command(runserver, f"{host}:{port}", use_reloader=not options["noreload"])

    def _prepare(self, host: str, port: int) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        username, user_id, password = dev_admin_credentials()
        try:
            result = bootstrap_first_admin(
                username=username, user_id=user_id, password=password, production=False
            )
        except ActionError as exc:
            raise CommandError(exc.message) from exc
        shown_password = (
            "(CODEXPANEL_ADMIN_PASSWORD)" if settings.CODEXPANEL_ADMIN_USERNAME else password
        )
        shown = "[::1]" if host == "::1" else ("127.0.0.1" if host in {"0.0.0.0", ""} else host)  # noqa: S104
        base = f"http://{shown}:{port}"
        lines = [
            "",
            f"codexpanel relay (development) on {base}/",
            f"  mobile console    {base}/console/",
            f"  admin console     {base}/admin/",
            f"  sign-in API       {base}/api/iam/auth/status",
            f"  OpenAPI schema    {base}/api/schema/",
            "  pair a computer   python -m agent install --server local",
            f"  admin sign-in     {username} / {shown_password}",
            f"  {result.message}",
            "",
        ]
        self.stdout.write("\n".join(lines))
        # `python -m agent install --server local` reads this to find the relay.
        record = dev_relay_file()
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(json.dumps({"url": base, "pid": os.getpid()}))
