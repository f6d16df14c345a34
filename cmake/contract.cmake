# The bundle contract, written once in python/latentplay/bundle_schema.json, as a C++ header:
# the schema text itself (the engine validates sidecars against it, plugin/engine/src/schema.cpp)
# and the controls' names, labels, units and kinds, the schema versions, the Sample
# parameter's steps and how the features are measured. Re-generated whenever the schema file changes.
set(LATENTPLAY_CONTRACT_FILE "${CMAKE_CURRENT_SOURCE_DIR}/python/latentplay/bundle_schema.json")
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${LATENTPLAY_CONTRACT_FILE}")
file(READ "${LATENTPLAY_CONTRACT_FILE}" LATENTPLAY_CONTRACT_TEXT)

string(JSON LATENTPLAY_SCHEMA_VERSION GET "${LATENTPLAY_CONTRACT_TEXT}" properties schema_version const)
string(JSON LATENTPLAY_OLDEST_SCHEMA_VERSION GET "${LATENTPLAY_CONTRACT_TEXT}" x-latentplay oldest_schema_version)
string(JSON LATENTPLAY_SAMPLE_PARAMETER_STEPS GET "${LATENTPLAY_CONTRACT_TEXT}" x-latentplay sample_parameter_steps)
string(JSON LATENTPLAY_NUM_CONTROLS LENGTH "${LATENTPLAY_CONTRACT_TEXT}" properties controls prefixItems)

foreach(field name label unit kind)
  set(LATENTPLAY_CONTROL_${field}S "")
endforeach()
math(EXPR last_control "${LATENTPLAY_NUM_CONTROLS} - 1")
foreach(index RANGE ${last_control})
  foreach(field name label unit kind)
    string(JSON value GET "${LATENTPLAY_CONTRACT_TEXT}" properties controls prefixItems ${index} properties ${field} const)
    if(index GREATER 0)
      string(APPEND LATENTPLAY_CONTROL_${field}S ", ")
    endif()
    string(APPEND LATENTPLAY_CONTROL_${field}S "\"${value}\"")
  endforeach()
endforeach()

# How frequency, attack and release are measured (x-latentplay.features).
foreach(setting envelope_smoothing_ms peak_within_db attack_onset_db release_level_db frequency_window_offset_ms
                frequency_min_window_ms fft_zero_pad_factor)
  string(JSON LATENTPLAY_FEATURES_${setting} GET "${LATENTPLAY_CONTRACT_TEXT}" x-latentplay features ${setting})
endforeach()
string(JSON LATENTPLAY_FEATURES_band_low GET "${LATENTPLAY_CONTRACT_TEXT}" x-latentplay features frequency_band_hz 0)
string(JSON LATENTPLAY_FEATURES_band_high GET "${LATENTPLAY_CONTRACT_TEXT}" x-latentplay features frequency_band_hz 1)

configure_file("${CMAKE_CURRENT_SOURCE_DIR}/plugin/engine/contract.hpp.in"
               "${CMAKE_CURRENT_BINARY_DIR}/generated/latentplay/contract.hpp" @ONLY)
set(LATENTPLAY_GENERATED_INCLUDE_DIR "${CMAKE_CURRENT_BINARY_DIR}/generated")
