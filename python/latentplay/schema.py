"""The bundle contract checker: the JSON Schema keywords ``bundle_schema.json`` uses, its
cross-field rules (``x-latentplay.rules``) and the upgrade of older sidecars.

The C++ engine runs the same steps (``plugin/engine/src/schema.cpp``) on the same schema file,
embedded at build time. Both walk a sidecar in the same order and stop at the first problem, so
that they refuse the same sidecars naming the same field; tests/export/test_contract.py checks
this on a generated corpus, and checks this validator against the ``jsonschema`` package.

Order, per schema node: ``$ref``, ``type``, ``const``, ``enum``, ``oneOf``, the number bounds,
the string bounds, then for objects ``required`` (in the schema's order), unknown keys and
``properties`` (both in sorted key order), for arrays the item counts, ``uniqueItems``,
``prefixItems`` and ``items`` (in index order).
"""

from __future__ import annotations

import copy
import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

SUPPORTED_KEYWORDS = frozenset({
    "$schema", "$id", "title", "description", "x-latentplay", "$defs", "$ref", "type", "const", "enum",
    "oneOf", "minimum", "maximum", "minLength", "pattern", "required", "additionalProperties", "properties",
    "minItems", "maxItems", "uniqueItems", "prefixItems", "items"})

TYPE_PROBLEMS = {"object": "expected an object", "array": "expected an array", "string": "expected a string",
                 "number": "expected a finite number", "integer": "expected an integer", "null": "expected null",
                 "boolean": "expected true or false"}


@dataclass(frozen=True)
class Violation:
    """The first problem found: ``field`` as people write it (``controls[2].weights``)."""

    field: str
    problem: str


@lru_cache(maxsize=1)
def contract() -> dict:
    """The bundle contract (``bundle_schema.json``), checked to use only the supported keywords."""
    schema = json.loads(resources.files("latentplay").joinpath("bundle_schema.json").read_text())
    check_keywords(schema)
    return schema


def check_keywords(node, where: str = "#") -> None:
    """A keyword neither validator implements must fail loudly, not be ignored."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key not in SUPPORTED_KEYWORDS:
                raise ValueError(f"bundle_schema.json: {where}: keyword {key!r} is not supported by the "
                                 f"bundle validators (latentplay.schema, plugin/engine/src/schema.cpp)")
            if key in ("properties", "$defs"):
                for name, child in value.items():
                    check_keywords(child, f"{where}/{key}/{name}")
            elif key in ("prefixItems", "oneOf"):
                for index, child in enumerate(value):
                    check_keywords(child, f"{where}/{key}/{index}")
            elif key in ("items",):
                check_keywords(value, f"{where}/{key}")


def field_name(path: list) -> str:
    """JSON path as people write it: controls[2].weights."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def dump(value) -> str:
    return json.dumps(value)


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def json_equal(a, b) -> bool:
    """Equality as JSON means it: 1 == 1.0, but true is not 1."""
    if is_number(a) or is_number(b):
        return is_number(a) and is_number(b) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def has_type(value, name: str) -> bool:
    if name in ("number", "integer"):
        return is_number(value) and math.isfinite(value) and (name == "number" or float(value).is_integer())
    return isinstance(value, {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}[name])


def pattern_matches(pattern: str, text: str) -> bool:
    """ECMAScript's ``$`` (the C++ side uses std::regex) is Python's ``\\Z``."""
    return re.search(re.sub(r"\$$", r"\\Z", pattern), text) is not None


class Validator:
    def __init__(self, schema: dict) -> None:
        self.root = schema

    def resolve(self, reference: str) -> dict:
        if not reference.startswith("#/"):
            raise ValueError(f"bundle_schema.json: only local references are supported, got {reference!r}")
        node = self.root
        for part in reference[2:].split("/"):
            node = node[part]
        return node

    def first_violation(self, value, node: dict | None = None, path: list | None = None) -> Violation | None:
        node = self.root if node is None else node
        path = [] if path is None else path
        for check in (self.reference, self.kind, self.constant, self.one_of, self.number, self.string,
                      self.object, self.array):
            violation = check(value, node, path)
            if violation is not None:
                return violation
        return None

    def reference(self, value, node, path):
        return self.first_violation(value, self.resolve(node["$ref"]), path) if "$ref" in node else None

    def kind(self, value, node, path):
        if "type" in node and not has_type(value, node["type"]):
            return Violation(field_name(path), TYPE_PROBLEMS[node["type"]])
        return None

    def constant(self, value, node, path):
        if "const" in node and not json_equal(value, node["const"]):
            return Violation(field_name(path), f"expected {dump(node['const'])}, got {dump(value)}")
        if "enum" in node and not any(json_equal(value, option) for option in node["enum"]):
            options = ", ".join(dump(option) for option in node["enum"])
            return Violation(field_name(path), f"expected one of {options}, got {dump(value)}")
        return None

    def one_of(self, value, node, path):
        if "oneOf" not in node:
            return None
        matching = sum(self.first_violation(value, option, path) is None for option in node["oneOf"])
        if matching != 1:
            return Violation(field_name(path), "matches none of its allowed forms" if matching == 0
                             else "matches more than one of its allowed forms")
        return None

    def number(self, value, node, path):
        if not is_number(value):
            return None
        if "minimum" in node and value < node["minimum"]:
            return Violation(field_name(path), f"expected at least {dump(node['minimum'])}, got {dump(value)}")
        if "maximum" in node and value > node["maximum"]:
            return Violation(field_name(path), f"expected at most {dump(node['maximum'])}, got {dump(value)}")
        return None

    def string(self, value, node, path):
        if not isinstance(value, str):
            return None
        if "minLength" in node and len(value) < node["minLength"]:
            return Violation(field_name(path), "must not be empty" if node["minLength"] == 1
                             else f"expected at least {node['minLength']} characters")
        if "pattern" in node and not pattern_matches(node["pattern"], value):
            return Violation(field_name(path), f"does not match the pattern {node['pattern']}, got {dump(value)}")
        return None

    def object(self, value, node, path):
        if not isinstance(value, dict):
            return None
        for key in node.get("required", []):
            if key not in value:
                return Violation(field_name(path + [key]), "missing")
        properties = node.get("properties", {})
        if node.get("additionalProperties", True) is False:
            for key in sorted(value):
                if key not in properties:
                    return Violation(field_name(path + [key]), "unknown field")
        for key in sorted(properties):
            if key in value:
                violation = self.first_violation(value[key], properties[key], path + [key])
                if violation is not None:
                    return violation
        return None

    def array(self, value, node, path):
        if not isinstance(value, list):
            return None
        if "minItems" in node and len(value) < node["minItems"]:
            return Violation(field_name(path), f"expected at least {node['minItems']} items, got {len(value)}")
        if "maxItems" in node and len(value) > node["maxItems"]:
            return Violation(field_name(path), f"expected at most {node['maxItems']} items, got {len(value)}")
        if node.get("uniqueItems", False):
            for index in range(1, len(value)):
                if any(json_equal(value[index], value[earlier]) for earlier in range(index)):
                    return Violation(field_name(path + [index]), "listed twice")
        prefix = node.get("prefixItems", [])
        for index, item in enumerate(value):
            item_schema = prefix[index] if index < len(prefix) else node.get("items")
            if item_schema is not None:
                violation = self.first_violation(item, item_schema, path + [index])
                if violation is not None:
                    return violation
        return None


