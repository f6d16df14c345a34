// The bundle contract checker (internal to the engine): the JSON Schema keywords the contract
// uses, its cross-field rules (x-latentplay.rules) and the upgrade of older sidecars. The same
// steps in the same order as python/latentplay/schema.py, so that both readers stop at the same
// first problem and name the same field (tests/export/test_contract.py).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace latentplay::contract {

struct Violation {
  std::string field;    // as people write it: controls[2].weights
  std::string problem;  // what is wrong with it
};

// The contract (the embedded bundle_schema.json), parsed once; throws std::logic_error when it
// uses a keyword this validator does not implement.
const nlohmann::json& schema();

// Brings an older sidecar to the current schema version in place, then checks it against the
// schema and the cross-field rules. Returns the first problem, or nothing when it is valid.
std::optional<Violation> check_sidecar(nlohmann::json& sidecar);

}  // namespace latentplay::contract
