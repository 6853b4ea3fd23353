"""Simulated agents: protocol-encoded Batches and Presence published with paho at QoS 1.

Stands in for the real agent in collector tests and bench/ingest.py. Every value is a
function of (agent, seq, index), so a test can say exactly what VictoriaMetrics must
hold. One MQTT connection publishes for many agent ids (topic per agent), as a broker
sees it; the real agent opens one connection each.
"""

from __future__ import annotations

import json
import ssl
import threading
import urllib.parse
import urllib.request
from collections.abc import Iterable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from agent.protocol import (
    DEFAULT_PREFIX,
    PROTOCOL_VERSION,
    AgentFacts,
    Batch,
    Kind,
    Presence,
    Sample,
    State,
    encode,
    topic,
)

SAMPLES_PER_BATCH = 60
_MEASUREMENTS = ("cpu", "disk", "net", "memory", "process")
_UNITS = ("C:\\", "eth 0", "intranet,dns", "sda=1")  # values that need escaping


def value(agent_index: int, seq: int, index: int) -> float:
    """The value sample `index` of batch `seq` of agent `agent_index` carries."""
    return float(agent_index * 1_000_000 + seq * 100 + index) + 0.25


def agent_id(index: int) -> str:
    return f"pc-{index:05d}"


def make_batch(
    agent_index: int,
    seq: int,
    created_ns: int,
    site: str = "hq",
    samples: int = SAMPLES_PER_BATCH,
    with_state: bool = False,
) -> Batch:
    """A realistic batch: `samples` one-field samples over a few measurements, plus `fake_seq`."""
    items = [Sample("fake", {"seq": seq}, time_ns=created_ns)]
    for index in range(samples - 1):
        measurement = _MEASUREMENTS[index % len(_MEASUREMENTS)]
        items.append(
            Sample(
                measurement,
                {"value": value(agent_index, seq, index)},
                # Like real sources: tags name the thing measured (a core, a mount, a target),
                # so the same tag sets recur across agents; agent_id and site come from the batch.
                tags={"item": f"i{index:02d}", "unit": _UNITS[index % len(_UNITS)]},
                time_ns=created_ns,
            )
        )
    states = (
        [State(subject="dns:intranet", condition="dns_resolves", ok=seq % 2 == 0, observed_ns=created_ns)]
        if with_state
        else []
    )
    return Batch(
        v=PROTOCOL_VERSION,
        agent_id=agent_id(agent_index),
        seq=seq,
        created_ns=created_ns,
        site=site,
        samples=items,
        states=states,
    )


def birth(agent_index: int, time_ns: int, site: str = "hq", interval_seconds: float = 1.0) -> Presence:
    facts = AgentFacts(
        version="test", host=f"host {agent_index}", os="linux", interval_seconds=interval_seconds
    )
    return Presence(
        v=PROTOCOL_VERSION,
        agent_id=agent_id(agent_index),
        status="online",
        time_ns=time_ns,
        site=site,
        facts=facts,
    )


class Publisher:
    """One MQTT v5 connection publishing for any number of agents at QoS 1."""

    def __init__(
        self,
        url: str,
        prefix: str = DEFAULT_PREFIX,
        client_id: str = "",
        username: str = "",
        password: str = "",
        ca_file: str = "",
    ) -> None:
        """`mqtts://` (with `ca_file`) and a user name log in as an agent does on the production broker."""
        parsed = urllib.parse.urlsplit(url)
        self.prefix = prefix
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        self._client.max_inflight_messages_set(1000)
        self._client.max_queued_messages_set(0)
        if username:
            self._client.username_pw_set(username, password)
        if parsed.scheme == "mqtts":
            self._client.tls_set(ca_certs=ca_file or None, tls_version=ssl.PROTOCOL_TLS_CLIENT)
        self._connected = threading.Event()
        self._connack: list[ReasonCode] = []
        self._client.on_connect = lambda _c, _u, _f, code, _p: (
            self._connack.append(code),
            self._connected.set(),
        )
        # The broker's PUBACK reason codes that are not success (an ACL refusal is 0x87).
        self.refused: list[int] = []
        self._client.on_publish = self._on_publish
        self._client.connect(parsed.hostname or "127.0.0.1", parsed.port or 1883)
        self._client.loop_start()
        if not self._connected.wait(10):
            raise TimeoutError(f"cannot connect to {url}")
        if self._connack[0].is_failure:
            self._client.loop_stop()
            raise ConnectionRefusedError(f"{url} refused {username or 'the connection'}: {self._connack[0]}")
        self._infos: list[mqtt.MQTTMessageInfo] = []

    def _on_publish(
        self, _client: mqtt.Client, _userdata: Any, _mid: int, code: ReasonCode, _props: Properties
    ) -> None:
        if code.is_failure:
            self.refused.append(code.value)

    def publish_raw(self, topic_name: str, payload: bytes, retain: bool = False) -> None:
        self._infos.append(self._client.publish(topic_name, payload, qos=1, retain=retain))

    def publish(self, message: Batch | Presence) -> None:
        kind = Kind.METRICS if isinstance(message, Batch) else Kind.STATE
        self.publish_raw(
            topic(self.prefix, message.agent_id, kind), encode(message), retain=kind is Kind.STATE
        )

    def wait(self, timeout: float = 30.0) -> None:
        """Return once the broker acknowledged everything published so far."""
        for info in self._infos:
            info.wait_for_publish(timeout)
        self._infos.clear()

    def close(self) -> None:
        self.wait()
        self._client.disconnect()
        self._client.loop_stop()


def query(vm_url: str, promql: str) -> list[dict[str, Any]]:
    """An instant PromQL query against VictoriaMetrics; the `result` list."""
    url = f"{vm_url}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(url, timeout=30) as resp:
        body = json.load(resp)
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def stored_values(vm_url: str, selector: str, window: str = "1h") -> dict[str, list[tuple[int, float]]]:
    """Raw samples per agent_id for `selector` over `window`, via a range-vector instant query."""
    series: dict[str, list[tuple[int, float]]] = {}
    for item in query(vm_url, f"{selector}[{window}]"):
        points = [(round(float(ts) * 1000), float(v)) for ts, v in item["values"]]
        series.setdefault(item["metric"].get("agent_id", ""), []).extend(points)
    return series


def stored_seqs(
    vm_url: str, agent_ids: Iterable[str] | None = None, window: str = "1h"
) -> dict[str, list[int]]:
    """The sequence numbers VictoriaMetrics holds per agent (the `fake_seq` sample of each batch)."""
    wanted = set(agent_ids) if agent_ids is not None else None
    return {
        agent: sorted(int(v) for _, v in points)
        for agent, points in stored_values(vm_url, "fake_seq", window).items()
        if wanted is None or agent in wanted
    }


def flushed_seqs(vm_url: str, agent_ids: Iterable[str] | None = None) -> dict[str, list[int]]:
    """stored_seqs() of everything written so far (VictoriaMetrics flushed first)."""
    flush_vm(vm_url)
    return stored_seqs(vm_url, agent_ids)


def flush_vm(vm_url: str) -> None:
    """Make everything VictoriaMetrics received searchable now (it otherwise waits about a second)."""
    with urllib.request.urlopen(f"{vm_url}/internal/force_flush", timeout=30):
        pass