# --- cross-field rules (x-latentplay.rules) -------------------------------------------------


def locate(document, expression: str) -> list[tuple[list, object]]:
    """Every (path, value) that ``controls[*].weights``-style ``expression`` names in ``document``."""
    found: list[tuple[list, object]] = [([], document)]
    for segment in expression.split("."):
        key, each = (segment[:-3], True) if segment.endswith("[*]") else (segment, False)
        stepped = []
        for path, value in found:
            if isinstance(value, dict) and key in value:
                child = value[key]
                if not each:
                    stepped.append((path + [key], child))
                elif isinstance(child, list):
                    stepped.extend((path + [key, index], item) for index, item in enumerate(child))
        found = stepped
    return found


def the_value(document, expression: str):
    located = locate(document, expression)
    return located[0][1] if len(located) == 1 else None


def rule_violation(document: dict, rule: dict) -> Violation | None:
    kind = rule["rule"]
    reference = the_value(document, rule["value"]) if "value" in rule else None
    for expression in rule["at"]:
        for path, value in locate(document, expression):
            field = field_name(path)
            if kind == "length-equals" and len(value) != reference:
                return Violation(field, f"has {len(value)} values, {rule['value']} is {dump(reference)}")
            if kind == "increasing" and not value[0] < value[1]:
                return Violation(field, f"expected [min, max] with min < max, got {dump(value)}")
            if kind == "member-of" and not any(json_equal(value, member) for member in reference):
                return Violation(field, f"{dump(value)} is not in {rule['value']}")
            if kind == "equals" and not json_equal(value, reference):
                return Violation(field, f"must equal {rule['value']}")
            if kind not in ("length-equals", "increasing", "member-of", "equals"):
                raise ValueError(f"bundle_schema.json: unknown cross-field rule {kind!r}")
    return None


# --- versions --------------------------------------------------------------------------------


def supported_versions(schema: dict) -> tuple[int, int]:
    return schema["x-latentplay"]["oldest_schema_version"], schema["properties"]["schema_version"]["const"]


def upgrade(sidecar: dict, schema: dict) -> tuple[dict, Violation | None]:
    """An older sidecar brought to the current version (``x-latentplay.upgrades``), or why not."""
    oldest, current = supported_versions(schema)
    if "schema_version" not in sidecar:
        return sidecar, Violation("schema_version", "missing")
    version = sidecar["schema_version"]
    if not has_type(version, "integer") or not oldest <= version <= current:
        return sidecar, Violation("schema_version", f"this LatentPlay reads schema versions {oldest} to "
                                                    f"{current}, the bundle says {dump(version)}")
    upgraded = copy.deepcopy(sidecar)
    while upgraded["schema_version"] < current:
        step = schema["x-latentplay"]["upgrades"][str(int(upgraded["schema_version"]))]
        for key, value in step["add"].items():
            upgraded.setdefault(key, copy.deepcopy(value))
        for target, source in step.get("copy", {}).items():
            located = locate(upgraded, source)
            if len(located) != 1:
                continue
            found = located[0][1]
            *parents, leaf = target.split(".")
            holder = upgraded
            for parent in parents:
                holder = holder.get(parent) if isinstance(holder, dict) else None
            if isinstance(holder, dict):
                holder[leaf] = copy.deepcopy(found)
        upgraded["schema_version"] = step["to"]
    return upgraded, None


def check_sidecar(sidecar: dict, schema: dict | None = None) -> tuple[dict, Violation | None]:
    """(the sidecar at the current version, the first problem or None): upgrade, schema, rules."""
    schema = contract() if schema is None else schema
    upgraded, problem = upgrade(sidecar, schema)
    if problem is None:
        problem = Validator(schema).first_violation(upgraded)
    if problem is None:
        for rule in schema["x-latentplay"]["rules"]:
            problem = rule_violation(upgraded, rule)
            if problem is not None:
                break
    return upgraded, problem
