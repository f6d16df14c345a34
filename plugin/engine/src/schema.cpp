// See schema.hpp. Keep each step in step with python/latentplay/schema.py: order, fields, words.
#include "schema.hpp"

#include <cmath>
#include <regex>
#include <set>
#include <stdexcept>
#include <vector>

#include "latentplay/contract.hpp"

namespace latentplay::contract {

namespace {

using nlohmann::json;
using Found = std::optional<Violation>;

const std::set<std::string> kSupportedKeywords = {
    "$schema", "$id", "title", "description", "x-latentplay", "$defs", "$ref", "type", "const", "enum",
    "oneOf", "minimum", "maximum", "minLength", "pattern", "required", "additionalProperties", "properties",
    "minItems", "maxItems", "uniqueItems", "prefixItems", "items"};

void check_keywords(const json& node, const std::string& where) {
  if (!node.is_object()) return;
  for (const auto& [key, value] : node.items()) {
    if (!kSupportedKeywords.count(key))
      throw std::logic_error("bundle contract: " + where + ": keyword \"" + key +
                             "\" is not supported by the bundle validators");
    if (key == "properties" || key == "$defs")
      for (const auto& [name, child] : value.items()) check_keywords(child, where + "/" + key + "/" + name);
    else if (key == "prefixItems" || key == "oneOf")
      for (size_t i = 0; i < value.size(); ++i) check_keywords(value[i], where + "/" + key + "/" + std::to_string(i));
    else if (key == "items")
      check_keywords(value, where + "/items");
  }
}

std::string child(const std::string& field, const std::string& key) { return field.empty() ? key : field + "." + key; }
std::string child(const std::string& field, size_t index) { return field + "[" + std::to_string(index) + "]"; }
std::string shown(const std::string& field) { return field.empty() ? "(top level)" : field; }
Violation violation(const std::string& field, const std::string& problem) { return {shown(field), problem}; }

bool is_finite_number(const json& value) { return value.is_number() && std::isfinite(value.get<double>()); }

bool has_type(const json& value, const std::string& type) {
  if (type == "number") return is_finite_number(value);
  if (type == "integer") return is_finite_number(value) && value.get<double>() == std::floor(value.get<double>());
  if (type == "object") return value.is_object();
  if (type == "array") return value.is_array();
  if (type == "string") return value.is_string();
  if (type == "boolean") return value.is_boolean();
  if (type == "null") return value.is_null();
  throw std::logic_error("bundle contract: unknown type \"" + type + "\"");
}

std::string type_problem(const std::string& type) {
  if (type == "object") return "expected an object";
  if (type == "array") return "expected an array";
  if (type == "string") return "expected a string";
  if (type == "number") return "expected a finite number";
  if (type == "integer") return "expected an integer";
  if (type == "null") return "expected null";
  return "expected true or false";
}

size_t code_points(const std::string& text) {
  size_t count = 0;
  for (unsigned char c : text) count += (c & 0xC0) != 0x80;
  return count;
}

class Validator {
 public:
  explicit Validator(const json& root) : root_(root) {}

  Found first_violation(const json& value, const json& node, const std::string& field) const {
    for (auto check : {&Validator::reference, &Validator::kind, &Validator::constant, &Validator::one_of,
                       &Validator::number, &Validator::string, &Validator::object, &Validator::array}) {
      Found found = (this->*check)(value, node, field);
      if (found) return found;
    }
    return std::nullopt;
  }

 private:
  const json& resolve(const std::string& reference) const {
    if (reference.rfind("#/", 0) != 0)
      throw std::logic_error("bundle contract: only local references are supported, got " + reference);
    return root_.at(json::json_pointer(reference.substr(1)));
  }

  Found reference(const json& value, const json& node, const std::string& field) const {
    if (!node.contains("$ref")) return std::nullopt;
    return first_violation(value, resolve(node["$ref"].get<std::string>()), field);
  }

  Found kind(const json& value, const json& node, const std::string& field) const {
    if (node.contains("type") && !has_type(value, node["type"].get<std::string>()))
      return violation(field, type_problem(node["type"].get<std::string>()));
    return std::nullopt;
  }

  Found constant(const json& value, const json& node, const std::string& field) const {
    if (node.contains("const") && value != node["const"])
      return violation(field, "expected " + node["const"].dump() + ", got " + value.dump());
    if (node.contains("enum")) {
      std::string options;
      for (const json& option : node["enum"]) {
        if (value == option) return std::nullopt;
        options += (options.empty() ? "" : ", ") + option.dump();
      }
      return violation(field, "expected one of " + options + ", got " + value.dump());
    }
    return std::nullopt;
  }

