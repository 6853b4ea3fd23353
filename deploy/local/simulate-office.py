"""A simulated office for the Quick start: two printers and a modem answering SNMP.

Each device is a real recorded walk (../shared/data/snmp, from LibreNMS's test suite)
served by snmpsim on its own loopback port: the Sharp MX printer as recorded (it
reports "toner low", so a ticket opens by itself), a Dell laser printer that is fine,
and a DrayTek modem. Writes {"name": port} to the file given, then serves until SIGTERM.

    python deploy/local/simulate-office.py PORTS.json
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.support.snmpsim import SnmpSim, walk_paths  # noqa: E402 - the checkout's own simulator harness

DEVICES = {"sharp": "printers", "dell-laser_s5830dn": "printers", "draytek": "network"}


def main() -> int:
    out = Path(sys.argv[1])
    walks = walk_paths()
    missing = [name for name in DEVICES if name not in walks]
    if missing:
        print(f"simulate-office: no recorded walks {missing} (is ../shared/data/snmp there?)", file=sys.stderr)
        return 2
    sims: dict[str, SnmpSim] = {}
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        for name in DEVICES:
            sim = SnmpSim()
            sim.add_walk(walks[name], name)
            sim.start()
            sims[name] = sim
        out.write_text(json.dumps({name: sim.port for name, sim in sims.items()}))
        stop.wait()
    finally:
        for sim in sims.values():
            sim.stop()
        out.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
