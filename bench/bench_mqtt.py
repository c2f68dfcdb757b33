"""Benchmark of MQTT ingest: Observations published to a broker, one per message, stored
by ``quartier serve --mqtt`` in PostgreSQL.

* ``baseline``: the broker and paho alone. Publisher processes send ``--messages``
  messages of the same size (QoS 1) to a topic; a bare paho subscriber (QoS 1) counts
  them. Messages/s from the first to the last received.
* ``C baseline``: the same through Mosquitto's C subscriber ``mosquitto_sub`` (QoS 1),
  for what the broker itself manages when its subscriber costs little.
* ``ingest``: a fresh database and a server started with ``--mqtt``; ``--datastreams``
  Datastreams (one per simulated device) made over HTTP; then the publishers send
  ``--messages`` Observations, round robin over the devices, to
  ``<prefix>v1.1/Datastreams(id)/Observations``. Observations/s from the first publish until
  the database holds them all, the server's resident memory (sampled every second: first,
  peak, last) and its CPU. The server publishes each new Observation again on three
  topics (the specification's announcements); nobody subscribes to them here.

The publishers send pre-encoded PUBLISH packets over plain sockets (MQTT 3.1.1, QoS 1, at
most 1,000 awaiting their PUBACK each), so that they cost little CPU and the baseline shows
what the broker and a paho subscriber manage; ``--paho-publishers`` publishes through paho,
as the script did before 2026-12-05.

The broker is a private Mosquitto started on a free loopback port, configured as the
README advises for Quartier (``max_queued_messages 0``: a burst waits in the broker's
queue for a slower subscriber instead of being dropped; Mosquitto's default of 1,000
drops QoS 1 messages beyond it). ``--broker host:port`` uses a running broker instead.
Everything the script makes is removed at the end.

    .venv/bin/python bench/bench_mqtt.py                       # 200,000 messages
    .venv/bin/python bench/bench_mqtt.py --messages 50000 --publishers 1
    .venv/bin/python bench/bench_mqtt.py --minutes 10 --rate 12000       # a long run
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import getpass
import multiprocessing
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import paho.mqtt.client as paho

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/ is not a package
from bench_sensorthings import (
    CpuMeter,
    Server,
    create_datastreams,
    free_port,
    machine_summary,
    postgres_pids,
    process_tree,
    say,
    source_revision,
)


def publish(broker: tuple[str, int], topics: list[str], payloads: list[bytes], start: float,
            done: Any, raw: bool = True, until: float | None = None, rate: float = 0.0) -> None:
    """A publisher process: QoS 1, at most 1,000 messages in flight."""
    if raw:
        done.put(publish_raw(broker, topics, payloads, start, until=until, rate=rate))
        return
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    client.max_inflight_messages_set(1000)
    client.connect(*broker)
    client.loop_start()
    while time.time() < start:
        time.sleep(0.001)
    pending: collections.deque[Any] = collections.deque()
    for topic, payload in zip(topics, payloads, strict=True):
        pending.append(client.publish(topic, payload, qos=1))
        while len(pending) > 20_000:  # message ids wrap at 65,535
            pending.popleft().wait_for_publish(60)
    for info in pending:
        info.wait_for_publish(60)
    client.disconnect()
    client.loop_stop()
    done.put(len(topics))


def _mqtt_bytes(text: str | bytes) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return len(raw).to_bytes(2, "big") + raw


def _packet(first: int, body: bytes) -> bytes:
    length, out = len(body), bytearray()
    while True:
        length, digit = divmod(length, 128)
        out.append(digit | (0x80 if length else 0))
        if not length:
            return bytes((first, *out)) + body


def publish_raw(broker: tuple[str, int], topics: list[str], payloads: list[bytes],
                start: float, window: int = 1000, until: float | None = None,
                rate: float = 0.0) -> int:
    """Publish over a plain socket (MQTT 3.1.1, QoS 1): every PUBLISH is encoded before
    the start, and sent in runs of a quarter of ``window`` or more while fewer than
    ``window`` await their PUBACK, so that the publisher costs little CPU and the broker
    and the subscriber are what is measured.
    With ``until``, the same packets are sent over and over until that time (a long run).
    With ``rate``, at most that many messages per second. Returns how many were sent (and
    acknowledged)."""
    packets = [_packet(0x32, _mqtt_bytes(t) + ((n % 65_535) + 1).to_bytes(2, "big") + p)
               for n, (t, p) in enumerate(zip(topics, payloads, strict=True))]
    with socket.create_connection(broker) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(_packet(0x10, _mqtt_bytes("MQTT") + b"\x04\x02\x00\x3c"
                             + _mqtt_bytes(f"bench-pub-{os.getpid()}")))
        if sock.recv(4)[:2] != b"\x20\x02":
            raise RuntimeError("the broker refused the publisher")
        while time.time() < start:
            time.sleep(0.001)
        total = len(packets) if until is None else 2**62
        sent = acked_bytes = 0
        while True:
            if until is not None and total > sent and time.time() >= until:
                total = sent  # time is up: only the acknowledgements are awaited
            waiting = sent - acked_bytes // 4  # sent, not yet acknowledged
            if sent >= total and not waiting:
                break
            # Sent in runs of at least a quarter window: topping the window up after each
            # PUBACK would cost two system calls per message, as much as the broker spends.
            if sent < total and waiting <= window - window // 4:
                upto = min(total, acked_bytes // 4 + window)
                if rate:  # not ahead of the schedule
                    upto = min(upto, int((time.time() - start) * rate))
                if upto > sent:
                    sock.sendall(b"".join(packets[n % len(packets)] for n in range(sent, upto)))
                    sent = upto
                elif not waiting:  # ahead of the schedule, nothing to wait for
                    time.sleep(0.002)
                    continue
            acked_bytes += len(sock.recv(65_536))  # PUBACKs, 4 bytes each
        sock.sendall(b"\xe0\x00")
        return sent


def run_publishers(broker: tuple[str, int], messages: list[tuple[str, bytes]],
                   publishers: int, raw: bool = True,
                   minutes: float | None = None, rate: float = 0.0) -> tuple[float, int]:
    """Send all messages from ``publishers`` processes, or (``minutes``) send them over
    and over for that long; returns the time they started and how many were sent."""
    start = time.time() + 1.0
    until = None if minutes is None else start + minutes * 60
    done: Any = multiprocessing.Queue()
    procs = []
    for n in range(publishers):
        part = messages[n::publishers]
        procs.append(multiprocessing.Process(
            target=publish,
            args=(broker, [t for t, _ in part], [p for _, p in part], start, done, raw, until,
                  rate / publishers)))
    for proc in procs:
        proc.start()
    sent = sum(done.get(timeout=600 + (minutes or 0) * 60) for _ in procs)
    for proc in procs:
        proc.join()
    return start, sent


def baseline(broker: tuple[str, int], prefix: str, count: int, size: int,
             publishers: int, raw: bool, broker_pid: int | None) -> tuple[float, dict[str, float]]:
    """Messages/s through the broker to a bare paho subscriber, and the CPU of the groups
    of processes (% of a core)."""
    topic = f"{prefix}baseline"
    received = 0
    first = last = 0.0
    lock = threading.Lock()
    finished = threading.Event()

    def on_message(client: Any, userdata: Any, message: Any) -> None:
        nonlocal received, first, last
        with lock:
            received += 1
            now = time.time()
            first = first or now
            last = now
            if received == count:
                finished.set()

    sub = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    sub.on_message = on_message
    sub.connect(*broker)
    sub.subscribe(topic, qos=1)
    sub.loop_start()
    time.sleep(0.5)
    payload = b"x" * size
    with CpuMeter(_broker_group(broker_pid)) as meter:
        start, _ = run_publishers(broker, [(topic, payload)] * count, publishers, raw)
        finished.wait(300)
    sub.loop_stop()
    if received != count:
        raise RuntimeError(f"baseline: {received} of {count} messages arrived")
    return count / (last - start), _cpu_seconds(meter)


def c_baseline(broker: tuple[str, int], prefix: str, count: int, size: int,
               publishers: int, raw: bool) -> float | None:
    """Messages/s through the broker to Mosquitto's own C subscriber (``mosquitto_sub``,
    QoS 1): what the broker manages when the subscriber costs little; None without it."""
    if shutil.which("mosquitto_sub") is None:
        return None
    topic = f"{prefix}c-baseline"
    host, port = broker
    sub = subprocess.Popen(["mosquitto_sub", "-h", host, "-p", str(port), "-t", topic, "-q", "1",
                            "-C", str(count), "-F", "%U"], stdout=subprocess.PIPE, text=True)
    time.sleep(0.5)
    start, _ = run_publishers(broker, [(topic, b"x" * size)] * count, publishers, raw)
    stamps = sub.communicate(timeout=300)[0].split()  # the arrival time of each message
    if len(stamps) != count:
        raise RuntimeError(f"C baseline: {len(stamps)} of {count} messages arrived")
    return count / (float(stamps[-1]) - start)


def _cpu_seconds(meter: CpuMeter) -> dict[str, float]:
    """The CPU seconds each group of processes used over the meter's block."""
    return {k: v / 100 * meter.seconds for k, v in meter.result.items()}