  Found one_of(const json& value, const json& node, const std::string& field) const {
    if (!node.contains("oneOf")) return std::nullopt;
    int matching = 0;
    for (const json& option : node["oneOf"]) matching += !first_violation(value, option, field);
    if (matching == 0) return violation(field, "matches none of its allowed forms");
    if (matching > 1) return violation(field, "matches more than one of its allowed forms");
    return std::nullopt;
  }

  Found number(const json& value, const json& node, const std::string& field) const {
    if (!value.is_number()) return std::nullopt;
    const double x = value.get<double>();
    if (node.contains("minimum") && x < node["minimum"].get<double>())
      return violation(field, "expected at least " + node["minimum"].dump() + ", got " + value.dump());
    if (node.contains("maximum") && x > node["maximum"].get<double>())
      return violation(field, "expected at most " + node["maximum"].dump() + ", got " + value.dump());
    return std::nullopt;
  }

  Found string(const json& value, const json& node, const std::string& field) const {
    if (!value.is_string()) return std::nullopt;
    const std::string text = value.get<std::string>();
    if (node.contains("minLength")) {
      const size_t minimum = node["minLength"].get<size_t>();
      if (code_points(text) < minimum)
        return violation(field, minimum == 1 ? "must not be empty"
                                             : "expected at least " + std::to_string(minimum) + " characters");
    }
    if (node.contains("pattern")) {
      const std::string pattern = node["pattern"].get<std::string>();
      if (!std::regex_search(text, std::regex(pattern, std::regex::ECMAScript)))
        return violation(field, "does not match the pattern " + pattern + ", got " + value.dump());
    }
    return std::nullopt;
  }

  Found object(const json& value, const json& node, const std::string& field) const {
    if (!value.is_object()) return std::nullopt;
    if (node.contains("required"))
      for (const json& key : node["required"])
        if (!value.contains(key.get<std::string>())) return violation(child(field, key.get<std::string>()), "missing");
    static const json kNoProperties = json::object();
    const json& properties = node.contains("properties") ? node["properties"] : kNoProperties;
    if (node.contains("additionalProperties") && node["additionalProperties"] == false)
      for (const auto& [key, item] : value.items())  // sorted, as Python's sorted()
        if (!properties.contains(key)) return violation(child(field, key), "unknown field");
    for (const auto& [key, item_schema] : properties.items())
      if (value.contains(key))
        if (Found found = first_violation(value[key], item_schema, child(field, key))) return found;
    return std::nullopt;
  }

  Found array(const json& value, const json& node, const std::string& field) const {
    if (!value.is_array()) return std::nullopt;
    if (node.contains("minItems") && value.size() < node["minItems"].get<size_t>())
      return violation(field, "expected at least " + node["minItems"].dump() + " items, got " +
                                  std::to_string(value.size()));
    if (node.contains("maxItems") && value.size() > node["maxItems"].get<size_t>())
      return violation(field, "expected at most " + node["maxItems"].dump() + " items, got " +
                                  std::to_string(value.size()));
    if (node.value("uniqueItems", false))
      for (size_t i = 1; i < value.size(); ++i)
        for (size_t earlier = 0; earlier < i; ++earlier)
          if (value[i] == value[earlier]) return violation(child(field, i), "listed twice");
    static const json kNoItems = json::array();
    const json& prefix = node.contains("prefixItems") ? node["prefixItems"] : kNoItems;
    for (size_t i = 0; i < value.size(); ++i) {
      const json* item_schema = i < prefix.size() ? &prefix[i] : (node.contains("items") ? &node["items"] : nullptr);
      if (item_schema)
        if (Found found = first_violation(value[i], *item_schema, child(field, i))) return found;
    }
    return std::nullopt;
  }

