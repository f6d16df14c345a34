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

struct Repitched {
  std::vector<float> audio;  // at the model rate, with the start's residual × detail
  double speed = 1.0;        // play it this much faster (resample) for the rest of the interval
  Features measured;         // of `audio` as it will sound, resampled by `speed`
  Features root;             // of the root one-shot: the aims are root.frequency × 2^(semitones/12) and root.release
  int decodes = 0;
};

constexpr int kPitchCandidates = 6;    // decodes after the root's
constexpr double kLargestShare = 1.25;
constexpr double kPitchTolerance = 0.5;  // semitones: a candidate that sounds further off is not taken  // of the interval asked of the Frequency control (it often falls short)

// `targets` holds the root's control values (all five set); semitones from the root note.
// `keep_going`, when given, is asked before each candidate: false stops the search, and
// repitch throws Cancelled (a worker with more urgent work does not wait for all of it).
struct Cancelled : std::runtime_error {
  Cancelled() : std::runtime_error("cancelled") {}
};
Repitched repitch(const Engine& engine, const AudioStart& start, const ControlTargets& targets, double semitones,
                  double detail, const Variation& variation, const std::function<bool()>& keep_going = {});

}  // namespace latentplay
