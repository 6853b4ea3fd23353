"""`deskwatch-collector agents enroll|bind|unbind|sites`: agents' broker credentials and sites.

`enroll NAME [--site S]` makes broker credentials (collector/enroll.py) and, with
`--site`, binds the agent to S in the collector's store. `bind NAME --site S` binds an
agent enrolled before without touching its password (`--rebind` to move it from another
site), `unbind NAME` removes a binding, `sites` lists them. The collector refuses what a
bound agent sends naming another site (collector/sites.py); it reads the bindings again
every 30 s, so a change takes effect within that without a restart.

The store is the one of `--db`, $DESKWATCH_DB or `--config` (like `token` and `user`).
"""

from __future__ import annotations

import argparse
import datetime
import time

from sqlalchemy import Engine

from collector import config, enroll, sites
from collector.db import make_engine, migrate
from collector.errors import CollectorError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="agents_command", required=True)
    enrolling = commands.add_parser(
        "enroll", help="make broker credentials for one agent (and bind its site)"
    )
    enroll.add_arguments(enrolling)
    config.store_arguments(enrolling)
    binding = commands.add_parser("bind", help="bind an enrolled agent to its site (its password stays)")
    binding.add_argument("name", help="the agent id")
    binding.add_argument("--site", required=True, help="the site the agent is at")
    binding.add_argument("--rebind", action="store_true", help="it is bound to another site: move it")
    config.store_arguments(binding)
    unbinding = commands.add_parser("unbind", help="let the agent name its site again")
    unbinding.add_argument("name", help="the agent id")
    config.store_arguments(unbinding)
    listing = commands.add_parser("sites", help="every bound agent and its site")
    config.store_arguments(listing)


def _store(args: argparse.Namespace) -> Engine:
    engine = make_engine(config.store_url(args))
    migrate(engine)
    return engine


def command(args: argparse.Namespace) -> int:
    if args.agents_command == "enroll":
        if args.site is None:
            return enroll.handle(args)  # no binding: the store is not touched
        enroll.check_site(args.site)
        engine = _store(args)
        try:
            return enroll.handle(args, engine)
        finally:
            engine.dispose()
    engine = _store(args)
    try:
        if args.agents_command == "bind":
            return _bind(engine, args)
        if args.agents_command == "unbind":
            before = sites.unbind(engine, args.name)
            if before is None:
                raise CollectorError(f"agent {args.name} is not bound to a site")
            print(f"agent {args.name} is no longer bound to site {before!r}; it names its site again")
            return 0
        with engine.connect() as conn:
            rows = conn.execute(sites.agent_site.select().order_by(sites.agent_site.c.agent_id)).all()
        for row in rows:
            when = datetime.datetime.fromtimestamp(row.bound_ns / 1e9, datetime.UTC)
            print(f"{row.agent_id}\t{row.site}\t{when.isoformat(timespec='seconds')}")
        return 0
    finally:
        engine.dispose()


def _bind(engine: Engine, args: argparse.Namespace) -> int:
    enroll.check_site(args.site)
    try:
        before = sites.bind(engine, args.name, args.site, time.time_ns(), replace=args.rebind)
    except sites.SiteConflict as err:
        raise CollectorError(
            f"agent {err.agent_id} is bound to site {err.bound!r} already; give --rebind to move it "
            f"to {args.site!r}"
        ) from err
    if before == args.site:
        print(f"agent {args.name} is bound to site {args.site!r} already")
        return 0
    moved = f" (was {before!r})" if before is not None else ""
    print(
        f"agent {args.name} bound to site {args.site!r}{moved}: the collector refuses what it sends "
        "naming another site (within 30 s)"
    )
    return 0
