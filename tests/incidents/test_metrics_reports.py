"""Incident metrics and management reports over a small recorded history."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from collector import reports
from collector.incidents.metrics import collect
from collector.kb import KnowledgeBase, parse_article
from collector.notify.routing import Route, route
from tests.incidents.fleet import T0, S, batch, engine_for, sqlite_store, state


def history(tmp_path: Path):  # type: ignore[no-untyped-def]
    store = sqlite_store(tmp_path)
    engine = engine_for(store)
    for n, device in enumerate(("SN1", "SN1", "SN2")):
        t = T0 + n * 3 * 3600 * S  # beyond the reopen window: three incidents
        engine.observe_batch(batch("pc-1", t, states=[state(device, "printer_paper_jam", False, t)]), t)
        engine.evaluate(t)
        store.acknowledge(n + 1, "maria", t + 60 * S)
        store.resolve(n + 1, "maria", "", t + 600 * S)
        engine.observe_batch(
            batch("pc-1", t, states=[state(device, "printer_paper_jam", True, t + S)]), t + S
        )
        engine.evaluate(t + 1200 * S)
    return store


def test_metrics_count_open_and_resolved(tmp_path: Path) -> None:
    store = history(tmp_path)
    samples = {(s.tags.get("severity", ""), tuple(sorted(s.fields))): s for s in collect(store, T0)}
    totals = samples[("", ("opened_total", "resolve_seconds_sum", "resolved_total"))]
    assert totals.fields == {"opened_total": 3, "resolved_total": 3, "resolve_seconds_sum": 1800.0}
    assert totals.tags == {"category": "printer"}


def test_report_shows_recurring_problems_and_response_times(tmp_path: Path) -> None:
    store = history(tmp_path)
    report = reports.build_report(store.all_since(0), T0 - S, T0 + 86400 * S, KnowledgeBase.load())
    assert report.incidents == 3
    assert report.top_conditions_by_device[0] == reports.Count("SN1 printer_paper_jam", 2)
    (printer,) = report.times_by_category
    assert printer.ack_median_seconds == 60 and printer.resolve_p90_seconds == 600
    rows = list(csv.reader(io.StringIO(reports.render_csv(report))))
    assert ["summary", "incidents", "3"] in rows
    assert "Recurring problems" in reports.render_html(report)


def test_stale_articles_are_flagged() -> None:
    article = parse_article(
        "x", '+++\ntitle = "X"\nconditions = ["a"]\nlast_reviewed = 2025-01-01\n+++\n1. do it\n'
    )
    kb = KnowledgeBase([article])
    import datetime as dt

    assert article.steps == ("do it",)
    assert kb.stale(dt.date(2025, 6, 29)) == [] and kb.stale(dt.date(2025, 7, 1)) == [article]


def test_shipped_articles_cover_the_common_office_problems() -> None:
    kb = KnowledgeBase.load()
    for condition in (
        "printer_toner_low",
        "printer_paper_empty",
        "printer_paper_jam",
        "snmp_reachable",
        "dns_resolves",
        "gateway_reachable",
        "internet_reachable",
        "disk_full",
        "disk_filling",
        "cpu_high",
        "memory_high",
        "agent_lost",
        "supply_order",
    ):
        assert kb.for_condition(condition), condition


def test_routes_pick_connectors_by_category_site_and_severity(tmp_path: Path) -> None:
    store = history(tmp_path)
    incident = store.get(1)
    routes = [
        Route("mail", min_severity="critical"),
        Route("hook", categories=frozenset({"printer"})),
        Route("branch", sites=frozenset({"branch"})),
    ]  # type: ignore[arg-type]
    assert route(routes, incident) == ["hook"]
