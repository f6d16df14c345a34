"""The bundle contract is defined once and both readers apply it the same way.

A corpus is generated from the contract itself (python/latentplay/bundle_schema.json): at least
one mutation of a valid sidecar per schema constraint it reaches, per cross-field rule and per
version step. The Python reader (latentplay.bundle.load_bundle) and the C++ engine
(latentplay._engine.check_bundle) must both refuse every case and name the same field, a field
at or around the one mutated. Hypothesis adds random values at random places. The Python
validator is also checked against the ``jsonschema`` package on every case it can judge.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from latentplay import _engine
from latentplay.bundle import (CONTROLS, DECODER_NAME, ENCODER_NAME, OLDEST_SCHEMA_VERSION, SAMPLE_PARAMETER_STEPS,
                               SCHEMA_VERSION, SIDECAR_NAME, BundleError, load_bundle)
from latentplay.schema import contract, field_name

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "presets" / "demo.latentplay"
DEMO_SCHEMA_1 = Path(__file__).parent / "demo-schema-1.json"  # the demo's sidecar before schema 2
WRONG_TYPE = {"object": [], "array": {}, "string": 7, "number": "7", "integer": 1.5, "null": 0, "boolean": "yes"}
HUGE = "__huge_number__"  # written as 1e999: beyond a double's range


# --- the corpus ------------------------------------------------------------------------------


def resolve(schema: dict, node: dict) -> list[dict]:
    """The node and the nodes its $ref chain brings in."""
    chain = [node]
    while "$ref" in chain[-1]:
        target = schema
        for part in chain[-1]["$ref"][2:].split("/"):
            target = target[part]
        chain.append(target)
    return chain


def get(document, path: list):
    for part in path:
        document = document[part]
    return document


def mutated(document: dict, path: list, change) -> dict:
    """A deep copy of `document` with change(parent, key) applied at `path`."""
    result = copy.deepcopy(document)
    parent = get(result, path[:-1]) if path else None
    change(parent, path[-1] if path else None)
    return result


def replace(value):
    return lambda parent, key: parent.__setitem__(key, copy.deepcopy(value))


def schema_mutations(schema: dict, node: dict, document: dict, path: list):
    """(name, mutated path, mutated document) breaking each constraint of `node` at `path`."""
    value = get(document, path)
    for part in resolve(schema, node):
        where = field_name(path)
        if path and "type" in part:
            yield f"{where}: wrong type", path, mutated(document, path, replace(WRONG_TYPE[part["type"]]))
            if part["type"] in ("number", "integer"):
                yield f"{where}: out of range", path, mutated(document, path, replace(HUGE))
        if path and "const" in part:
            other = part["const"] + ("x" if isinstance(part["const"], str) else 1)
            yield f"{where}: not the constant", path, mutated(document, path, replace(other))
        if "enum" in part:
            yield f"{where}: not an option", path, mutated(document, path, replace("not-an-option"))
        if "oneOf" in part:
            yield f"{where}: none of its forms", path, mutated(document, path, replace("no form"))
            for option in part["oneOf"]:
                if jsonschema.Draft202012Validator({**option, "$defs": schema["$defs"]}).is_valid(value):
                    yield from schema_mutations(schema, option, document, path)
        if "minimum" in part:
            yield f"{where}: below minimum", path, mutated(document, path, replace(part["minimum"] - 1))
        if "maximum" in part:
            yield f"{where}: above maximum", path, mutated(document, path, replace(part["maximum"] + 1))
        if "minLength" in part:
            yield f"{where}: empty", path, mutated(document, path, replace(""))
        if "pattern" in part:
            yield f"{where}: pattern", path, mutated(document, path, replace(value + "/\n"))
        yield from object_mutations(schema, part, document, path)
        yield from array_mutations(schema, part, document, path)


def object_mutations(schema: dict, part: dict, document: dict, path: list):
    value, where = get(document, path), field_name(path)
    if not isinstance(value, dict):
        return
    for key in part.get("required", []):
        yield f"{where}: {key} missing", path + [key], mutated(document, path + [key], lambda p, k: p.pop(k))
    if part.get("additionalProperties") is False:
        for extra in ("aaa_extra", "zzz_extra"):
            yield (f"{where}: unknown {extra}", path + [extra],
                   mutated(document, path + [extra], lambda p, k: p.__setitem__(k, 1)))
    for key, child in part.get("properties", {}).items():
        if key in value:
            yield from schema_mutations(schema, child, document, path + [key])


def array_mutations(schema: dict, part: dict, document: dict, path: list):
    value, where = get(document, path), field_name(path)
    if not isinstance(value, list):
        return
    if part.get("minItems", 0) > 0:
        shorter = value[:part["minItems"] - 1]
        yield f"{where}: too few items", path, mutated(document, path, replace(shorter))
    if "maxItems" in part:
        longer = value + [value[-1]] * (part["maxItems"] + 1 - len(value))
        yield f"{where}: too many items", path, mutated(document, path, replace(longer))
    if part.get("uniqueItems"):
        yield f"{where}: duplicate", path + [len(value)], mutated(document, path, replace(value + [value[0]]))
    prefix = part.get("prefixItems", [])
    for index, item_schema in enumerate(prefix[:len(value)]):
        yield from schema_mutations(schema, item_schema, document, path + [index])
    if "items" in part and len(value) > len(prefix):  # one item stands for all
        yield from schema_mutations(schema, part["items"], document, path + [len(prefix)])


def located_paths(document: dict, expression: str) -> list[list]:
    paths = [[]]
    for segment in expression.split("."):
        key, each = (segment[:-3], True) if segment.endswith("[*]") else (segment, False)
        paths = [p + [key, i] for p in paths for i in range(len(get(document, p + [key])))] if each \
            else [p + [key] for p in paths]
    return paths


def rule_mutations(schema: dict, document: dict):
    """At least one break of each cross-field rule at each place it applies."""
    for rule in schema["x-latentplay"]["rules"]:
        for expression in rule["at"]:
            path = located_paths(document, expression)[0]
            value, name = get(document, path), f"rule {rule['rule']} at {field_name(path)}"
            if rule["rule"] == "length-equals":
                yield name, path, mutated(document, path, replace(value + [0.0]))
            elif rule["rule"] == "increasing":
                yield name + " (equal)", path, mutated(document, path, replace([value[0], value[0]]))
                yield name + " (reversed)", path, mutated(document, path, replace([value[1], value[0]]))
            elif rule["rule"] == "member-of":
                yield name, path, mutated(document, path, replace(value + " elsewhere"))
            elif rule["rule"] == "equals":
                yield name, path, mutated(document, path, replace("0" * 64))
            else:
                raise AssertionError(f"the corpus does not know the rule {rule['rule']!r}")
    yield "latent_dim one larger", ["controls", 0, "weights"], \
        mutated(document, ["latent_dim"], lambda p, k: p.__setitem__(k, p[k] + 1))
    # the files' rule: originals.f32 holds exactly samples × length float32 values
    yield "originals of another length", ["files", "originals"], mutated(document, ["length"], replace(16))


def version_mutations(schema_1: dict):
    for version in (0, OLDEST_SCHEMA_VERSION - 1, SCHEMA_VERSION + 1, 1.5, True, "1", None):
        yield f"schema_version {version!r}", ["schema_version"], \
            mutated(schema_1, ["schema_version"], replace(version))
    yield "schema 1 with a non-numeric fade_out", ["prep", "fade_out"], \
        mutated(schema_1, ["training", "config", "data", "fade_out"], replace("short"))
    yield "schema 1 with prep of its own", ["prep"], mutated(schema_1, ["prep"], replace("mean"))


def corpus(valid: dict, schema_1: dict) -> list[tuple[str, list, dict]]:
    schema = contract()
    cases = list(schema_mutations(schema, schema, valid, []))
    cases += list(rule_mutations(schema, valid))
    cases += list(version_mutations(schema_1))
    return cases


# --- running both readers ---------------------------------------------------------------------


def write_case(folder: Path, files_from: Path, sidecar: dict) -> Path:
    folder.mkdir()
    for file in files_from.iterdir():  # decoder, encoder, originals
        if file.name != SIDECAR_NAME:
            os.link(file, folder / file.name)
    text = json.dumps(sidecar).replace(f'"{HUGE}"', "1e999")
    (folder / SIDECAR_NAME).write_text(text)
    return folder


def verdict(message: str | None, folder: Path) -> str:
    """'accepted', 'not valid JSON', the field the refusal names, or (for a sidecar that passes but
    whose files do not match it, e.g. `length` changed under originals.f32) the file it names."""
    if message is None:
        return "accepted"
    prefix = f"{folder / SIDECAR_NAME}: "
    if not message.startswith(prefix):
        file_path = message.split(": ", 1)[0]
        assert Path(file_path).parent == folder, message
        return f"file {Path(file_path).name}"
    rest = message[len(prefix):]
    return "not valid JSON" if rest.startswith("not valid JSON") else rest.split(": ", 1)[0]


def python_verdict(folder: Path) -> tuple[str, str | None]:
    try:
        load_bundle(folder)
        return verdict(None, folder), None
    except BundleError as error:
        return verdict(str(error), folder), str(error)


def engine_verdict(folder: Path) -> tuple[str, str | None]:
    try:
        _engine.check_bundle(str(folder))
        return verdict(None, folder), None
    except _engine.BundleError as error:
        return verdict(str(error), folder), str(error)


def related(field: str, path: list) -> bool:
    """The named field is the mutated one, one inside it or one that holds it."""
    mutated_field = field_name(path)
    return field.startswith(mutated_field) or mutated_field.startswith(field) or field == "(top level)"


@pytest.fixture(scope="module")
def valid_sidecar(smoke_export) -> dict:
    return json.loads((smoke_export[2] / SIDECAR_NAME).read_text())


@pytest.fixture(scope="module")
def schema_1_sidecar(smoke_export) -> dict:
    """The demo's schema-1 sidecar over the smoke bundle's files (so that its hashes match)."""
    sidecar = json.loads(DEMO_SCHEMA_1.read_text())
    current = json.loads((smoke_export[2] / SIDECAR_NAME).read_text())
    for key in ("files", "model_id"):
        sidecar[key] = current[key]
    return sidecar


def test_both_readers_refuse_every_case_of_the_generated_corpus_naming_the_same_field(
        smoke_export, valid_sidecar, schema_1_sidecar, tmp_path):
    cases = corpus(valid_sidecar, schema_1_sidecar)
    disagreements, accepted, unrelated = [], [], []
    for number, (name, path, sidecar) in enumerate(cases):
        folder = write_case(tmp_path / f"case-{number}.latentplay", smoke_export[2], sidecar)
        (python_field, python_message), (engine_field, engine_message) = python_verdict(folder), engine_verdict(folder)
        if python_field != engine_field:
            disagreements.append(f"{name}: Python {python_message!r}, C++ {engine_message!r}")
        elif python_field == "accepted":
            accepted.append(name)
        elif python_field not in ("not valid JSON", "file originals.f32") and not related(python_field, path):
            unrelated.append(f"{name}: {python_message}")
    print(f"contract corpus: {len(cases)} cases, {len(cases) - len(disagreements)} agree")
    assert len(cases) >= 150
    assert not disagreements, "\n".join(disagreements)
    assert not accepted, f"mutations both readers accepted: {accepted}"
    assert not unrelated, "\n".join(unrelated)


def test_the_corpus_reaches_every_constraint_of_the_contract(valid_sidecar, schema_1_sidecar):
    """Every keyword that constrains (not $ref or annotations) is broken by at least one case."""
    names = " | ".join(name for name, _, _ in corpus(valid_sidecar, schema_1_sidecar))
    for words in ("wrong type", "not the constant", "not an option", "none of its forms", "below minimum",
                  "above maximum", "empty", "pattern", "missing", "unknown", "too few items", "too many items",
                  "duplicate", "rule length-equals", "rule increasing", "rule member-of", "rule equals",
                  "schema_version", "fade_out"):
        assert words in names, f"no case breaks {words!r}"


def test_the_python_validator_agrees_with_jsonschema_on_the_corpus(valid_sidecar, schema_1_sidecar):
    """Our validator is JSON Schema for the keywords the contract uses (rules and versions aside)."""
    from latentplay.schema import Validator

    schema = contract()
    reference = jsonschema.Draft202012Validator(schema)
    for name, _, sidecar in corpus(valid_sidecar, schema_1_sidecar):
        if HUGE in json.dumps(sidecar) or sidecar.get("schema_version") != SCHEMA_VERSION:
            continue  # jsonschema has no overflow and no upgrade step
        ours = Validator(schema).first_violation(sidecar) is None
        assert ours == reference.is_valid(sidecar), name


@pytest.mark.parametrize("name, path, value", [
    ("extra feature", ["samples", 0, "features", "loudness"], 1.0),
    ("negative feature", ["samples", 0, "features", "attack"], -1.0),
    ("explained variance not a number", ["pca", "explained_variance_ratio", 0], "high"),
    ("explained variance above 1", ["pca", "explained_variance_ratio", 1], 1.5),
    ("extra key in r2", ["controls", 2, "r2", "adjusted"], 0.5),
])
def test_what_the_old_cpp_reader_accepted_is_refused_by_both(smoke_export, valid_sidecar, tmp_path, name, path, value):
    sidecar = mutated(valid_sidecar, path, lambda parent, key: parent.__setitem__(key, value))
    folder = write_case(tmp_path / "case.latentplay", smoke_export[2], sidecar)
    python_field, engine_field = python_verdict(folder)[0], engine_verdict(folder)[0]
    assert python_field == engine_field != "accepted"
    assert related(python_field, path)


@given(st.data())
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_random_values_at_random_places_get_the_same_verdict(smoke_export, valid_sidecar, tmp_path_factory, data):
    paths = []

    def walk(value, path):
        paths.append(path)
        children = value.items() if isinstance(value, dict) else \
            enumerate(value[:2]) if isinstance(value, list) else []
        for key, child in children:
            walk(child, path + [key])

    walk(valid_sidecar, [])
    path = data.draw(st.sampled_from(paths[1:]))
    values = st.recursive(st.none() | st.booleans() | st.integers(-10, 10 ** 6) |
                          st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
                          lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner,
                                                                                      max_size=2), max_leaves=4)
    sidecar = mutated(valid_sidecar, path, replace(data.draw(values)))
    folder = write_case(tmp_path_factory.mktemp("fuzz") / "case.latentplay", smoke_export[2], sidecar)
    assert python_verdict(folder)[0] == engine_verdict(folder)[0]


def test_the_schema_1_demo_bundle_still_loads_in_both_readers(tmp_path):
    folder = tmp_path / "demo.latentplay"
    folder.mkdir()
    for name in (DECODER_NAME, ENCODER_NAME):
        os.link(DEMO / name, folder / name)
    (folder / SIDECAR_NAME).write_text(DEMO_SCHEMA_1.read_text())
    assert json.loads(DEMO_SCHEMA_1.read_text())["schema_version"] == 1
    bundle = load_bundle(folder)
    assert bundle.stored_schema_version == 1 and bundle.sidecar["schema_version"] == SCHEMA_VERSION
    assert bundle.sidecar["prep"]["fade_out"] == json.loads(DEMO_SCHEMA_1.read_text())["training"]["config"]["data"]["fade_out"]
    assert bundle.sidecar["producer"]["model_format"] == "torchscript"
    _engine.check_bundle(str(folder))
    engine = _engine.Engine(str(folder))
    assert engine.model_id == bundle.model_id


def test_the_engine_was_built_from_the_same_contract():
    built = _engine.contract()
    assert json.loads(built["schema"]) == contract()
    assert [tuple(c.values()) for c in built["controls"]] == [(c.name, c.label, c.unit, c.kind) for c in CONTROLS]
    assert (built["schema_version"], built["oldest_schema_version"], built["sample_parameter_steps"]) == \
        (SCHEMA_VERSION, OLDEST_SCHEMA_VERSION, SAMPLE_PARAMETER_STEPS)
