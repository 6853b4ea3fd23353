"""Two collector workers that see the same events open one incident, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading

from collector.db import make_engine, migrate
from collector.incidents.model import IncidentFilter
from tests.incidents.fleet import T0, S, batch, engine_for, notices, routed_store, state


def test_two_workers_racing_open_one_incident_and_queue_one_notice_per_change(store_url: str) -> None:
    engine = make_engine(store_url)
    migrate(engine)
    workers = [engine_for(routed_store(make_engine(store_url))) for _ in range(2)]
    rounds = 8
    barrier = threading.Barrier(len(workers))

    def work(worker_index: int) -> None:
        worker = workers[worker_index]
        for n in range(rounds):
            t = T0 + n * 30 * S
            ok = n >= 4  # toner low for four cycles, then replaced
            for pc in range(5):
                worker.observe_batch(
                    batch(f"pc-{pc}", t, states=[state("SNRACE", "printer_toner_low", ok, t)]), t
                )
            barrier.wait()
            worker.evaluate(t)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(workers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    store = workers[0].store
    found, total = store.list_incidents(IncidentFilter())
    assert total == 1
    assert found[0].status == "resolved"
    assert [n for _, n in notices(store)] == ["opened", "resolved"]
    for worker in workers:
        worker.store.engine.dispose()
    engine.dispose()
