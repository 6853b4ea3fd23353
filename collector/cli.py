"""deskwatch-collector: `run` the service, inspect and replay the dead-letter store.

Subcommands live in `COMMANDS`, a table of name -> (add arguments, handle); another
subsystem adds its own with one entry (`token create`, `signing-key`, `agents enroll`).
"""

from __future__ import annotations

import argparse
import datetime
import gc
import logging
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType

from collector import agents_cli, deadletter, line_protocol, token_cli, user_cli
from collector import config as config_module
from collector.config import CollectorConfig
from collector.db import make_engine, migrate
from collector.errors import CollectorError
from collector.logs import setup_logging
from collector.rules.settings import SettingsError

log = logging.getLogger(__name__)

AddArguments = Callable[[argparse.ArgumentParser], None]
Handle = Callable[[argparse.Namespace], int]


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="collector.toml (default: built-in defaults)")
    parser.add_argument("--broker", help="MQTT broker URL, mqtt://HOST:PORT or mqtts://...")
    parser.add_argument("--metrics-url", help="VictoriaMetrics (or InfluxDB 2) base URL")
    parser.add_argument("--db", help="collector store URL (sqlite:///FILE or postgresql://...)")
    parser.add_argument("--listen", help="HTTP HOST:PORT for /metrics, /healthz and the API")


def load_config(args: argparse.Namespace) -> CollectorConfig:
    """The config file named by --config with the flags applied on top."""
    config = config_module.load(args.config)
    return config_module.with_overrides(
        config, broker=args.broker, metrics_url=args.metrics_url, db=args.db, listen=args.listen
    )


def _run_arguments(parser: argparse.ArgumentParser) -> None:
    _common(parser)


def run(args: argparse.Namespace) -> int:
    """Run the collector until SIGTERM or SIGINT."""
    from collector.app import build

    config = load_config(args)
    setup_logging(config.log.level)
    collector = build(config)
    stop = threading.Event()

    def _on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    collector.start()
    _tune_gc()
    if line_protocol.DISABLED:
        log.warning(
            "the C line builder is switched off (%s): ingest takes two to three times the CPU",
            line_protocol.NO_C_LINES,
        )
    elif not line_protocol.native():
        log.warning(
            "the C line builder (collector/_lines.c) is not built on this machine: ingest takes two to "
            "three times the CPU; install gcc and the Python headers and reinstall deskwatch to build it"
        )
    stop.wait()
    collector.stop()
    return 0


def _tune_gc() -> None:
    """Keep the cyclic garbage collector off the ingest path.

    Ingest allocates millions of short-lived containers a minute (decoded batches, line
    strings) and almost none of them can form cycles, yet CPython's default thresholds
    would scan the heap every 700 allocations: a quarter of the CPU at a high message rate.
    Everything built at startup (modules, the app, the rules) is frozen out of the scans,
    and the youngest generation is scanned every 50,000 allocations instead.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def _deadletter_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="the newest dead letters, one a line")
    _common(listing)
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--reason", help="only this reason code (e.g. malformed_json, agent_id_mismatch)")
    show = actions.add_parser("show", help="one dead letter with its payload")
    _common(show)
    show.add_argument("id", type=int)
    replay = actions.add_parser(
        "replay", help="take dead letters through ingest again (no broker needed); delete those stored"
    )
    _common(replay)
    replay.add_argument("ids", type=int, nargs="+")


def _when(ns: int) -> str:
    return datetime.datetime.fromtimestamp(ns / 1e9, datetime.UTC).isoformat(timespec="seconds")


def deadletter_command(args: argparse.Namespace) -> int:
    """`deadletter list|show|replay`."""
    config = load_config(args)
    engine = make_engine(config.store.url)
    migrate(engine)
    if args.action == "list":
        for letter in deadletter.recent(engine, args.limit, args.reason):
            print(
                f"{letter.id}\t{_when(letter.received_ns)}\t{letter.reason_code}\t{letter.topic}\t{letter.reason}"
            )
        return 0
    if args.action == "show":
        letter = deadletter.get(engine, args.id)
        print(f"id:      {letter.id}\nreceived: {_when(letter.received_ns)}\ntopic:   {letter.topic!r}")
        print(f"reason:  {letter.reason_code}: {letter.reason!r}")
        kept = "" if letter.complete else f" (the first {len(letter.payload)} kept)"
        print(f"payload: {letter.size} bytes{kept}, sha256 {letter.sha256 or '-'}")
        print(letter.payload.decode("utf-8", errors="backslashreplace"))
        return 0
    from collector.replay import replay

    results = replay(config, engine, args.ids)
    for result in results:
        print(f"{result.letter_id}\t{result.result}" + (f"\t{result.reason}" if result.reason else ""))
    deleted = sum(1 for r in results if r.deleted)
    print(f"replayed {deleted} of {len(args.ids)}; {len(args.ids) - deleted} kept")
    return 0 if deleted == len(args.ids) else 1


def _signing_key_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="collector.toml (default: built-in defaults)")
    parser.add_argument("--db", help="collector store URL (sqlite:///FILE or postgresql://...)")


def signing_key_command(args: argparse.Namespace) -> int:
    """`signing-key`: print the public key agents verify commands with (made on first use)."""
    from collector.diagnostics import public_key_text, signing_key

    config = config_module.with_overrides(config_module.load(args.config), db=args.db)
    engine = make_engine(config.store.url)
    try:
        migrate(engine)
        key = signing_key(engine, config_module.signing_key_path(config))
    finally:
        engine.dispose()
    print("the collector's command signing key; give agents this public key as")
    print("command_key in agent.toml or with --command-key:")
    print(public_key_text(key))
    return 0


COMMANDS: dict[str, tuple[str, AddArguments, Handle]] = {
    "run": ("run the collector service", _run_arguments, run),
    "deadletter": ("inspect and replay rejected messages", _deadletter_arguments, deadletter_command),
    "agents": (
        "broker credentials and sites of agents (agents enroll|bind|unbind|sites)",
        agents_cli.add_arguments,
        agents_cli.command,
    ),
    "token": ("manage API tokens (token create|list|revoke)", token_cli.add_arguments, token_cli.command),
    "user": ("console users (user add|list|remove|passwd)", user_cli.add_arguments, user_cli.command),
    "signing-key": (
        "print the public key agents verify commands with",
        _signing_key_arguments,
        signing_key_command,
    ),
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of deskwatch-collector."""
    parser = argparse.ArgumentParser(prog="deskwatch-collector")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, (help_text, add_arguments, _) in COMMANDS.items():
        add_arguments(commands.add_parser(name, help=help_text))
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command][2](args)
    except (CollectorError, SettingsError) as err:
        print(f"deskwatch-collector: {err}", file=sys.stderr)
        return 2
