"""A real turn's overhead (SPEC §9, issue benchmark 5): the same turns on the real
`codex app-server` against the local fake model, driven directly over stdio, then from a
browser through the relay (PostgreSQL + Redis) and the agent. A turn is timed from the
request leaving the caller to `turn/completed` reaching it: for the browser, the `POST` of
startTurn (`POST …/commands?wait=2`, as the console sends it) to the event arriving on
its `/events` stream."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from agent.runtime import control
from agent.runtime.appserver import AppServer
from bench.harness import Browser, deployment, record, run_command, summary_ms
from tests.codex_world import codex_path, wait_online
from tests.fakes.responses_server import write_codex_home
from tests.live import ROOT, EventSource
from tests.live import Browser as PlainBrowser

# The model and the agent each run in a process of their own, as they do for a user (the
# model is a remote service, the agent its own program): in this one they would share
# its interpreter with the browser's threads and slow each other down.
FAKE_MODEL = """
from tests.fakes.responses_server import FakeResponses
server = FakeResponses()
print(server.base_url, flush=True)
server.serve_forever()
"""
AGENT = """
import json, signal, sys
from pathlib import Path
from tests.codex_world import agent_runtime
host, token, workspace, state, home = json.loads(sys.argv[1])
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})  # for sigwait, in every thread
runtime = agent_runtime(host, token, Path(workspace), Path(state), Path(home))
runtime.start()
print("started", flush=True)
signal.sigwait({signal.SIGTERM})
runtime.stop()
"""


@contextmanager
def process(code: str, *args: str) -> Iterator[subprocess.Popen[str]]:
    # Only this module's own code runs, with this interpreter.
    child = subprocess.Popen(  # noqa: S603
        [sys.executable, "-c", code, *args], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        yield child
    finally:
        child.terminate()
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()


DIRECT_TIMEOUT = 60
ADDED_P50_TARGET_MS = 20.0  # what relay + agent may add to a turn at p50


def first_line(child: subprocess.Popen[str]) -> str:
    return child.stdout.readline().strip() if child.stdout else ""


def direct(home: Path, workspace: Path, turns: int, warmup: int) -> list[float]:
    completed = threading.Event()

    def notified(method: str, params: dict[str, Any]) -> None:
        if method == "turn/completed":
            completed.set()

    server = AppServer(
        codex_path(),
        cwd=workspace,
        env={"CODEX_HOME": str(home)},
        extra_args=["--strict-config"],
        on_notification=notified,
    )
    server.start()
    try:
        state = dict(control.DEFAULT)
        thread = server.request(
            "thread/start", {"cwd": str(workspace), **control.thread_params(state)}
        )
        thread_id = thread["thread"]["id"]
        samples = []
        for number in range(warmup + turns):
            completed.clear()
            started = time.perf_counter()
            server.request(
                "turn/start",
                {
                    "threadId": thread_id,
                    "input": [{"type": "text", "text": "say hi"}],
                    **control.turn_params(state, str(workspace), None),
                },
            )
            if not completed.wait(DIRECT_TIMEOUT):
                raise RuntimeError("the turn did not complete")
            if number >= warmup:
                samples.append(time.perf_counter() - started)
        return samples
    finally:
        server.stop()


def relayed(home: Path, workspace: Path, turns: int, warmup: int) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp, deployment("postgres", Path(tmp)) as (relay, hosts):
        paired = relay.paired_device()
        host, device = hosts[0], paired["deviceId"]
        where = [host, paired["token"], str(workspace), tmp, str(home)]
        with process(AGENT, json.dumps(where)) as agent:
            if first_line(agent) != "started":
                raise RuntimeError("the agent did not start")
            browser = Browser(host)
            wait_online(PlainBrowser(host), device)
            stream = EventSource(host, browser.cookies["codexpanel_session"], None)
            base = f"/api/devices/{device}/commands"
            started = browser.call("POST", base, {"name": "startThread", "params": {}})
            thread = browser.call("GET", f"{base}/{started['commandId']}?wait=30")
            thread_id = thread["result"]["thread"]["id"]
            samples = []
            for number in range(warmup + turns):
                begun = time.perf_counter()
                # As the console's composer sends it: the POST waits briefly for the
                # result, while the turn's events arrive on the stream meanwhile.
                browser.call(
                    "POST",
                    f"{base}?wait=2",
                    {"name": "startTurn", "params": {"threadId": thread_id, "input": "say hi"}},
                )
                stream.until(lambda event: event["eventType"] == "turn/completed")
                if number >= warmup:
                    samples.append(time.perf_counter() - begun)
            stream.close()
            return samples


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=40, help="timed turns per path")
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args(argv)
    codex_path()  # fails at once, with the install command, when the CLI is missing
    with process(FAKE_MODEL) as fake, tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "codex-home"
        write_codex_home(home, first_line(fake))
        results = {}
        for name, path in (("direct", direct), ("relay", relayed)):
            workspace = Path(tmp) / f"workspace-{name}"
            workspace.mkdir()
            results[name] = summary_ms(path(home, workspace, args.turns, args.warmup))
            print(
                f"turn {name} p50={results[name]['p50']}ms p99={results[name]['p99']}ms", flush=True
            )

    added = {
        key: round(results["relay"][key] - results["direct"][key], 2) for key in ("p50", "p99")
    }
    verdict = "met" if added["p50"] <= ADDED_P50_TARGET_MS else "missed"
    lines = [
        f"{args.turns} turns per path after {args.warmup} unmeasured, one after another on one "
        "thread, each answered by the fake model with three text deltas. Direct: a client of "
        "`codex app-server` over stdio, from `turn/start` to `turn/completed`. Through the "
        "relay: the browser's `POST ?wait=2` of startTurn, as the console sends it, to "
        "`turn/completed` on its `/events` stream, "
        "with Daphne on PostgreSQL + Redis and the agent, a process of its own as for a user, "
        "on the same app-server build. The fake model runs in a process of its own for both.",
        "",
        "| path | p50 | p99 | mean |",
        "|---|---:|---:|---:|",
        *[
            f"| {name} | {r['p50']} ms | {r['p99']} ms | {r['mean']} ms |"
            for name, r in (
                ("direct", results["direct"]),
                ("through relay + agent", results["relay"]),
            )
        ],
        "",
        f"Added by relay + agent: {added['p50']} ms at p50 "
        f"({results['relay']['p50'] / results['direct']['p50']:.2f}× direct), "
        f"{added['p99']} ms at p99. Target: at most {ADDED_P50_TARGET_MS:.0f} ms at p50 "
        f"(the relay at scale, target 5): {verdict}.",
        "",
    ]
    record("Real turn overhead", run_command(["bench.turn", *argv]), lines)
    ratio = results["relay"]["p50"] / results["direct"]["p50"]
    print(f"turn added_p50={added['p50']}ms ratio={ratio:.2f}")


if __name__ == "__main__":
    main(sys.argv[1:])