  const json& root_;
};

// --- cross-field rules (x-latentplay.rules) -------------------------------------------------

struct Located {
  std::string field;
  const json* value;
};

// Every value that a "controls[*].weights"-style expression names in the document.
std::vector<Located> locate(const json& document, const std::string& expression) {
  std::vector<Located> found = {{"", &document}};
  size_t start = 0;
  while (start <= expression.size()) {
    size_t end = expression.find('.', start);
    if (end == std::string::npos) end = expression.size();
    std::string key = expression.substr(start, end - start);
    const bool each = key.size() > 3 && key.compare(key.size() - 3, 3, "[*]") == 0;
    if (each) key.resize(key.size() - 3);
    std::vector<Located> stepped;
    for (const Located& at : found) {
      if (!at.value->is_object() || !at.value->contains(key)) continue;
      const json& item = (*at.value)[key];
      if (!each) {
        stepped.push_back({child(at.field, key), &item});
      } else if (item.is_array()) {
        for (size_t i = 0; i < item.size(); ++i) stepped.push_back({child(child(at.field, key), i), &item[i]});
      }
    }
    found = std::move(stepped);
    start = end + 1;
  }
  return found;
}

const json* the_value(const json& document, const std::string& expression) {
  std::vector<Located> located = locate(document, expression);
  return located.size() == 1 ? located[0].value : nullptr;
}

Found rule_violation(const json& document, const json& rule) {
  static const json kNull = nullptr;
  const std::string kind = rule["rule"].get<std::string>();
  const std::string reference_name = rule.value("value", "");
  const json* found_reference = rule.contains("value") ? the_value(document, reference_name) : nullptr;
  const json& reference = found_reference ? *found_reference : kNull;
  for (const json& expression : rule["at"]) {
    for (const Located& at : locate(document, expression.get<std::string>())) {
      const json& value = *at.value;
      if (kind == "length-equals" && json(value.size()) != reference)
        return violation(at.field, "has " + std::to_string(value.size()) + " values, " + reference_name + " is " +
                                       reference.dump());
      if (kind == "increasing" && !(value[0].get<double>() < value[1].get<double>()))
        return violation(at.field, "expected [min, max] with min < max, got " + value.dump());
      if (kind == "member-of") {
        bool member = false;
        for (const json& item : reference) member = member || item == value;
        if (!member) return violation(at.field, value.dump() + " is not in " + reference_name);
      }
      if (kind == "equals" && value != reference) return violation(at.field, "must equal " + reference_name);
      if (kind != "length-equals" && kind != "increasing" && kind != "member-of" && kind != "equals")
        throw std::logic_error("bundle contract: unknown cross-field rule \"" + kind + "\"");
    }
  }
  return std::nullopt;
}

// --- versions --------------------------------------------------------------------------------

Found upgrade(json& sidecar, const json& contract) {
  if (!sidecar.contains("schema_version")) return violation("schema_version", "missing");
  const json& version = sidecar["schema_version"];
  if (!has_type(version, "integer") || version.get<double>() < kOldestSchemaVersion ||
      version.get<double>() > kSchemaVersion)
    return violation("schema_version", "this LatentPlay reads schema versions " + std::to_string(kOldestSchemaVersion) +
                                           " to " + std::to_string(kSchemaVersion) + ", the bundle says " +
                                           version.dump());
  while (sidecar["schema_version"].get<double>() < kSchemaVersion) {
    const json& step = contract["x-latentplay"]["upgrades"][std::to_string(sidecar["schema_version"].get<int>())];
    for (const auto& [key, value] : step["add"].items())
      if (!sidecar.contains(key)) sidecar[key] = value;
    if (step.contains("copy")) {
      for (const auto& [target, source] : step["copy"].items()) {
        const json* found = the_value(sidecar, source.get<std::string>());
        if (!found) continue;
        const json copied = *found;
        json* holder = &sidecar;
        size_t start = 0, dot;
        while (holder && (dot = target.find('.', start)) != std::string::npos) {
          const std::string parent = target.substr(start, dot - start);
          holder = holder->is_object() && holder->contains(parent) ? &(*holder)[parent] : nullptr;
          start = dot + 1;
        }
        if (holder && holder->is_object()) (*holder)[target.substr(start)] = copied;
      }
    }
    sidecar["schema_version"] = step["to"];
  }
  return std::nullopt;
}

}  // namespace

const json& schema() {
  static const json parsed = [] {
    json contract = json::parse(kBundleContractJson);
    check_keywords(contract, "#");
    return contract;
  }();
  return parsed;
}

std::optional<Violation> check_sidecar(json& sidecar) {
  const json& contract = schema();
  if (Found found = upgrade(sidecar, contract)) return found;
  if (Found found = Validator(contract).first_violation(sidecar, contract, "")) return found;
  for (const json& rule : contract["x-latentplay"]["rules"])
    if (Found found = rule_violation(sidecar, rule)) return found;
  return std::nullopt;
}

}  // namespace latentplay::contract
