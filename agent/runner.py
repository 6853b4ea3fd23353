"""The agent as a service: spool, publisher and scheduler wired together until a signal stops it."""

from __future__ import annotations

import asyncio
import logging
import platform
import signal
import socket
import time
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any, Protocol

import msgspec
import psutil

from agent import inventory, power, protocol
from agent.config import AgentConfig
from agent.protocol import AgentFacts, Batch, CommandResult, Sample, State
from agent.publisher import Publisher
from agent.scheduler import Scheduler, SourceRun, split
from agent.sources import close_sources
from agent.spool import Spool

if TYPE_CHECKING:
    from agent.windows.power import OnPower

log = logging.getLogger(__name__)

# How long a stop waits for the broker to acknowledge batches already in flight.
DRAIN_SECONDS = 3.0


class PowerSource(Protocol):
    """Where sleep, resume and shutdown come from (the Windows service's PowerRelay)."""

    def subscribe(self, callback: OnPower) -> None: ...


def agent_version() -> str:
    try:
        return version("deskwatch")
    except PackageNotFoundError:
        return "0+unknown"


def facts(config: AgentConfig) -> AgentFacts:
    """What the birth message says about this agent and its PC."""
    return AgentFacts(
        version=agent_version(),
        host=socket.gethostname()[:256],
        os=platform.platform()[:256],
        interval_seconds=config.interval_seconds,
        started_ns=time.time_ns(),
        battery=has_battery(),
        always_on=config.always_on,
    )


def has_battery() -> bool:
    """True on a laptop: the collector expects such a PC to come and go."""
    try:
        return psutil.sensors_battery() is not None
    except (AttributeError, OSError, RuntimeError):  # no battery API on this platform
        return False


class LazyCommands:
    """The diagnostics, loaded on the first command instead of at start.

    The checks and the signature code (cryptography) cost ~8 MiB of the agent's memory;
    most PCs go weeks without a command, so they pay only when the helpdesk asks.
    """

    def __init__(self, config: AgentConfig, agent_id: str) -> None:
        self._config = config
        self._agent_id = agent_id
        self._started_ns = time.time_ns()
        self._handler: Any = None

    async def handle(self, payload: bytes) -> CommandResult:
        if self._handler is None:
            try:
                self._load()
            except (ImportError, OSError) as err:  # a broken install: say so to the helpdesk
                log.error("diagnostics cannot load, commands refused: %s", err)
                return CommandResult(
                    v=protocol.PROTOCOL_VERSION,
                    command_id=_quoted_id(payload),
                    agent_id=self._agent_id,
                    status="rejected",
                    error=f"diagnostics cannot load on this agent: {err}",
                )
        result: CommandResult = await self._handler.handle(payload)
        return result

    def _load(self) -> None:
        from agent.diagnostics.context import Context
        from agent.diagnostics.handler import CommandHandler
        from agent.diagnostics.security import load_public_key

        key = None
        if self._config.command_key:
            try:
                key = load_public_key(self._config.command_key)
            except ValueError as err:  # every command is then refused for want of a key
                log.error("command_key unusable, diagnostics refused: %s", err)
        context = Context(network=self._config.network, snmp=self._config.snmp)
        spool = self._config.spool_path
        self._handler = CommandHandler(
            self._agent_id,
            key,
            self._config.commands,
            context,
            started_ns=self._started_ns,
            nonce_file=spool.with_name(spool.name + ".nonces"),  # beside the spool, as private
        )


class _QuotedId(msgspec.Struct):
    id: str = ""


def _quoted_id(payload: bytes) -> str:
    """The id of a command this agent cannot read properly, to quote back in its refusal."""
    try:
        return msgspec.json.decode(payload, type=_QuotedId).id[:64]
    except (msgspec.DecodeError, TypeError):
        return ""


def source_runs(config: AgentConfig) -> list[SourceRun]:
    return [
        SourceRun(name, collect, settings, interval)
        for name, collect, settings, interval in enabled_sources(config)
    ]


def power_handler(publisher: Publisher, stop: asyncio.Event | None = None) -> power.PowerHandler:
    """What the agent does when the PC sleeps, wakes or shuts down (agent/power.py).

    Sleep and shutdown: the goodbye with its reason, and a clean disconnect, so the broker
    drops the Last Will and the collector sees the PC asleep or shut down, not lost. Resume:
    connect again and send what waited. With `stop` (the Windows service, which is ended
    right after) a shutdown also stops the agent; logind may still cancel a shutdown, so on
    Linux the service manager's own stop follows instead.
    """

    async def on_power(event: power.PowerEvent) -> None:
        if event == "resume":
            log.info("the PC woke up")
            await publisher.wake()
            publisher.kick()
            return
        await publisher.sleep(event)
        if event == "shutdown" and stop is not None:
            stop.set()

    return on_power


