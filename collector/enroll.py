"""`deskwatch-collector agents enroll NAME`: broker credentials for one more agent.

Each agent logs in to the broker with its agent id as user name and a password of its
own, so the broker ACL (deploy/mosquitto/acl) can confine it to `deskwatch/v1/<id>/...`:
the ACL's `pattern` lines, keyed by user name, are the per-agent entries, and enrolling
makes sure the ACL file has them. The password is added to Mosquitto's password file
with `mosquitto_passwd` (hashed there) and printed once, as the last line, for the PC.

An id already in the password file is refused unless `--rotate` is given (enrolling it
again would change the password under a running PC, which then loses the broker), and so
is every user the ACL file names in a `user` section, such as the collector itself:
those are services, not agents, and their password is not enroll's to change.

`--site S` also binds the agent to site S in the collector's store (collector/sites.py):
ingest then refuses whatever it sends naming another site. An agent bound to another
site is moved only together with `--rotate` (re-enrolling it); without `--site` the store
is not touched. collector/agents_cli.py wires the command and finds the store.
"""

from __future__ import annotations

import argparse
import secrets
import shutil
import subprocess
import time
from pathlib import Path

from sqlalchemy import Engine

from agent import protocol
from collector import sites
from collector.errors import CollectorError

DEFAULT_PASSWD = "/etc/mosquitto/deskwatch/passwd"
DEFAULT_ACL = "/etc/mosquitto/deskwatch/acl"
COLLECTOR_USER = "deskwatch-collector"  # the collector's user in deploy/mosquitto/acl
ACL_PATTERNS = (
    "pattern write {prefix}/%u/state",
    "pattern write {prefix}/%u/metrics",
    "pattern write {prefix}/%u/reply",
    "pattern read {prefix}/%u/cmd",
)


def add_arguments(enroll: argparse.ArgumentParser) -> None:
    """The arguments of `agents enroll` (collector/agents_cli.py adds the store's)."""
    enroll.add_argument("name", help="the agent id (also its broker user name)")
    enroll.add_argument(
        "--passwd-file", default=DEFAULT_PASSWD, help=f"Mosquitto password file ({DEFAULT_PASSWD})"
    )
    enroll.add_argument("--acl-file", default=DEFAULT_ACL, help=f"Mosquitto ACL file ({DEFAULT_ACL})")
    enroll.add_argument(
        "--broker", default="mqtts://BROKER:8883", help="broker URL to put in the agent's config"
    )
    enroll.add_argument("--prefix", default=protocol.DEFAULT_PREFIX)
    enroll.add_argument(
        "--rotate",
        action="store_true",
        help="the agent is enrolled already: give it a new password (its PC needs the new one); "
        "with --site, also moves it to that site if it is bound to another",
    )
    enroll.add_argument(
        "--site",
        help="bind the agent to this site in the collector's store: the collector refuses whatever "
        "it sends naming another site (default: not bound, the PC names its site)",
    )


def check_site(site: str) -> None:
    """Refuse a site the protocol would refuse in a batch (the binding must be one a PC can name)."""
    if not site or len(site) > 64:
        raise CollectorError(f"site {site!r} must be 1 to 64 characters")


