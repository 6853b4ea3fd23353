"""MQTT v5 shared subscription -> decoded Batch; everything else is dead-lettered.

`Ingest` holds one persistent MQTT session (clean_start False, a session expiry) in the
shared subscription `$share/<group>/<prefix>/+/metrics`, so N collectors split the
batches, plus a plain subscription to `<prefix>/+/state`, so each one also gets the
retained births and Last Wills (presence changes are compare-and-set in the store, so
only one collector reports each).

Messages are acknowledged by hand (paho `manual_ack`) and only by `flush()`, after

1. their lines are in VictoriaMetrics or fsynced in the writer's disk buffer,
2. the dead letters, sequence state and presence are committed in the store,

in the order they arrived. A collector killed before that loses nothing: the broker
redelivers to the same session. A batch whose sequence number the store already has is
a redelivery of something stored before the ack got out, and is dropped.
"""

from __future__ import annotations

import enum
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec
import paho.mqtt
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions
from sqlalchemy import Connection, Engine

from agent.protocol import NS, Batch, Kind, Presence, ProtocolError, decode, parse_topic
from collector import deadletter, fastlane, lean_paho, presence, sequence
from collector.broker import MqttSettings, broker_address
from collector.clock_offset import ClockOffset
from collector.db import begin_write, give_back_wal
from collector.deadletter import DeadLetter, DeadLetterSettings
from collector.errors import CollectorError
from collector.limits import OVER_LIMIT, AgentLimits, LimitSettings
from collector.observers import Observer, PresenceChange
from collector.selfmetrics import SelfMetrics
from collector.sequence import SequenceTracker, Verdict
from collector.sites import SiteMap
from collector.writer import LineStore

log = logging.getLogger(__name__)

# Something that stores what presence messages carry (the inventory) in ingest's transaction.
PresenceWriter = Callable[[Connection, Sequence[tuple[Presence, int]]], object]

AGENT_ID_MISMATCH: Final = "agent_id_mismatch"
SITE_MISMATCH: Final = "site_mismatch"  # an agent bound to a site (collector/sites.py) named another
INTERNAL_ERROR: Final = "internal_error"
SESSION_TAKEN_OVER: Final = 0x8E  # MQTT v5 DISCONNECT reason: another client took this client id
SHORT_SESSION_SECONDS: Final = 5.0
MAX_TOPICS: Final = 200_000  # parsed topics kept (agents x kinds); beyond, the cache starts over
MAX_CLOCKS: Final = 100_000  # agents whose clock offset is kept; beyond, they are learnt again
DEFAULT_SKEW_SECONDS: Final = 5.0  # the rules' trust.max_skew_seconds unless correct_clocks() says
# DESKWATCH_PLAIN_PAHO=1: paho's own Client, without collector/lean_paho.py, so that path is
# tested (deploy/test.sh) and measured (bench/paths.py) where lean_paho would fit.
PLAIN_PAHO: Final = "DESKWATCH_PLAIN_PAHO"
_said_plain = False  # the warning that lean_paho does not fit this paho, given once per process


def lean_client() -> bool:
    """True if ingest uses lean_paho's LeanClient; False for paho's own Client (warned about once)."""
    global _said_plain
    if os.environ.get(PLAIN_PAHO, "") not in ("", "0"):
        log.info("%s is set: ingest uses paho's own client", PLAIN_PAHO)
        return False
    if lean_paho.MISSING:
        if not _said_plain:
            _said_plain = True
            log.warning(
                "paho-mqtt %s lacks what collector/lean_paho.py relies on (%s): ingest uses paho's "
                "own client, at more CPU per message",
                getattr(paho.mqtt, "__version__", "?"),
                ", ".join(lean_paho.MISSING),
            )
        return False
    return True


@dataclass(slots=True)
class _Pending:
    """What arrived since the last flush, in arrival order."""

    acks: list[tuple[int, int]] = field(default_factory=list)  # (mid, qos)
    bodies: list[bytes] = field(default_factory=list)  # each batch's lines, joined (line_protocol.batch_body)
    lines: int = 0
    items: int = 0  # samples and states in the batches
    batches: list[tuple[Batch, int]] = field(default_factory=list)
    made_ns: list[int] = field(default_factory=list)  # each batch's created_ns on the collector's clock
    presences: list[tuple[Presence, int]] = field(default_factory=list)
    letters: list[DeadLetter] = field(default_factory=list)
    seen: dict[str, presence.Seen] = field(default_factory=dict)
    since: float = 0.0


