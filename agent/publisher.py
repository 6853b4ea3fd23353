"""MQTT out: the spool's batches at QoS 1, presence on the retained state topic.

The only agent module that imports paho. paho's network thread calls back into this
module; every callback is handed to the asyncio loop with `call_soon_threadsafe`, so the
spool is only ever touched from the loop's thread.

Order and loss: batches leave the spool oldest first, at most `inflight` unacknowledged
at a time, and are deleted only on a successful PUBACK. After a reconnect everything not
acknowledged is sent again from the spool, so the collector may see a batch twice (it
drops repeats by sequence number) but never misses one. A backlog of a day (2,880
batches at 30 s) drains in seconds, so fresh batches wait behind it only briefly.

A batch the spool could not store (disk full) is published straight away by
`send_unspooled()` while connected, at QoS 1 with its own sequence number, so a PC whose
disk stays full still delivers its rounds and the state that says so. Nothing on disk
backs it: paho resends it after a reconnect as long as the process lives, and if the
broker refuses it, it is counted as a publish failure and lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import time
from collections.abc import Awaitable, Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from agent import protocol
from agent.broker import MqttSettings
from agent.errors import SpoolError
from agent.protocol import AgentFacts, CommandResult, Inventory, Kind, Presence
from agent.spool import Spool

log = logging.getLogger(__name__)

# Answers one payload from the agent's `cmd` topic (agent.diagnostics.handler.CommandHandler.handle).
CommandSink = Callable[[bytes], Awaitable[CommandResult]]


class Publisher:
    """Keeps one MQTT v5 connection and drains the spool through it."""

    def __init__(
        self,
        settings: MqttSettings,
        agent_id: str,
        site: str,
        facts: AgentFacts,
        spool: Spool,
        commands: CommandSink | None = None,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.settings = settings
        self.agent_id = agent_id
        self.site = site
        self.facts = facts
        self.spool = spool
        self.inventory: Inventory | None = None  # sent with every birth; see publish_inventory()
        self.publish_failures_total = 0
        self.connected = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._inflight: dict[int, int] = {}  # paho message id -> batch seq
        self._unspooled: dict[int, int] = {}  # paho message id -> seq of a batch not in the spool
        self._sent_up_to = 0  # highest seq published on this connection
        self._retry_handle: asyncio.TimerHandle | None = None
        self._commands = commands
        self._clock = clock  # this PC's clock: stamps presence and each batch as it is sent
        self._answering: set[asyncio.Task[None]] = set()
        self._asleep = False  # announced sleep or shutdown: disconnected on purpose until wake()
        self._idle = asyncio.Event()  # set when the last batch in flight is acknowledged
        self._acknowledged: set[int] = set()  # acknowledged batches the spool could not remove yet
        self._remove_failing = False
        self._client = self._make_client()

    def _topic(self, kind: Kind) -> str:
        return protocol.topic(self.settings.prefix, self.agent_id, kind)

    def _presence(
        self,
        status: str,
        reason: str = "",
        facts: AgentFacts | None = None,
        inventory: Inventory | None = None,
    ) -> bytes:
        return protocol.encode(
            Presence(
                v=protocol.PROTOCOL_VERSION,
                agent_id=self.agent_id,
                status=status,  # type: ignore[arg-type]
                time_ns=self._clock(),
                site=self.site,
                reason=reason,  # type: ignore[arg-type]
                facts=facts,
                inventory=inventory,
            )
        )

    def _make_client(self) -> mqtt.Client:
        s = self.settings
        client = _Client(
            min(MAX_LOOP_WAIT_SECONDS, s.keepalive_seconds / 4),
            CallbackAPIVersion.VERSION2,
            client_id=f"deskwatch-agent-{self.agent_id}",
            protocol=mqtt.MQTTv5,
        )
        if s.username:
            client.username_pw_set(s.username, s.password())
        if s.tls:
            client.tls_set(
                ca_certs=s.ca_file or None,
                certfile=s.cert_file or None,
                keyfile=s.key_file or None,
                tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )
        # The broker publishes this if the agent vanishes without a goodbye: "lost".
        client.will_set(self._topic(Kind.STATE), self._presence("offline", "lost"), qos=1, retain=True)
        client.reconnect_delay_set(1, max(1, int(s.reconnect_max_seconds)))
        client.max_inflight_messages_set(s.inflight)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        client.on_socket_open = _no_delay
        return client

    async def start(self) -> None:
        """Begin connecting in the background; the spool drains whenever the broker is there."""
        self._loop = asyncio.get_running_loop()
        self._client.connect_async(
            self.settings.host, self.settings.port, keepalive=self.settings.keepalive_seconds
        )
        self._client.loop_start()

    async def drain(self, timeout: float) -> None:
        """Wait (at most `timeout`) until the broker acknowledged every batch in the spool.

        A stopping agent gives batches in flight their acknowledgement instead of sending
        them again at the next start; without a broker it does not wait at all.
        """
        if not self.connected or not self._awaiting_acks():
            return
        self._idle.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), timeout)

    async def stop(self, timeout: float = 5.0) -> None:
        """Graceful stop: retained `offline` with reason `shutdown`, then disconnect (no Last Will)."""
        if self._asleep:
            return  # already said goodbye and disconnected (the PC announced its shutdown)
        # paho may have connected (and sent the birth) before the loop heard of it: a stop
        # right after a start must still replace that retained `online`.
        if self.connected or self._client.is_connected():
            info = self._client.publish(
                self._topic(Kind.STATE), self._presence("offline", "shutdown"), qos=1, retain=True
            )
            with contextlib.suppress(RuntimeError, ValueError):  # the broker went away meanwhile
                await asyncio.to_thread(info.wait_for_publish, timeout)
        self.connected = False  # from here on a disconnect is ours, not a lost broker
        self._client.disconnect()
        await asyncio.to_thread(self._client.loop_stop)
        if self._retry_handle:
            self._retry_handle.cancel()

    async def sleep(self, reason: str = "sleep", timeout: float = 2.0) -> None:
        """The PC goes to sleep (or shuts down): retained `offline` with `reason`, then a clean
        disconnect, so the broker drops the Last Will instead of calling the PC lost. The spool
        keeps whatever is measured meanwhile; `wake()` connects again."""
        if self._asleep:
            return
        self._asleep = True
        if self.connected:
            info = self._client.publish(
                self._topic(Kind.STATE), self._presence("offline", reason), qos=1, retain=True
            )
            with contextlib.suppress(RuntimeError, ValueError):
                await asyncio.to_thread(info.wait_for_publish, timeout)
        self.connected = False  # the disconnect is ours, not a lost broker
        self._client.disconnect()
        await asyncio.to_thread(self._client.loop_stop)
        log.info("announced %s to the broker; batches wait in the spool until the PC wakes", reason)

    async def wake(self) -> None:
        """The PC woke up: connect again (the birth says `online`) and send what waited."""
        if not self._asleep:
            return
        self._asleep = False
        self._client.connect_async(
            self.settings.host, self.settings.port, keepalive=self.settings.keepalive_seconds
        )
        self._client.loop_start()

    def publish_inventory(self, inventory: Inventory) -> None:
        """A new or changed inventory: every birth carries it from now on, and one goes out now.

        Re-publishing the retained birth is how a change travels: the collector sees the
        same `online` status (no presence change) with a new inventory. Not connected, the
        next connect's birth carries it.
        """
        self.inventory = inventory
        if self.connected:
            birth = self._presence("online", facts=self.facts, inventory=inventory)
            self._client.publish(self._topic(Kind.STATE), birth, qos=1, retain=True)

    def kick(self) -> None:
        """A new batch is in the spool: send it if the window allows."""
        self._fill()

    def send_unspooled(self, seq: int, payload: bytes) -> bool:
        """Publish a batch the spool could not store (QoS 1, its own number); False if not connected.

        Only the spool's own batches go through `_fill()` (it reads them back from the
        file); this one exists only here, so it is handed to paho at once, which queues it
        behind its in-flight window if need be and resends it after a reconnect.
        """
        if not self.connected:
            return False
        # stamped like every batch as it leaves, so the collector learns this PC's clock from it too
        stamped = protocol.stamp_sent(payload, self._clock())
        info = self._client.publish(self._topic(Kind.METRICS), stamped, qos=1)
        if info.rc == mqtt.MQTT_ERR_NO_CONN:
            # The connection went a moment ago: paho keeps the message and sends it after the reconnect.
            self.publish_failures_total += 1
        elif info.rc != mqtt.MQTT_ERR_SUCCESS:
            self.publish_failures_total += 1
            return False
        self._unspooled[info.mid] = seq
        return True

    # paho's thread -> the loop's thread

    def _call(self, fn: Any, *args: Any) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(fn, *args)

    def _on_connect(
        self, client: mqtt.Client, _u: Any, _f: Any, rc: ReasonCode, _p: Properties | None
    ) -> None:
        if rc.is_failure:
            self._call(self._connect_failed, str(rc))
            return
        birth = self._presence("online", facts=self.facts, inventory=self.inventory)
        client.publish(self._topic(Kind.STATE), birth, qos=1, retain=True)
        if self._commands is not None:
            # The session ends with the connection, so every connect subscribes again.
            client.subscribe(self._topic(Kind.CMD), qos=1)
        self._call(self._connected)

    def _on_disconnect(
        self, _c: mqtt.Client, _u: Any, _f: Any, rc: ReasonCode, _p: Properties | None
    ) -> None:
        self._call(self._disconnected, str(rc))

    def _on_publish(self, _c: mqtt.Client, _u: Any, mid: int, rc: ReasonCode, _p: Properties | None) -> None:
        self._call(self._acked, mid, rc.is_failure, str(rc))

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        props = message.properties
        correlation = getattr(props, "CorrelationData", None) if props is not None else None
        self._call(self._command, bytes(message.payload), correlation)

    # on the loop's thread

    def _connected(self) -> None:
        log.info("connected to broker %s", self.settings.broker)
        self.connected = True
        self._inflight.clear()
        self._unspooled.clear()  # paho resends those itself; their acknowledgements are not awaited
        self._sent_up_to = 0
        self._fill()

    def _connect_failed(self, reason: str) -> None:
        self.publish_failures_total += 1
        log.warning("broker %s refused the connection: %s", self.settings.broker, reason)

    def _disconnected(self, reason: str) -> None:
        if self.connected:
            log.warning("lost the broker %s (%s); batches wait in the spool", self.settings.broker, reason)
        self.connected = False
        self._inflight.clear()

    def _acked(self, mid: int, failed: bool, reason: str) -> None:
        unspooled = self._unspooled.pop(mid, None)
        if unspooled is not None:
            if failed:  # nothing keeps it: the round is lost, and the collector counts a gap
                self.publish_failures_total += 1
                log.warning("broker refused batch %d, which the spool could not hold: %s", unspooled, reason)
            if not self._awaiting_acks():
                self._idle.set()
            return
        seq = self._inflight.pop(mid, None)
        if seq is None:
            return  # the birth, or an acknowledgement from before a reconnect
        if failed:
            # The broker refused it (not authorized, quota): keep it, count it, try again later.
            self.publish_failures_total += 1
            log.warning("broker refused batch %d: %s; it stays in the spool", seq, reason)
            self._sent_up_to = min(self._sent_up_to, seq - 1)
            if self._retry_handle is None and self._loop is not None:
                self._retry_handle = self._loop.call_later(5.0, self._retry)
            return
        self._forget(seq)
        self._fill()
        if not self._awaiting_acks():
            self._idle.set()

    def _awaiting_acks(self) -> bool:
        """Batches published and not yet acknowledged: from the spool or past it."""
        return bool(self._inflight or self._unspooled)

    def _forget(self, seq: int) -> None:
        """Remove `seq` from the spool, and any acknowledged batch an earlier failure left there."""
        self._acknowledged.add(seq)
        try:
            for done in sorted(self._acknowledged):
                self.spool.remove(done)
                self._acknowledged.discard(done)
        except SpoolError as err:
            # Kept in memory and removed once the spool can be written (disk full meanwhile).
            if not self._remove_failing:
                log.warning("%s; acknowledged batches stay in the spool until it can be", err)
            self._remove_failing = True
            return
        self._remove_failing = False

    def _command(self, payload: bytes, correlation: bytes | None) -> None:
        if self._commands is None:
            return
        task = asyncio.get_running_loop().create_task(self._answer(self._commands, payload, correlation))
        self._answering.add(task)
        task.add_done_callback(self._answering.discard)

    async def _answer(self, commands: CommandSink, payload: bytes, correlation: bytes | None) -> None:
        result = await commands(payload)
        # Always our own reply topic, whatever response topic the request named: the broker
        # ACL lets an agent write only there, and the collector listens there.
        props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        if correlation is not None:
            props.CorrelationData = correlation
        info = self._client.publish(self._topic(Kind.REPLY), protocol.encode(result), qos=1, properties=props)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            log.warning("could not send the reply to command %s: not connected", result.command_id)

    def _retry(self) -> None:
        self._retry_handle = None
        self._fill()

    def _fill(self) -> None:
        if not self.connected or self._retry_handle is not None:
            return
        room = self.settings.inflight - len(self._inflight)
        if room <= 0:
            return
        topic = self._topic(Kind.METRICS)
        for seq, payload in self.spool.oldest(self._sent_up_to, room):
            # Stamped now, not when measured: the collector learns this PC's clock offset from
            # it, and a backlog from the spool keeps its true age (protocol.stamp_sent).
            info = self._client.publish(topic, protocol.stamp_sent(payload, self._clock()), qos=1)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                self.publish_failures_total += 1
                return  # disconnected meanwhile: the reconnect sends it again
            self._inflight[info.mid] = seq
            self._sent_up_to = seq


MAX_LOOP_WAIT_SECONDS = 5.0


class _Client(mqtt.Client):
    """paho's client, with its network thread waking less often when there is nothing to do.

    `loop_start()` runs `loop_forever()` with a 1 s wait, so an idle agent woke 60 times
    a minute at ~0.2 ms each: a fifth of all its CPU. Packets from the broker and our own
    publishes wake the loop at once anyway (paho signals it through a socket pair), so
    the wait only paces keepalive checks, for which a quarter of the keepalive is plenty.
    If paho ever renames `_thread_main`, this falls back to its own 1 s wait, nothing else.
    """

    def __init__(self, loop_wait_seconds: float, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._loop_wait_seconds = loop_wait_seconds

    def _thread_main(self) -> None:
        try:
            self.loop_forever(timeout=self._loop_wait_seconds, retry_first_connection=True)
        finally:
            self._thread = None


def _no_delay(_c: mqtt.Client, _u: Any, sock: Any) -> None:
    # A command is a small request answered by a small reply; with Nagle on, each waits
    # for the peer's delayed ACK (40 ms on Linux) at every hop. Batches do not mind either way.
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
