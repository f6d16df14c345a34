// Neural key tracking: a one-shot re-pitched by the model instead of by resampling alone, so that
// it keeps its envelope. The Frequency control is moved by shares of the key's interval (within
// its range); each candidate is decoded and measured (features.hpp), and the rest of the interval
// is left to resampling (`speed`), so the pitch is the interval's whatever the model reached. Of
// the candidates (and plain resampling of the root), the one whose release after resampling is
// closest to the root's wins: a model whose frequency and release are entangled, or that
// saturates, still plays in tune and keeps the length it can.
#pragma once

#include <functional>
#include <stdexcept>
#include <vector>

#include "latentplay/engine.hpp"
#include "latentplay/features.hpp"

namespace latentplay {

// The root one-shot a key is re-pitched from: the start regenerated at the root's control values
// (Engine::regenerate at the model rate, before Mix) and its measure_features. Made once per
// control state, shared by every key.
struct RootShot {
  std::vector<float> audio;
  Features features;
};

struct Repitched {
  std::vector<float> audio;  // at the model rate, with the start's residual × detail
  double speed = 1.0;        // play it this much faster (resample) for the rest of the interval
  Features measured;         // of `audio` as it will sound, resampled by `speed`
  int decodes = 0;           // besides the root's
};

constexpr int kPitchCandidates = 6;      // decodes per key
constexpr double kLargestShare = 1.25;   // of the interval asked of the Frequency control (it often falls short)
constexpr double kPitchTolerance = 0.5;  // semitones: a candidate that sounds further off is not taken
// The search's reach: a key further from the root is searched at this distance and resampled the
// rest of the way. A step's cost grows with the length it measures (a measurement of the root
// resampled 2 octaves down takes 4x one of the root, 5 octaves down 32x: half a second), and a
// worker in a search makes the root one-shot wait for one step; the Frequency control spans about
// two octaves anyway.
constexpr double kPitchSearchSemitones = 24.0;

// `targets` holds the root's control values (all five set), `root` their one-shot; semitones
// from the root note. The aims are root.features.frequency_hz × 2^(semitones/12) and
// root.features.release_ms (within ±kPitchSearchSemitones; beyond, `speed` resamples the rest
// and `measured` is scaled as resampling scales it, not measured). `keep_going`, when given, is
// asked before every decode and measurement: false stops the search, and repitch throws
// Cancelled (a worker with more urgent work waits for at most one of them).
struct Cancelled : std::runtime_error {
  Cancelled() : std::runtime_error("cancelled") {}
};
Repitched repitch(const Engine& engine, const AudioStart& start, const ControlTargets& targets, const RootShot& root,
                  double semitones, double detail, const Variation& variation,
                  const std::function<bool()>& keep_going = {});

}  // namespace latentplay