def handle(args: argparse.Namespace, store: Engine | None = None) -> int:
    """Enroll `args.name`; with `args.site`, bind it in `store` (which must then be given)."""
    name: str = args.name
    site: str | None = args.site
    if not protocol.is_valid_agent_id(name):
        raise CollectorError(
            f"agent id {name!r} may hold only letters, digits, '.', '_' and '-' (1 to 64 characters)"
        )
    if site is not None:
        check_site(site)
    tool = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
    if not Path(tool).exists():
        raise CollectorError("mosquitto_passwd is not installed (Debian package mosquitto)")
    passwd = Path(args.passwd_file)
    services = service_users(Path(args.acl_file))
    if name in services:
        raise CollectorError(
            f"{name!r} is the broker user of a service ({args.acl_file} has `user {name}`), not an agent: "
            "enrolling it would replace that service's password"
        )
    if name in enrolled(passwd) and not args.rotate:
        raise CollectorError(
            f"agent {name} is enrolled already in {passwd}; a new password would lock out the PC that "
            "uses the current one. Give --rotate to replace it (then update that PC's password file)"
            + (f", or `agents bind {name} --site {site}` to bind it without a new password" if site else "")
        )
    if site is not None:
        if store is None:
            raise CollectorError("--site needs the collector's store (--db or --config)")
        with store.connect() as conn:
            bound = sites.bound_site(conn, name)
        if bound not in (None, site) and not args.rotate:
            raise CollectorError(
                f"agent {name} is bound to site {bound!r} already; give --rotate to re-enroll it at {site!r}"
            )
    password = secrets.token_urlsafe(24)
    create = [] if passwd.exists() else ["-c"]
    passwd.parent.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [tool, *create, "-b", str(passwd), name, password], capture_output=True, text=True
    )
    if result.returncode != 0:
        raise CollectorError(
            f"mosquitto_passwd failed for {passwd}: {result.stderr.strip() or result.stdout.strip()}"
        )
    added = ensure_acl(Path(args.acl_file), args.prefix)
    print(
        f"agent {name} enrolled in {passwd}" + (f"; ACL patterns added to {args.acl_file}" if added else "")
    )
    if site is not None and store is not None:
        try:
            before = sites.bind(store, name, site, time.time_ns(), replace=True)
        except Exception as err:
            raise CollectorError(
                f"agent {name} has its new password in {passwd}, but binding it to site {site!r} failed "
                f"({err}); run `deskwatch-collector agents bind {name} --site {site}`"
            ) from err
        moved = f" (was {before!r})" if before not in (None, site) else ""
        print(
            f"agent {name} bound to site {site!r}{moved}: the collector refuses what it sends naming another"
        )
    print("reload the broker so it reads them: systemctl reload mosquitto (or send it SIGHUP)")
    print("in the PC's agent.toml:")
    print(f'  agent_id = "{name}"' + (f'\n  site = "{site}"' if site is not None else ""))
    print(f'  [mqtt]\n  broker = "{args.broker}"\n  username = "{name}"')
    print('  password_file = "/etc/deskwatch/mqtt-password"   # the line below; only the agent reads it')
    print(password)
    return 0


def enrolled(passwd: Path) -> set[str]:
    """The user names in a Mosquitto password file (`user:hash` lines)."""
    try:
        text = passwd.read_text()
    except FileNotFoundError:
        return set()
    except OSError as err:
        raise CollectorError(f"cannot read {passwd}: {err.strerror}") from err
    return {line.split(":", 1)[0] for line in text.splitlines() if ":" in line and not line.startswith("#")}


def service_users(acl: Path) -> set[str]:
    """Users with a `user` section in the ACL file (the collector), plus the collector's default name."""
    try:
        text = acl.read_text()
    except FileNotFoundError:
        text = ""
    except OSError as err:
        raise CollectorError(f"cannot read {acl}: {err.strerror}") from err
    named = {line.split(None, 1)[1].strip() for line in text.splitlines() if line.startswith("user ")}
    return named | {COLLECTOR_USER}


def ensure_acl(path: Path, prefix: str) -> bool:
    """Add the per-agent pattern lines to the ACL file unless it has them; True if added."""
    lines = [p.format(prefix=prefix) for p in ACL_PATTERNS]
    text = path.read_text() if path.exists() else ""
    missing = [line for line in lines if line not in text.splitlines()]
    if not missing:
        return False
    # Patterns apply to every user; they go first, before any `user` section.
    header = "# deskwatch agents: each may write only its own topics and read only its own commands.\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + "\n".join(missing) + "\n\n" + text)
    return True
