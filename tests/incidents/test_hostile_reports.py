"""What one PC says cannot close, hide or swamp what the rest of the office reports.

Real broker, collector, snmpsim and agents (tests/incidents/office.py); the misbehaving PC
speaks the wire protocol through the broker like any agent.
"""

from __future__ import annotations

import time
from pathlib import Path

import psutil
import pytest

from agent import protocol
from agent.protocol import Batch, Severity, State
from tests.incidents.office import ERROR_STATE, SHARP, SimulatedPc, office, sharp
from tests.support.stored import FAULT_REPORT

pytestmark = pytest.mark.slow

JAM = f"device/{SHARP}/printer_paper_jam"
TEN_YEARS = 10 * 365 * 86400 * 1_000_000_000


def test_a_pc_ten_years_ahead_cannot_close_a_jam_another_pc_still_sees(tmp_path: Path) -> None:
    with office(tmp_path) as run:
        run.printer("sharp", {**sharp(), ERROR_STATE: "4x|0400"})  # jammed
        run.agent("pc-a", printers=("sharp",))
        ticket = run.wait_for_tickets({JAM})[JAM]
        ahead = SimulatedPc(run.broker, "pc-ahead", "office", battery=False, clock_ns=TEN_YEARS)
        run.laptops.append(ahead)
        for seq in range(1, 6):  # its clock says 2036: "no jam", newer than anything, every poll
            t = time.time_ns() + TEN_YEARS
            fine = State(SHARP, "printer_paper_jam", True, Severity.INFO, "", {"device": SHARP}, t)
            ahead.publish(Batch(v=protocol.PROTOCOL_VERSION, agent_id="pc-ahead", seq=seq + 1, created_ns=t,
                                site="office", states=[fine]))  # fmt: skip
            time.sleep(0.5)  # its pace: one report per poll, over a few incident cycles
        assert run.wait_for_tickets({JAM}, settle=4)[JAM]["id"] == ticket["id"]  # still open, still one
        port = run.silence_printer("sharp")
        run.printer("sharp", sharp(), port=port)  # the jam cleared: pc-a sees it fine
        run.wait_for_tickets(set())


def test_a_hundred_thousand_unique_states_from_one_pc_do_not_grow_the_collector(tmp_path: Path) -> None:
    with office(tmp_path) as run:
        wild = SimulatedPc(run.broker, "pc-wild", "office", battery=False)
        run.laptops.append(wild)
        collector = psutil.Process(run.collector.pid)
        start = collector.memory_info().rss
        rss = []
        for round_ in range(5):  # five rounds of 100,000 states, none the same: a broken agent's loop
            for n in range(100):
                t = time.time_ns()
                states = [
                    State(f"svc-{round_}-{n}-{i}", "tcp_reachable", False, Severity.WARNING, "refused", {}, t)
                    for i in range(1_000)
                ]
                seq = round_ * 100 + n + 2
                wild.publish(Batch(v=protocol.PROTOCOL_VERSION, agent_id="pc-wild", seq=seq, created_ns=t,
                                   site="office", states=states))  # fmt: skip
            run.wait("the collector took every batch", lambda r=round_: _accepted(run) >= 100 * (r + 1))
            # A fixed time: a few incident cycles over all of it (the engine shows no cycle count).
            time.sleep(2)
            rss.append(collector.memory_info().rss)
        steps = ", ".join(f"+{(b - a) / 2**20:.1f}" for a, b in zip([start, *rss], rss, strict=False))
        FAULT_REPORT.append(
            f"500,000 unique states from one agent, 100,000 at a time: collector RSS {steps} MiB "
            "(its bounded caches fill in the first 100,000; trust.max_states_per_agent = 2,000 kept)"
        )
        # what the collector keeps of one agent is bounded: more unique states cost nothing more
        later = (rss[4] - rss[1]) / 2**20
        assert later < 12, f"collector grew {later:.1f} MiB over the third to fifth 100,000"
        assert "agent pc-wild is over its limits" in run.collector.log()


def _accepted(run: object) -> float:
    metric = 'deskwatch_ingest_batches_total{result="accepted"}'
    return run.collector.metric(metric)  # type: ignore[attr-defined, no-any-return]
