"""Command round trip (SPEC §9): console API → relay → device → result, sequentially, with
1, 100 and 1,000 devices connected, in one request (POST ?wait) and in two (POST, GET
?wait), against the framework floor of two signed-in requests that do nothing else,
measured in the same run. With --relays 2 the browser talks to one process and the
devices to the other, so every command crosses Redis."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from bench.harness import (
    Browser,
    Devices,
    deployment,
    echo_floor,
    make_devices,
    record,
    run_command,
    summary_ms,
    timed,
)

DEVICE = "bench-device-00000"


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--devices", default="1,100,1000", help="connected-device counts")
    parser.add_argument("--commands", type=int, default=300, help="timed commands per count")
    parser.add_argument("--relays", type=int, choices=[1, 2], default=1)
    args = parser.parse_args(argv)
    counts = [int(n) for n in args.devices.split(",")]
    if args.relays == 2 and args.database != "postgres":
        parser.error("two relay processes need PostgreSQL + Redis")

    echo = summary_ms(echo_floor(args.commands))
    rows = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        deployment(args.database, Path(tmp), args.relays) as (relay, hosts),
    ):
        tokens = make_devices(relay, max(counts))
        browser = Browser(hosts[0])
        connected: list[Devices] = []
        online = 0
        for count in counts:
            fleet = Devices(hosts[-1], tokens[online:count])
            started = time.perf_counter()
            fleet.start()
            connected.append(fleet)
            online = count
            settle = time.perf_counter() - started
            floor = summary_ms(timed(lambda: _two_requests(browser), args.commands))
            one = summary_ms(timed(lambda: _check(browser.command_in_one(DEVICE)), args.commands))
            two = summary_ms(timed(lambda: _check(browser.command(DEVICE)), args.commands))
            rows.append((count, floor, one, two, settle))
            print(
                f"roundtrip devices={count} one_request p50={one['p50']}ms p99={one['p99']}ms "
                f"two_requests p50={two['p50']}ms floor_p50={floor['p50']}ms "
                f"ratio={one['p50'] / floor['p50']:.2f}x",
                flush=True,
            )
        parts = _breakdown(browser, args.commands)
        for fleet in connected:
            fleet.close()

    title = "Command round trip" if args.relays == 1 else "Command round trip through two processes"
    lines = [
        f"{args.commands} sequential commands per row and form on "
        f"{'PostgreSQL + Redis' if args.database == 'postgres' else 'SQLite, in-memory layer'}"
        f"{', browser and devices on different Daphne processes' if args.relays == 2 else ''}. "
        "One request is `POST …/commands?wait=10`; two are the `POST` and then "
        "`GET …/commands/<id>?wait=10`. The framework floor, measured in the same run at the "
        "same number of devices, is two signed-in requests that do nothing else "
        f"(`GET /api/iam/auth/status` twice); a bare WebSocket echo is p50 {echo['p50']} ms.",
        "",
        "| devices connected | one request p50 | p99 | two requests p50 | p99 | floor p50 "
        "| one request / floor | time to connect them |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
        *[
            f"| {count} | {one['p50']} ms | {one['p99']} ms | {two['p50']} ms | {two['p99']} ms "
            f"| {floor['p50']} ms | {one['p50'] / floor['p50']:.2f}× | {settle:.1f} s |"
            for count, floor, one, two, settle in rows
        ],
        "",
        f"Where the two-request form's time goes ({max(counts)} devices connected, medians): "
        f"a signed-in `GET /api/iam/auth/status` (Daphne + Django + session, no command) "
        f"{parts['status']['p50']} ms; the `POST` that stores and sends the command "
        f"{parts['post']['p50']} ms; the `GET ?wait` from then until the device's result is "
        f"stored and announced {parts['wait']['p50']} ms.",
        "",
    ]
    command = run_command(["bench.roundtrip", *argv])
    record(title, command, lines)


def _two_requests(browser: Browser) -> None:
    browser.call("GET", "/api/iam/auth/status")
    browser.call("GET", "/api/iam/auth/status")


def _breakdown(browser: Browser, count: int) -> dict[str, dict[str, float]]:
    base = f"/api/devices/{DEVICE}/commands"
    status, post, wait = [], [], []
    for _ in range(count):
        started = time.perf_counter()
        browser.call("GET", "/api/iam/auth/status")
        issued_at = time.perf_counter()
        issued = browser.call("POST", base, {"name": "listSessions", "params": {}})
        waiting_at = time.perf_counter()
        _check(browser.call("GET", f"{base}/{issued['commandId']}?wait=10"))
        done_at = time.perf_counter()
        status.append(issued_at - started)
        post.append(waiting_at - issued_at)
        wait.append(done_at - waiting_at)
    return {"status": summary_ms(status), "post": summary_ms(post), "wait": summary_ms(wait)}


def _check(command: dict) -> None:
    if command["status"] != "done":
        raise RuntimeError(f"command did not finish: {command}")


if __name__ == "__main__":
    main(sys.argv[1:])
