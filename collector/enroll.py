"""`deskwatch-collector agents enroll NAME`: broker credentials for one more agent.

Each agent logs in to the broker with its agent id as user name and a password of its
own, so the broker ACL (deploy/mosquitto/acl) can confine it to `deskwatch/v1/<id>/...`:
the ACL's `pattern` lines, keyed by user name, are the per-agent entries, and enrolling
makes sure the ACL file has them. The password is added to Mosquitto's password file
with `mosquitto_passwd` (hashed there) and printed once, as the last line, for the PC.
"""

from __future__ import annotations

import argparse
import secrets
import shutil
import subprocess
from pathlib import Path

from agent import protocol
from collector.errors import CollectorError

DEFAULT_PASSWD = "/etc/mosquitto/deskwatch/passwd"
DEFAULT_ACL = "/etc/mosquitto/deskwatch/acl"
ACL_PATTERNS = (
    "pattern write {prefix}/%u/state",
    "pattern write {prefix}/%u/metrics",
    "pattern write {prefix}/%u/reply",
    "pattern read {prefix}/%u/cmd",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="agents_command", required=True)
    enroll = sub.add_parser("enroll", help="make broker credentials for one agent")
    enroll.add_argument("name", help="the agent id (also its broker user name)")
    enroll.add_argument(
        "--passwd-file", default=DEFAULT_PASSWD, help=f"Mosquitto password file ({DEFAULT_PASSWD})"
    )
    enroll.add_argument("--acl-file", default=DEFAULT_ACL, help=f"Mosquitto ACL file ({DEFAULT_ACL})")
    enroll.add_argument(
        "--broker", default="mqtts://BROKER:8883", help="broker URL to put in the agent's config"
    )
    enroll.add_argument("--prefix", default=protocol.DEFAULT_PREFIX)


def handle(args: argparse.Namespace) -> int:
    name: str = args.name
    if not protocol.is_valid_agent_id(name):
        raise CollectorError(
            f"agent id {name!r} may hold only letters, digits, '.', '_' and '-' (1 to 64 characters)"
        )
    tool = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
    if not Path(tool).exists():
        raise CollectorError("mosquitto_passwd is not installed (Debian package mosquitto)")
    passwd = Path(args.passwd_file)
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
    print("reload the broker so it reads them: systemctl reload mosquitto (or send it SIGHUP)")
    print("in the PC's agent.toml:")
    print(f'  agent_id = "{name}"\n  [mqtt]\n  broker = "{args.broker}"\n  username = "{name}"')
    print('  password_file = "/etc/deskwatch/mqtt-password"   # the line below; only the agent reads it')
    print(password)
    return 0


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
