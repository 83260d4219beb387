"""The Zapier and Make generators: driven by the catalog, deterministic, and shaped as the
platforms read them (pure; the runtime tests are test_zapier_app.py and test_make_app.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connectors._catalog_shape import sentence_label, steady_example, title_label, type_words
from connectors.make import appgen as make_appgen
from connectors.zapier import appgen as zapier_appgen
from gateway.catalog import catalog
from tests.connectors.apps import live

GENERATORS = [zapier_appgen, make_appgen]


@pytest.mark.parametrize("gen", GENERATORS, ids=["zapier", "make"])
def test_each_event_type_is_a_trigger_and_only_those(gen: object) -> None:
    full = gen.generate(catalog())  # type: ignore[attr-defined]
    only_tasks = gen.generate({"task.completed": catalog()["task.completed"]})  # type: ignore[attr-defined]
    survey = [p for p in full if "survey" in p]
    assert survey and not [p for p in only_tasks if "survey" in p]
    assert not any("survey" in text.lower() for text in only_tasks.values())
    assert full == gen.generate(dict(reversed(catalog().items())))  # type: ignore[attr-defined]


def test_zapier_output_fields_are_the_steady_keys() -> None:
    spec = catalog()["task.completed"]
    keys = [f["key"] for f in zapier_appgen.output_fields(spec)]
    assert "score_overall" in keys and "transcript[]text" in keys
    # Study-specific keys (one study's questions, one skill's criteria) are not offered.
    assert not [k for k in keys if k.startswith("result_") or k == "score_coherence"]
    sample = zapier_appgen.trigger_sample(spec)
    assert sample["id"].startswith("evt_sample_") and "result_nps" in sample


def test_make_interface_types() -> None:
    fields = {f["name"]: f for f in make_appgen.interface(catalog()["task.completed"])}
    assert fields["completedAt"]["type"] == "date"
    assert fields["synthetic"]["type"] == "boolean"
    transcript = fields["transcript"]["spec"]
    assert transcript["type"] == "collection"
    assert [f["name"] for f in transcript["spec"]] == ["turn", "role", "text", "at"]
    result = {f["name"]: f for f in fields["result"]["spec"]}
    assert result["fields"] == {"name": "fields", "label": "Fields", "type": "collection"}
    answer = {f["name"]: f["type"] for f in result["answers"]["spec"]["spec"]}
    assert answer["value"] == "any"  # a number for a rating, text for a choice


@pytest.mark.parametrize(
    "schema,example,steady",
    [
        ({"properties": {"a": {}}}, {"a": 1, "b": [1]}, {"a": 1, "b": []}),  # arrays emptied
        ({"properties": {"h": {"type": "object"}}}, {"h": {"x": 1}}, {"h": {}}),  # free-form
        ({"properties": {"p": {"properties": {"x": {}}}}}, {"p": {"x": 2}}, {"p": {"x": 2}}),
    ],
)
def test_steady_example(schema: dict, example: dict, steady: dict) -> None:  # type: ignore[type-arg]
    assert steady_example(schema, example) == steady


def test_labels() -> None:
    assert type_words("survey.response.completed") == (
        "Survey Response",
        "Survey Response Completed",
    )
    assert title_label("transcript_url") == "Transcript URL"
    assert sentence_label("occurredAt") == "Occurred at"


def test_zapier_lock_matches_package_json() -> None:
    package = json.loads((live.ZAPIER_APP / "package.json").read_text())
    lock = json.loads((live.ZAPIER_APP / "package-lock.json").read_text())
    root = lock["packages"][""]
    assert root["dependencies"] == package["dependencies"]
    assert root["devDependencies"] == package["devDependencies"]
    assert not any("resolved" in entry for entry in lock["packages"].values())  # no registry URLs


def test_missing_node_modules_fail_in_ci(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PERSON_GATEWAY_CACHE", str(tmp_path))
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="install-zapier"):
        live.zapier_node_modules()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="install-zapier"):
        live.zapier_node_modules()
