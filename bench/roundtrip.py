"""Command round trip (SPEC §9, issue benchmarks 1 and 4): console API → relay → device →
result, sequentially, with 1, 100 and 1,000 devices connected, against the floor of a bare
WebSocket echo measured in the same run. With --relays 2 the browser talks to one process
and the devices to the other, so every command crosses Redis."""

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

    floor = summary_ms(echo_floor(args.commands))
    rows = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        deployment(args.database, Path(tmp), args.relays) as (
            relay,
            hosts,
        ),
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
            samples = timed(lambda: _check(browser.command("bench-device-00000")), args.commands)
            figures = summary_ms(samples)
            rows.append((count, figures, settle))
            print(
                f"roundtrip devices={count} p50={figures['p50']}ms p99={figures['p99']}ms "
                f"floor_p50={floor['p50']}ms ratio={figures['p50'] / floor['p50']:.1f}x",
                flush=True,
            )
        parts = _breakdown(browser, args.commands)
        for fleet in connected:
            fleet.close()

    title = "Command round trip" if args.relays == 1 else "Command round trip through two processes"
    lines = [
        f"{args.commands} sequential commands per row (POST, then GET ?wait until done) on "
        f"{'PostgreSQL + Redis' if args.database == 'postgres' else 'SQLite, in-memory layer'}"
        f"{', browser and devices on different Daphne processes' if args.relays == 2 else ''}; "
        f"bare WebSocket echo floor in the same run: p50 {floor['p50']} ms, p99 {floor['p99']} ms.",
        "",
        "| devices connected | p50 | p99 | mean | p50 / floor | time to connect them |",
        "|---:|---:|---:|---:|---:|---:|",
        *[
            f"| {count} | {f['p50']} ms | {f['p99']} ms | {f['mean']} ms | "
            f"{f['p50'] / floor['p50']:.1f}× | {settle:.1f} s |"
            for count, f, settle in rows
        ],
        "",
        f"Where one round trip's time goes ({max(counts)} devices connected, medians): "
        f"a signed-in `GET /api/iam/auth/status` (Daphne + Django + session, no command) "
        f"{parts['status']['p50']} ms; the `POST` that stores and sends the command "
        f"{parts['post']['p50']} ms; the `GET ?wait` from then until the device's result is "
        f"stored and announced {parts['wait']['p50']} ms.",
        "",
    ]
    command = run_command(["bench.roundtrip", *argv])
    record(title, command, lines)


def _breakdown(browser: Browser, count: int) -> dict[str, dict[str, float]]:
    base = "/api/devices/bench-device-00000/commands"
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
