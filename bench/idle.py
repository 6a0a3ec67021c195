"""Idle connections (issue benchmark 3): how much memory one Daphne process spends per
connected device, and how much CPU it burns while they only send heartbeats at the
default interval."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from bench.harness import (
    Browser,
    Devices,
    cpu_seconds,
    deployment,
    make_devices,
    percentile,
    record,
    rss_kib,
    run_command,
)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--devices", type=int, default=5000)
    parser.add_argument("--window", type=float, default=45.0, help="seconds of idle measured")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp, deployment("postgres", Path(tmp)) as (relay, hosts):
        tokens = make_devices(relay, args.devices)
        pid = relay.processes[0].pid
        Browser(hosts[0]).call("GET", "/api/devices")  # warm: code loaded, pool open
        before = rss_kib(pid)
        fleet = Devices(hosts[0], tokens)
        started = time.perf_counter()
        gave_up = ""
        try:
            fleet.start()
        except RuntimeError as error:
            # The honest figure when the process cannot take them all: how many it held.
            gave_up = str(error)
        connect_seconds = time.perf_counter() - started
        time.sleep(5)
        after = rss_kib(pid)
        cpu_start, wall_start = cpu_seconds(pid), time.perf_counter()
        time.sleep(args.window)
        idle_cpu = (cpu_seconds(pid) - cpu_start) / (time.perf_counter() - wall_start)
        online = len([socket for socket in fleet.sockets if socket.state.name == "OPEN"])
        fleet.close()

    held = len(fleet.sockets)
    hellos = fleet.hello_seconds or [float("nan")]
    per_connection = (after - before) / max(1, held)
    print(
        f"idle devices={args.devices} held={held} open={online} "
        f"rss_per_connection={per_connection:.1f}KiB "
        f"idle_cpu={idle_cpu * 100:.1f}% connect={connect_seconds:.1f}s retries={fleet.retries} "
        f"hello_p99={percentile(hellos, 0.99):.2f}s hello_max={max(hellos):.2f}s",
        flush=True,
    )
    record(
        f"Idle connections, {args.devices} devices",
        run_command(["bench.idle", *argv]),
        [
            f"{args.devices} simulated devices asked to connect to one Daphne process on "
            f"PostgreSQL + Redis, heartbeats every 15 s (the default); {held} connected"
            f"{f' before one gave up ({gave_up})' if gave_up else ''}, "
            f"{online} still open at the end of the idle window.",
            "",
            "| measure | value | target |",
            "|---|---:|---:|",
            f"| RSS before the devices | {before / 1024:.1f} MiB | |",
            f"| RSS with them connected | {after / 1024:.1f} MiB | |",
            f"| RSS per connection | {per_connection:.1f} KiB | ≤ 64 KiB |",
            f"| CPU while idle ({args.window:.0f} s window, one core = 100 %) | "
            f"{idle_cpu * 100:.1f} % | ≤ 5 % |",
            f"| time to connect them all (50 at a time) | {connect_seconds:.1f} s | |",
            f"| hello to welcome, each device (connection included): p50 / p99 / slowest | "
            f"{percentile(hellos, 0.5):.2f} / {percentile(hellos, 0.99):.2f} / "
            f"{max(hellos):.2f} s | ≤ 2 s |",
            f"| connection attempts that failed and were retried | {fleet.retries} | |",
            "",
        ],
    )


if __name__ == "__main__":
    main(sys.argv[1:])