@dataclass(frozen=True, slots=True)
class IngestSettings:
    """What ingest works with: the broker, when to flush, the dead-letter and per-agent bounds."""

    mqtt: MqttSettings = field(default_factory=MqttSettings)
    flush_lines: int = 20_000  # [metrics] batch_lines: flush once this many lines wait
    flush_interval_seconds: float = 0.2  # [metrics] flush_interval_seconds
    deadletter: DeadLetterSettings = field(default_factory=DeadLetterSettings)
    limits: LimitSettings = field(default_factory=LimitSettings)
    site_refresh_seconds: float = 30.0  # how often the agents' site bindings are read again


class Ingest:
    """The MQTT client and the flush loop that stores what it receives."""

    def __init__(
        self,
        settings: IngestSettings,
        engine: Engine,
        sink: LineStore,
        metrics: SelfMetrics,
        observers: Sequence[Observer] = (),
        password: str = "",
        clock: Callable[[], int] = time.time_ns,
        limits: AgentLimits | None = None,
        sites: SiteMap | None = None,
    ) -> None:
        self._settings = settings
        self._limits = limits or AgentLimits(settings.limits)
        self._sites = sites or SiteMap(engine, settings.site_refresh_seconds)
        self._site_refused: dict[str, str] = {}  # bound agent -> the other site it was last refused for
        self._prefix = settings.mqtt.prefix
        self._engine = engine
        self._sink = sink
        self._metrics = metrics
        # The children counted for every batch, looked up once rather than per message.
        self._metrics_messages = metrics.messages.labels(kind=Kind.METRICS.value)
        self._accepted_batches = metrics.batches.labels(result="accepted")
        self._duplicate_batches = metrics.batches.labels(result="duplicate")
        self._observers: list[Observer] = []
        self._keep: tuple[bytes, ...] = ()  # the samples observers read (fastlane.wanted)
        for observer in observers:
            self.add_observer(observer)
        # Stores that keep part of each presence message in ingest's own transaction (inventory).
        self._presence_writers: list[PresenceWriter] = []
        self._clock = clock
        self._tracker = SequenceTracker()
        self._topics: dict[str, tuple[str, Kind]] = {}  # topic -> what parse_topic says: a few per agent
        self._clocks: dict[str, ClockOffset] = {}  # agent -> its clock offset, learnt from its batches
        self._skew_ns = int(DEFAULT_SKEW_SECONDS * NS)  # correct_clocks()
        # The longest a batch can wait in the broker (its session for us) before it is received.
        self._max_delay_ns = (settings.mqtt.session_expiry_seconds + 86_400) * NS
        self._lock = threading.Condition()
        self._pending = _Pending()
        self._flush_lock = threading.Lock()
        self._accepting = True
        self._stop = threading.Event()
        self._connected = False
        self._replaying = False  # replay() loaded the stored sequence state
        self._taken_over = False  # said once: two processes with one client id fight for good
        self._connected_at = 0.0
        self._short_sessions = 0  # connections in a row the broker dropped within seconds
        self._flush_thread = threading.Thread(target=self._flush_loop, name="ingest-flush", daemon=True)
        self._client = self._make_client(password)

    @property
    def connected(self) -> bool:
        return self._connected

    def add_observer(self, observer: Observer) -> None:
        """Call `observer` for every accepted batch and presence change from now on."""
        self._observers.append(observer)
        self._keep = fastlane.wanted(field for each in self._observers for field in each.sample_fields())

    def add_presence_writer(self, writer: PresenceWriter) -> None:
        """Call `writer(conn, presences)` in every flush's transaction, before anything is acknowledged."""
        self._presence_writers.append(writer)

    def _make_client(self, password: str) -> mqtt.Client:
        settings = self._settings.mqtt
        lean = lean_client()
        if lean:
            lean_paho.install()  # paho's per-message Properties setup was a quarter of its cost per batch
        client = (lean_paho.LeanClient if lean else mqtt.Client)(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=settings.client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        if settings.username:
            client.username_pw_set(settings.username, password or None)
        _, _, tls = broker_address(settings)
        if tls:
            client.tls_set(ca_certs=settings.ca_file or None)
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        if isinstance(client, lean_paho.LeanClient):
            client.on_payload = self._on_payload  # the batches agents send skip paho's MQTTMessage
        client.reconnect_delay_set(1, 30)
        return client

    def start(self) -> None:
        """Load the sequence state and the site bindings, connect and start receiving."""
        self._tracker.load(self._engine)
        self._sites.refresh()
        settings = self._settings.mqtt
        host, port, _ = broker_address(settings)
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = settings.session_expiry_seconds
        # Bounds the unacknowledged messages the broker sends us, so it bounds memory.
        props.ReceiveMaximum = settings.max_inflight
        self._flush_thread.start()
        self._client.connect_async(
            host, port, keepalive=settings.keepalive_seconds, clean_start=False, properties=props
        )
        self._client.loop_start()

    def _on_connect(self, client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any) -> None:
        if reason.is_failure:
            log.warning("broker refused the connection: %s", reason)
            return
        group, prefix = self._settings.mqtt.group, self._prefix
        options = SubscribeOptions(qos=1)
        metrics = f"{prefix}/+/{Kind.METRICS.value}"
        client.subscribe(
            [
                (f"$share/{group}/{metrics}" if group else metrics, options),
                (f"{prefix}/+/{Kind.STATE.value}", options),
            ]
        )
        self._connected = True
        self._connected_at = time.monotonic()
        self._metrics.mqtt_connected.set(1)
        log.info("connected to %s as %s", self._settings.mqtt.broker, self._settings.mqtt.client_id)

    def _on_connect_fail(self, _client: mqtt.Client, _userdata: Any) -> None:
        # Said at every attempt: an operator starting the collector must learn at once that
        # nothing arrives because the broker is not there (wrong address, down, firewall).
        host, port, _ = broker_address(self._settings.mqtt)
        log.warning("cannot reach the broker at %s:%d; retrying (up to every 30 s)", host, port)

    def _on_disconnect(
        self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        self._connected = False
        self._metrics.mqtt_connected.set(0)
        if self._stop.is_set():
            return
        # Another client with our client id takes the session over (MQTT v5 reason 0x8E; Mosquitto
        # 2.0.11 just closes the socket): the two knock each other off for ever, each taking the
        # session and the other's unacknowledged batches. Said once, as an error.
        lived = time.monotonic() - self._connected_at
        self._short_sessions = self._short_sessions + 1 if lived < SHORT_SESSION_SECONDS else 0
        taken_over = getattr(reason, "value", None) == SESSION_TAKEN_OVER
        if (taken_over or self._short_sessions >= 3) and not self._taken_over:
            self._taken_over = True
            log.error(
                "the broker dropped this collector %s: another client probably uses client_id %r; every "
                "collector process needs a client_id of its own ([mqtt] client_id)",
                "for another client" if taken_over else "within seconds of connecting three times in a row",
                self._settings.mqtt.client_id,
            )
            return
        log.warning("lost the broker connection (%s); reconnecting", reason)

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        self._on_payload(message.topic, bytes(message.payload), message.mid, message.qos)

    def _on_payload(self, topic: str, payload: bytes, mid: int, qos: int) -> None:
        if not self._accepting:
            return  # shutting down: left unacknowledged, the broker redelivers it to this session
        received_ns = self._clock()
        try:
            self.receive(topic, payload, received_ns, mid, qos)
        except Exception:
            log.exception("cannot handle a message on %s; dead-lettering it", topic)
            letter = DeadLetter(received_ns, topic, INTERNAL_ERROR, "internal error", payload)
            with self._lock:
                self._pending.letters.append(letter)
                self._pending.acks.append((mid, qos))

    def receive(self, topic: str, payload: bytes, received_ns: int, mid: int = 0, qos: int = 0) -> None:
        """Decode one message and queue what it means for the next flush."""
        try:
            agent_id, kind = self._topics.get(topic) or self._parse_topic(topic)
            if kind is Kind.METRICS:
                self._metrics_messages.inc()
                over = self._limits.refuse(agent_id, len(payload), received_ns)
                if over:
                    self._reject(topic, payload, received_ns, OVER_LIMIT, over, mid, qos)
                    return
                bound = self._sites.get(agent_id)
                decoded = fastlane.decode_batch(payload, self._keep, bound or "")
                _check_agent(decoded.batch.agent_id, agent_id)
                if bound is not None and self._wrong_site(agent_id, bound, decoded.batch.site):
                    self._reject_site(
                        topic, payload, received_ns, agent_id, bound, decoded.batch.site, mid, qos
                    )
                    return
                shift = self._clock_shift(decoded.batch, received_ns)
                if shift:
                    decoded = fastlane.shifted(decoded, payload, bound or "", shift)
                    self._metrics.clock_corrected.inc()
                self._accept_batch(decoded, received_ns, mid, qos, shift)
                return
            self._metrics.messages.labels(kind=kind.value).inc()
            if kind is Kind.STATE and not payload:
                self._queue_ack(mid, qos)  # a retained message being cleared
                return
            if kind is not Kind.STATE:
                raise ProtocolError(f"ingest does not take {kind.value} messages")
            message = decode(payload, Presence)
            _check_agent(message.agent_id, agent_id)
            bound = self._sites.get(agent_id)
            if bound is not None:
                if self._wrong_site(agent_id, bound, message.site or bound):
                    self._reject_site(topic, payload, received_ns, agent_id, bound, message.site, mid, qos)
                    return
                if not message.site:
                    message = msgspec.structs.replace(message, site=bound)
        except _Mismatch as err:
            self._reject(topic, payload, received_ns, AGENT_ID_MISMATCH, str(err), mid, qos)
            return
        except ProtocolError as err:
            self._reject(topic, payload, received_ns, err.code.value, err.reason, mid, qos)
            return
        with self._lock:
            self._pending.presences.append((message, received_ns))
            self._pending.acks.append((mid, qos))

    def correct_clocks(self, skew_seconds: float) -> None:
        """Write the times of agents whose clock is off by more than this at the collector's time."""
        self._skew_ns = int(skew_seconds * NS)

    def _clock_shift(self, batch: Batch, received_ns: int) -> int:
        """What to add to the times of `batch` for its agent's clock (collector.clock_offset); 0: none.

        The same estimate, from the same batches, as the incident state's (collector.state), so
        a PC's graphs and its tickets agree on when something happened.
        """
        clock = self._clocks.get(batch.agent_id)
        if clock is None:
            if len(self._clocks) >= MAX_CLOCKS:
                self._clocks.clear()  # re-learnt in two batches
            clock = self._clocks[batch.agent_id] = ClockOffset()
        clock.observe(received_ns, batch.sent_ns)
        return clock.correction_ns(self._skew_ns, self._max_delay_ns)

    def _wrong_site(self, agent_id: str, bound: str, site: str) -> bool:
        """True if a bound agent names another site than its own; says when it is back at its own."""
        if site == bound:
            if agent_id in self._site_refused:
                del self._site_refused[agent_id]
                log.info("agent %s names its bound site %r again", agent_id, bound)
            return False
        return True

    def _reject_site(
        self,
        topic: str,
        payload: bytes,
        received_ns: int,
        agent_id: str,
        bound: str,
        site: str,
        mid: int,
        qos: int,
    ) -> None:
        reason = f"agent {agent_id} is bound to site {bound!r} but names site {site!r}"
        if self._site_refused.get(agent_id) != site:  # said once per agent and site it claims
            self._site_refused[agent_id] = site
            log.warning(
                "%s: its messages are dead-lettered (%s) until its agent.toml names %r, or "
                "`deskwatch-collector agents bind %s --site %s --rebind` moves it",
                reason,
                SITE_MISMATCH,
                bound,
                agent_id,
                site,
            )
        self._reject(topic, payload, received_ns, SITE_MISMATCH, reason, mid, qos)

    def _parse_topic(self, topic: str) -> tuple[str, Kind]:
        parsed = parse_topic(self._prefix, topic)
        if len(self._topics) >= MAX_TOPICS:
            self._topics.clear()
        self._topics[topic] = parsed
        return parsed

    def _accept_batch(
        self, decoded: fastlane.Decoded, received_ns: int, mid: int, qos: int, shift_ns: int = 0
    ) -> None:
        batch, body, lines = decoded.batch, decoded.body, decoded.lines
        verdict = self._tracker.observe(batch.agent_id, batch.seq, batch.spool_id, received_ns)
        if verdict is Verdict.DUPLICATE:
            self._duplicate_batches.inc()
            self._metrics.duplicates.inc()
            self._queue_ack(mid, qos)
            return
        with self._lock:
            pending = self._pending
            if not pending.acks:
                pending.since = time.monotonic()
            if lines:
                pending.bodies.append(body)
                pending.lines += lines
            pending.items += decoded.items
            pending.batches.append((batch, received_ns))
            pending.made_ns.append(batch.created_ns + shift_ns)
            pending.acks.append((mid, qos))
            pending.seen[batch.agent_id] = presence.Seen(batch.site, batch.created_ns, received_ns)
            if self._full(pending):
                self._lock.notify()

    def _full(self, pending: _Pending) -> bool:
        # Half the broker's in-flight window: it must not stall waiting for our acks.
        return pending.lines >= self._settings.flush_lines or len(pending.acks) >= max(
            1, self._settings.mqtt.max_inflight // 2
        )

    def _queue_ack(self, mid: int, qos: int) -> None:
        with self._lock:
            if not self._pending.acks:
                self._pending.since = time.monotonic()
            self._pending.acks.append((mid, qos))

    def _reject(
        self, topic: str, payload: bytes, received_ns: int, code: str, reason: str, mid: int, qos: int
    ) -> None:
        self._metrics.decode_errors.labels(reason=code).inc()
        log.debug("dead-lettered a message on %s: %s", topic, reason)
        with self._lock:
            if not self._pending.acks:
                self._pending.since = time.monotonic()
            self._pending.letters.append(DeadLetter(received_ns, topic, code, reason, payload))
            self._pending.acks.append((mid, qos))

    def _flush_loop(self) -> None:
        interval = self._settings.flush_interval_seconds
        while not self._stop.is_set():
            self._sites.refresh_if_due()  # off the network thread: a store read every 30 s
            with self._lock:
                pending = self._pending
                due = pending.since + interval - time.monotonic()
                if not pending.acks or (due > 0 and not self._full(pending)):
                    self._lock.wait(interval if not pending.acks else max(due, 0.001))
                    continue
            try:
                self.flush()
            except CollectorError as err:
                log.error("cannot store received messages (%s); retrying", err)
                self._stop.wait(1.0)
            except Exception:
                log.exception("flush failed; retrying")
                self._stop.wait(1.0)

    def flush(self) -> None:
        """Store everything pending, then acknowledge it; on failure it stays pending for the next try."""
        with self._flush_lock:
            with self._lock:
                pending, self._pending = self._pending, _Pending()
            if not pending.acks:
                return
            started = time.perf_counter()
            try:
                self._store(pending)
            except BaseException:
                with self._lock:  # put it back in front, so nothing is acknowledged out of order
                    self._pending = _prepend(pending, self._pending)
                raise
            self._ack(pending.acks)
            # Counted once stored, per flush: four locked counters per batch were 3 % of ingest.
            self._accepted_batches.inc(len(pending.batches))
            self._metrics.samples.inc(pending.items)
            self._metrics.lines.inc(pending.lines)
            self._metrics.flush_seconds.observe(time.perf_counter() - started)

    def _ack(self, acks: list[tuple[int, int]]) -> None:
        client = self._client
        if isinstance(client, lean_paho.LeanClient):
            client.ack_all(acks)  # one write for the flush
            return
        for mid, qos in acks:
            client.ack(mid, qos)

    def _store(self, pending: _Pending) -> None:
        if pending.bodies:
            self._sink.store(b"\n".join(pending.bodies))
            written_ns = self._clock()
            for made_ns in pending.made_ns:
                self._metrics.lag_seconds.observe(max(written_ns - made_ns, 0) / 1e9)
        views = self._tracker.take_dirty()
        try:
            with begin_write(self._engine) as conn:
                dropped = deadletter.add(conn, pending.letters, self._settings.deadletter)
                merged, opened, filled = sequence.save(conn, views)
                changes = presence.apply(conn, pending.presences, pending.seen)
                for write in self._presence_writers:
                    write(conn, pending.presences)
        except BaseException:
            self._tracker.mark_dirty(views)
            raise
        self._tracker.adopt(merged)
        if dropped:  # the dead-letter store is at its budget: a flood, whose WAL is given back
            give_back_wal(self._engine)
        self._metrics.deadletter_dropped.inc(dropped)
        self._metrics.gaps.inc(opened)
        self._metrics.gaps_filled.inc(filled)
        for batch, received_ns in pending.batches:
            for observer in self._observers:
                self._call(observer.observe_batch, batch, received_ns)
        self.notify(changes)

    def notify(self, changes: Sequence[PresenceChange]) -> None:
        """Tell every observer about presence changes (also used by the staleness check)."""
        for change in changes:
            if change.previous is not change.status:
                log.info("agent %s is %s (was %s)", change.agent_id, change.status.value, change.previous)
            for observer in self._observers:
                self._call(observer.observe_presence, change)

    def _call(self, method: Callable[..., None], *args: Any) -> None:
        try:
            method(*args)
        except Exception:
            self._metrics.observer_errors.inc()
            log.exception("observer %r failed", method)

    def replay(self, topic: str, payload: bytes, received_ns: int) -> Replayed:
        """Take one stored message through ingest as if it had just arrived, and store it at once.

        For `deskwatch-collector deadletter replay`, in a process of its own that is not
        connected to the broker: the same decoding, sequence tracking, line writing and
        presence as live messages, without the broker. A message still refused is not
        dead-lettered again (the caller keeps its letter); a failure to store raises.
        """
        if not self._replaying:
            self._tracker.load(self._engine)
            self._sites.refresh()
            self._replaying = True
        self.receive(topic, payload, received_ns)
        with self._lock:
            pending = self._pending
            if pending.letters:
                letter = pending.letters.pop()
                pending.acks.pop()
                return Replayed(ReplayOutcome.REFUSED, letter.reason)
            stored = bool(pending.batches or pending.presences)
        self.flush()
        if stored:
            return Replayed(ReplayOutcome.STORED, "")
        return Replayed(ReplayOutcome.DUPLICATE, "its sequence number was stored before")

    def stop(self, timeout: float) -> None:
        """Stop taking messages, store and acknowledge what arrived within `timeout` s, disconnect."""
        self._accepting = False
        self._stop.set()
        with self._lock:
            self._lock.notify_all()
        self._flush_thread.join(timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.flush()
                break
            except Exception as err:  # the store or disk is gone: what is left gets redelivered
                log.warning("final flush failed (%s); unacknowledged messages will be redelivered", err)
                time.sleep(0.2)
        time.sleep(0.05)  # let the acknowledgements leave before the DISCONNECT
        self._client.disconnect()
        self._client.loop_stop()


class ReplayOutcome(enum.StrEnum):
    """What became of a replayed message."""

    STORED = "stored"
    DUPLICATE = "duplicate"  # stored before: nothing to do
    REFUSED = "refused"  # still not valid


@dataclass(frozen=True, slots=True)
class Replayed:
    outcome: ReplayOutcome
    reason: str


class _Mismatch(Exception):
    pass


def _check_agent(payload_agent: str, topic_agent: str) -> None:
    if payload_agent != topic_agent:
        raise _Mismatch(f"payload agent_id {payload_agent!r} differs from the topic's {topic_agent!r}")


def _prepend(first: _Pending, then: _Pending) -> _Pending:
    merged = _Pending(
        acks=first.acks + then.acks,
        bodies=first.bodies + then.bodies,
        lines=first.lines + then.lines,
        items=first.items + then.items,
        batches=first.batches + then.batches,
        made_ns=first.made_ns + then.made_ns,
        presences=first.presences + then.presences,
        letters=first.letters + then.letters,
        seen={**first.seen, **then.seen},
        since=first.since,
    )
    return merged