def _broker_group(pid: int | None) -> dict[str, Any]:
    return {"broker": lambda: [pid]} if pid is not None else {}


async def count_rows(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM observations"))
    finally:
        await conn.close()


class RowCounter:
    """Counts the Observations cheaply while millions arrive: the rows up to a checkpoint
    id are counted once, and each look counts only those above it (through the index on
    the ids). Concurrent transactions commit ids out of order, so the checkpoint stays
    :data:`SETTLE` ids behind the largest id seen."""

    SETTLE = 200_000

    def __init__(self, url: str) -> None:
        self.url = url
        self.checkpoint = 0  # rows with ids up to here are counted in ``settled``
        self.settled = 0

    def count(self) -> int:
        return asyncio.run(self._count())

    async def _count(self) -> int:
        conn = await asyncpg.connect(self.url)
        try:
            above, top = await conn.fetchrow(
                "SELECT count(*), coalesce(max(id), $1) FROM observations WHERE id > $1",
                self.checkpoint)
            if top - self.checkpoint > 2 * self.SETTLE:
                upto = top - self.SETTLE
                self.settled += int(await conn.fetchval(
                    "SELECT count(*) FROM observations WHERE id > $1 AND id <= $2",
                    self.checkpoint, upto))
                self.checkpoint = upto
            return self.settled + int(above)
        finally:
            await conn.close()


def rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def ingest(args: argparse.Namespace, prefix: str, workdir: Path) -> dict[str, Any]:
    name = f"quartier_bench_mqtt_{secrets.token_hex(4)}"
    admin = args.pg_admin_url
    url = f"{admin.rpartition('/')[0]}/{name}"
    asyncio.run(_admin(admin, f'CREATE DATABASE "{name}"'))
    server = None
    try:
        server = Server(["--database", url, "--archive-after-days", "0", "--mqtt",
                         f"mqtt://{args.broker}", "--mqtt-prefix", prefix,
                         "--mqtt-client-id", f"bench-{prefix.strip('/')}",
                         # only when asked for: servers before 2026-12-06 (--src) lack it
                         *(["--mqtt-announce-qos", "0"] if args.announce_qos == 0 else [])],
                        args.workers, workdir / "server.log")
        server.wait_ready()
        say(f"creating {args.datastreams} Datastreams")
        datastreams = create_datastreams(server.base, args.datastreams)
        messages = [
            (f"{prefix}v1.1/Datastreams({datastreams[n % len(datastreams)]})/Observations",
             orjson.dumps({"result": n * 0.5,
                           "phenomenonTime": f"2026-01-01T00:00:{n % 60:02d}.{n % 1000:03d}Z"}))
            for n in range(args.messages)
        ]
        before = asyncio.run(count_rows(url))
        counter = RowCounter(url)
        rss: list[float] = []
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                rss.append(rss_mb(process_tree(server.proc.pid)))
                stop.wait(1.0)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        say(f"publishing {args.messages:,} Observations from {args.publishers} publishers"
            + ("" if args.minutes is None else f", over and over for {args.minutes:g} minutes"))
        groups = {"server": lambda: process_tree(server.proc.pid),
                  "database": lambda: postgres_pids(name), **_broker_group(args.broker_pid)}
        with CpuMeter(groups) as meter:
            start, wanted = run_publishers(host_port(args.broker), messages, args.publishers,
                                           not args.paho_publishers, args.minutes, args.rate)
            stored = 0
            deadline = time.time() + args.timeout
            while time.time() < deadline:
                stored = counter.count() - before
                if stored >= wanted:
                    break
                time.sleep(0.2)
            end = time.time()
            stored = asyncio.run(count_rows(url)) - before  # all of them, once more
        stop.set()
        sampler.join()
        if stored != wanted:
            raise RuntimeError(f"ingest: {stored:,} of {wanted:,} Observations stored "
                               f"after {args.timeout} s; see {workdir / 'server.log'}")
        minutes = [rss[n] for n in range(0, len(rss), 60)]
        return {"rate": wanted / (end - start), "seconds": end - start, "rss_minutes": minutes,
                "messages": wanted,
                "rss_first": rss[0] if rss else 0.0, "rss_peak": max(rss, default=0.0),
                "rss_last": rss[-1] if rss else 0.0, "cpu": dict(meter.result),
                "cpu_seconds": _cpu_seconds(meter)}
    finally:
        if server is not None:
            server.stop()
            shutil.copy(workdir / "server.log", "/tmp/bench_mqtt_server.log")
        asyncio.run(_admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _admin(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def host_port(text: str) -> tuple[str, int]:
    host, _, port = text.partition(":")
    return host, int(port or 1883)


def private_broker(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A Mosquitto of our own on a free loopback port; (process, host:port)."""
    port = free_port()
    conf = workdir / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n"
                    "max_queued_messages 0\nmax_inflight_messages 0\n"
                    f"user {getpass.getuser()}\n")
    proc = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 10
    while time.time() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return proc, f"127.0.0.1:{port}"
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("mosquitto did not start (is it installed? apt-get install mosquitto)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--datastreams", type=int, default=1000, help="simulated devices")
    parser.add_argument("--publishers", type=int, default=2, help="publisher processes")
    parser.add_argument("--paho-publishers", action="store_true",
                        help="publish through paho (as before 2026-12-05) instead of raw sockets")
    parser.add_argument("--workers", type=int, default=1, help="server worker processes")
    parser.add_argument("--minutes", type=float, default=None,
                        help="send the ingest's messages over and over for this long (a long "
                             "run: the server's memory is shown per minute)")
    parser.add_argument("--rate", type=float, default=0.0,
                        help="publish at most this many messages per second in all (for a long "
                             "run: no faster than the server stores them); 0: as fast as the "
                             "broker takes them")
    parser.add_argument("--announce-qos", type=int, default=1, choices=(0, 1),
                        help="QoS of the server's announcements (--mqtt-announce-qos)")
    parser.add_argument("--broker", default="", help="host:port of a running broker")
    parser.add_argument("--pg-admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for the rows")
    parser.add_argument("--src", type=Path, default=None,
                        help="run the server from this source tree instead: a folder that "
                             "holds the quartier package, or a checkout whose src/ does")
    parser.add_argument("--profile", type=Path, default=None,
                        help="write a cProfile of the server (one worker) to this file")
    args = parser.parse_args(argv)
    if args.src is not None:
        package = next((d for d in (args.src, args.src / "src") if (d / "quartier").is_dir()), None)
        if package is None:  # else the installed quartier would run, and the comparison lie
            parser.error(f"--src {args.src} holds no quartier package (nor does its src/)")
        Server.source = package.resolve()
    Server.profile = args.profile.resolve() if args.profile else None
    args.broker_pid = None
    prefix = f"bench{secrets.token_hex(4)}/"
    for line in [source_revision(Server.source), *machine_summary(args.pg_admin_url)]:
        say(line)
    sample = orjson.dumps({"result": 12345.5, "phenomenonTime": "2026-01-01T00:00:00.000Z"})
    broker = None
    with tempfile.TemporaryDirectory(prefix="quartier-bench-mqtt-") as tmp:
        try:
            if not args.broker:
                broker, args.broker = private_broker(Path(tmp))
                args.broker_pid = broker.pid
            say(f"baseline: {args.messages:,} messages of {len(sample)} bytes through the broker "
                f"at {args.broker}")
            base_rate, base_cpu = baseline(host_port(args.broker), prefix, args.messages,
                                           len(sample), args.publishers, not args.paho_publishers,
                                           args.broker_pid)
            c_rate = c_baseline(host_port(args.broker), prefix, args.messages, len(sample),
                                args.publishers, not args.paho_publishers)
            result = ingest(args, prefix, Path(tmp))
        finally:
            if broker is not None:
                broker.terminate()
                broker.wait(10)
    cpu = ", ".join(f"{k} {v:.0f}%" for k, v in result["cpu"].items())
    # CPU per message: % of a core over the run's seconds, per message, in µs
    wanted = result["messages"]
    per_message = ", ".join(f"{k} {v / wanted * 1e6:.1f}"
                            for k, v in result["cpu_seconds"].items() if k != "steal")
    base_broker = base_cpu.get("broker")
    base_note = ("" if base_broker is None else
                 f"; baseline broker {base_broker / args.messages * 1e6:.1f} µs/message")
    c_row = ("" if c_rate is None else
             f"| broker + mosquitto_sub (C client) | {args.messages:,} | {c_rate:,.0f} |\n")
    print(f"\n| run | messages | msgs/s |\n|---|---:|---:|\n"
          f"| broker + bare paho subscriber (baseline) | {args.messages:,} | {base_rate:,.0f} |\n"
          f"{c_row}"
          f"| MQTT → quartier → PostgreSQL, {args.workers} worker(s), announcements at QoS "
          f"{args.announce_qos} | {wanted:,} | {result['rate']:,.0f} |\n\n"
          f"ratio: {result['rate'] / base_rate:.2f}; {result['seconds']:.1f} s; server RSS "
          f"{result['rss_first']:.0f} MB at the start, {result['rss_peak']:.0f} MB peak, "
          f"{result['rss_last']:.0f} MB at the end; CPU {cpu}\n"
          f"CPU µs per message: {per_message}{base_note}; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.minutes is not None:
        print("server RSS at the start of each minute (MB): "
              + ", ".join(f"{mb:.0f}" for mb in result["rss_minutes"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