def relayed(handler: power.PowerHandler) -> Callable[[power.PowerEvent], None]:
    """`handler` for a caller on the event loop that cannot wait (the Windows service's relay)."""
    running: set[asyncio.Task[None]] = set()

    def on_power(event: power.PowerEvent) -> None:
        task = asyncio.get_running_loop().create_task(handler(event))
        running.add(task)
        task.add_done_callback(running.discard)

    return on_power


async def run(
    config: AgentConfig, stop: asyncio.Event | None = None, power_source: PowerSource | None = None
) -> None:
    """Collect and publish until `stop` is set (by default: on SIGTERM or SIGINT), then say goodbye.

    The Windows service passes its own `stop` (set by the service manager's stop control)
    and `power_source`, whose sleep, resume and shutdown events go to `power_handler`; on
    Linux they come from logind (agent/power.py).
    """
    agent_id = config.resolved_agent_id
    spool = Spool.for_agent(config.spool_path, config.spool.max_bytes)
    if not spool.opened:
        log.error("cannot open the spool %s: rounds are sent without it until it opens", config.spool_path)
    commands = LazyCommands(config, agent_id)
    publisher = Publisher(config.mqtt, agent_id, config.site, facts(config), spool, commands.handle)
    scheduler = Scheduler(
        agent_id,
        config.site,
        source_runs(config),
        spool,
        jitter_seconds=config.jitter_seconds,
        on_batch=publisher.kick,
        publish_failures=lambda: publisher.publish_failures_total,
        connected=lambda: publisher.connected,
        send_unspooled=publisher.send_unspooled,
    )
    if stop is None:
        stop = asyncio.Event()
        _stop_on_signals(stop)
    if power_source is not None:
        power_source.subscribe(relayed(power_handler(publisher, stop)))
    log.info(
        "agent %s (site %r) publishing to %s; spool %s", agent_id, config.site, config.mqtt.broker, spool.path
    )
    # The inventory is read before connecting, so the first birth already carries it.
    tasks: list[asyncio.Task[None]] = []
    if config.inventory.enabled:
        first = await inventory.read_safely(config.inventory)
        if first is not None:
            publisher.inventory = first
        keep = inventory.keep_current(config.inventory, publisher.publish_inventory, stop, first)
        tasks.append(asyncio.create_task(keep, name="inventory"))
    await publisher.start()
    watcher = await power.watch(power_handler(publisher)) if power_source is None else None
    try:
        await scheduler.run(stop)
    finally:
        if watcher is not None:
            watcher.stop()
        for task in tasks:
            task.cancel()
        await publisher.drain(DRAIN_SECONDS)
        log.info("stopping: %d batches wait in the spool", spool.stats().depth)
        await publisher.stop()
        close_sources()
        spool.close()


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # Windows: Ctrl+C in a console
            signal.signal(sig, lambda *_: loop.call_soon_threadsafe(stop.set))


async def collect_once(config: AgentConfig) -> Batch:
    """Every enabled source once, as one batch (sequence 0); needs no broker and no spool."""
    now_ns = time.time_ns()
    runs = source_runs(config)
    try:
        results: list[Any] = await asyncio.gather(
            *(r.collect(r.settings, now_ns) for r in runs), return_exceptions=True
        )
    finally:
        close_sources()
    observations: list[Sample | State] = []
    for run_, result in zip(runs, results, strict=True):
        if isinstance(result, BaseException):
            observations.append(
                State(
                    "agent",
                    "source_ok",
                    False,
                    protocol.Severity.WARNING,
                    f"source {run_.name} failed: {result!r}"[:1000],
                    {"source": run_.name},
                    now_ns,
                )
            )
        else:
            observations.extend(result)
    samples, states = split(observations, now_ns)
    return Batch(
        v=protocol.PROTOCOL_VERSION,
        agent_id=config.resolved_agent_id,
        seq=0,
        created_ns=time.time_ns(),
        site=config.site,
        samples=samples,
        states=states,
    )


__all__ = ["collect_once", "facts", "run"]


def enabled_sources(config: AgentConfig) -> list[tuple[str, Any, msgspec.Struct, float]]:
    """(name, collect, settings, interval) of every source agent.toml enables."""
    from agent.sources import host, network

    table: list[tuple[str, Any, Any]] = [
        ("host", host.collect, config.host),
        ("network", network.collect, config.network),
    ]
    if config.snmp.enabled:
        from agent.sources import snmp  # pysnmp loads only where SNMP is switched on

        table.append(("snmp", snmp.collect, config.snmp))
    return [
        (name, collect, settings, settings.interval_seconds or config.interval_seconds)
        for name, collect, settings in table
        if settings.enabled
    ]
