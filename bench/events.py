"""Event throughput (issue benchmark 2): one device streams agent deltas at a steady rate
to 1 and to 50 browsers following /events; how many arrive, how late, and how many
database writes each event costs."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from agent.protocol import MAX_EVENTS_PER_FRAME as MAX_EVENTS
from bench.harness import (
    Browser,
    Devices,
    deployment,
    make_devices,
    percentile,
    record,
    run_command,
)

AS_THE_AGENT = 0


class Subscriber:
    """A browser's EventSource, read off a raw socket: when each agent event arrived."""

    def __init__(self, host: str, cookie: str) -> None:
        self.host, self.cookie = host, cookie
        self.arrived: dict[int, float] = {}
        self.ready = asyncio.Event()

    async def follow(self) -> None:
        address, port = self.host.split(":")
        reader, writer = await asyncio.open_connection(address, int(port))
        writer.write(
            (
                f"GET /events HTTP/1.1\r\nHost: {self.host}\r\nCookie: {self.cookie}\r\n"
                "Accept: text/event-stream\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        data = ""
        while True:
            line = (await reader.readline()).decode()
            if not line:
                return
            self.ready.set()
            if line.startswith("data: "):
                data = line[6:]
            elif line in ("\r\n", "\n") and data:
                event = json.loads(data)
                if event.get("source") == "agent":
                    self.arrived[event["agentSeq"]] = time.perf_counter()
                data = ""


def database_counters(url: str) -> dict[str, int]:
    import psycopg

    with psycopg.connect(url) as connection:
        row = connection.execute(
            "SELECT xact_commit, tup_inserted, tup_updated FROM pg_stat_database "
            "WHERE datname = current_database()"
        ).fetchone()
    return {"commits": row[0], "inserted": row[1], "updated": row[2]}


def delta(seq: int) -> dict[str, Any]:
    return {
        "seq": seq,
        "eventType": "item/agentMessage/delta",
        "threadId": "thr_bench",
        "turnId": "turn_bench",
        "payload": {"threadId": "thr_bench", "itemId": "msg-1", "delta": f"token {seq} "},
    }


async def stream(
    fleet: Devices,
    subscribers: list[Subscriber],
    rate: int,
    seconds: float,
    first: int,
    batch: int,
) -> dict[int, float]:
    """Send rate events a second for seconds, batch events a frame; when each was sent."""
    if batch == AS_THE_AGENT:
        return await stream_as_the_agent(fleet, subscribers, rate, seconds, first)
    sent: dict[int, float] = {}
    count = int(rate * seconds)
    start = time.perf_counter()
    for index in range(0, count, batch):
        seqs = range(first + index, first + min(count, index + batch))
        delay = start + (index + batch - 1) / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        frame = {"type": "agent.event", "events": [delta(seq) for seq in seqs]}
        now = time.perf_counter()
        sent.update(dict.fromkeys(seqs, now))
        await fleet.sockets[0].send(json.dumps(frame))
    await delivered(subscribers, first + count - 1)
    return sent


async def stream_as_the_agent(
    fleet: Devices, subscribers: list[Subscriber], rate: int, seconds: float, first: int
) -> dict[int, float]:
    """Events come due at the rate; a frame leaves only when the one before it has been
    acknowledged, carrying everything due by then, as agent/runtime/wss.py sends. Each event's
    time is when it came due, so the wait for a frame counts in its lag."""
    count = int(rate * seconds)
    start = time.perf_counter()
    due = {first + n: start + n / rate for n in range(count)}
    last, next_seq, in_flight = first + count - 1, first, 0
    while next_seq <= last:
        now = time.perf_counter()
        if fleet.acked >= in_flight and due[next_seq] <= now:
            upto = next_seq
            while upto < last and due[upto + 1] <= now and upto - next_seq < MAX_EVENTS:
                upto += 1
            frame = {"type": "agent.event", "events": [delta(s) for s in range(next_seq, upto + 1)]}
            await fleet.sockets[0].send(json.dumps(frame))
            in_flight, next_seq = upto, upto + 1
        await asyncio.sleep(0.001)
    await delivered(subscribers, last)
    return due


async def delivered(subscribers: list[Subscriber], last: int) -> None:
    deadline = time.perf_counter() + 30
    while time.perf_counter() < deadline and not all(last in s.arrived for s in subscribers):
        await asyncio.sleep(0.05)


def run_once(
    host: str,
    db_url: str,
    fleet: Devices,
    cookie: str,
    followers: int,
    options: argparse.Namespace,
    first: int,
) -> dict[str, Any]:
    rate, seconds = options.rate, options.seconds
    subscribers = [Subscriber(host, cookie) for _ in range(followers)]

    async def scenario() -> dict[int, float]:
        tasks = [fleet.loop.create_task(s.follow()) for s in subscribers]
        await asyncio.gather(*(s.ready.wait() for s in subscribers))
        await asyncio.sleep(0.5)
        sent = await stream(fleet, subscribers, rate, seconds, first, options.batch)
        for task in tasks:
            task.cancel()
        return sent

    before = database_counters(db_url)
    sent = asyncio.run_coroutine_threadsafe(scenario(), fleet.loop).result(timeout=seconds + 120)
    time.sleep(1.5)  # PostgreSQL publishes its counters about once a second
    after = database_counters(db_url)
    lags = [
        subscriber.arrived[seq] - sent[seq]
        for subscriber in subscribers
        for seq in sent
        if seq in subscriber.arrived
    ]
    expected = len(sent) * followers
    span = max(max(s.arrived.values(), default=0) for s in subscribers) - min(sent.values())
    return {
        "followers": followers,
        "sent": len(sent),
        "delivered": len(lags),
        "expected": expected,
        "rate": len(lags) / span if span > 0 else 0.0,
        "p50": percentile(lags, 0.5) * 1000 if lags else float("nan"),
        "p99": percentile(lags, 0.99) * 1000 if lags else float("nan"),
        "commits": (after["commits"] - before["commits"]) / len(sent),
        "writes": (after["inserted"] + after["updated"] - before["inserted"] - before["updated"])
        / len(sent),
    }


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=int, default=200, help="events a second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--followers", default="1,50")
    parser.add_argument(
        "--batch",
        type=lambda value: AS_THE_AGENT if value == "agent" else int(value),
        default=1,
        help="events per frame, or 'agent': one frame in flight, as the agent sends",
    )
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp, deployment("postgres", Path(tmp)) as (relay, hosts):
        tokens = make_devices(relay, 1)
        browser = Browser(hosts[0])
        cookie = "; ".join(f"{k}={v}" for k, v in browser.cookies.items())
        fleet = Devices(hosts[0], tokens)
        fleet.start()
        first = 1
        for followers in [int(n) for n in args.followers.split(",")]:
            row = run_once(
                hosts[0], relay.env["DATABASE_URL"], fleet, cookie, followers, args, first
            )
            first += row["sent"]
            rows.append(row)
            print(
                f"events followers={followers} delivered={row['delivered']}/{row['expected']} "
                f"lag_p50={row['p50']:.1f}ms lag_p99={row['p99']:.1f}ms "
                f"commits_per_event={row['commits']:.2f}",
                flush=True,
            )
        fleet.close()
    if args.batch == AS_THE_AGENT:
        title = "Event throughput, framed as the agent sends"
        framing = (
            "one frame in flight: each frame carries every event that came due while the one "
            "before it awaited its acknowledgement, as `agent/runtime/wss.py` sends. Lag is from "
            "an event coming due to a browser reading it, so the wait for a frame counts"
        )
    else:
        title = (
            "Event throughput"
            if args.batch == 1
            else (f"Event throughput, {args.batch} events a frame")
        )
        framing = (
            f"{args.batch} event(s) a frame, sent whatever the acknowledgements. Lag is from "
            "the device sending an event to a browser reading it"
        )
    record(
        title,
        run_command(["bench.events", *argv]),
        [
            f"One device sends {args.rate} agent events a second for {args.seconds:.0f} s, "
            f"{framing}; on PostgreSQL + Redis, with browsers following `/events` on the same "
            "Daphne process. Database figures are PostgreSQL's own counters over the run, "
            "per event sent.",
            "",
            "| browsers | delivered | delivered / s | lag p50 | lag p99 | commits / event | "
            "rows written / event |",
            "|---:|---:|---:|---:|---:|---:|---:|",
            *[
                f"| {r['followers']} | {r['delivered']} of {r['expected']} | {r['rate']:.0f} | "
                f"{r['p50']:.1f} ms | {r['p99']:.1f} ms | {r['commits']:.2f} | {r['writes']:.2f} |"
                for r in rows
            ],
            "",
            "Targets: every event delivered, lag p99 ≤ 100 ms, at most one database write per "
            "event, with 50 browsers at 200 events/s.",
            "",
        ],
    )


if __name__ == "__main__":
    main(sys.argv[1:])
