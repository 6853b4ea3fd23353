"""The incident's one shape: the store's table, the API, the webhook and the CLI follow the model.

Adding a field to collector.incidents.model.Incident is meant to be that change plus a
migration (and the table in collector/incidents/schema.py that mirrors it). These tests
fail when one of the places that used to spell the incident out by hand drifts from it.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import msgspec

from collector import answers
from collector.auth.tokens import TokenInfo
from collector.incidents import schema
from collector.incidents.model import Incident, incident_document
from collector.incidents.outbox import Outgoing
from collector.incidents.silences import Silence
from tests.incidents.fleet import T0, batch, engine_for, sqlite_store, state

# The one field stored under another name: "key" is a word SQL keeps for itself.
COLUMNS = {"key": "dedup_key"}


def _names(model: type) -> list[str]:
    return [f.name for f in dataclasses.fields(model)]


def test_every_field_of_each_model_is_a_column_of_its_table() -> None:
    for model, table in (
        (Incident, schema.incidents),
        (Silence, schema.silences),
        (Outgoing, schema.notifications),
        (TokenInfo, schema.api_tokens),
    ):
        missing = [n for n in _names(model) if COLUMNS.get(n, n) not in table.c]
        assert not missing, f"{model.__name__}: no column for {missing}"


def test_an_incident_goes_from_the_store_to_the_webhook_and_the_cli_unchanged(tmp_path: Path) -> None:
    store = sqlite_store(tmp_path)
    engine = engine_for(store)
    engine.observe_batch(batch("pc-1", T0, states=[state("SN1", "printer_paper_jam", False, T0)]), T0)
    (opened,) = engine.evaluate(T0)
    stored = store.get(opened.id)
    assert stored == opened
    document = incident_document(stored)
    assert list(document) == _names(Incident)  # the webhook's and the API's JSON, in the model's order
    decoded = msgspec.json.decode(json.dumps(document), type=Incident)  # what the helpdesk CLI does
    assert decoded == stored
    detail = msgspec.json.decode(json.dumps({**document, "articles": []}), type=answers.IncidentDetail)
    assert _names(answers.IncidentDetail)[: len(_names(Incident))] == _names(Incident)
    assert Incident(**{n: getattr(detail, n) for n in _names(Incident)}) == stored
