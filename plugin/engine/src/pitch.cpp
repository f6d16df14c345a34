#include "latentplay/pitch.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "latentplay/errors.hpp"
#include "latentplay/resampler.hpp"

namespace latentplay {

namespace {

// How far a release is from the wanted one, as a ratio (0 ms counts as 1 ms).
double release_miss(double release, double wanted) {
  return std::abs(std::log(std::max(release, 1.0) / std::max(wanted, 1.0)));
}

// The search proper, for an interval within the search's reach: `result` comes in as the root
// resampled and leaves as the best of it and the candidates.
void search(const Engine& engine, const AudioStart& start, const ControlTargets& targets, const RootShot& root,
            double interval, double detail, const Variation& variation, const std::function<void()>& check,
            Repitched& result) {
  const Bundle& bundle = engine.bundle();
  const double rate = bundle.sample_rate;
  const int frequency = kFrequencyControl;
  const double wanted_frequency = root.features.frequency_hz * interval;
  const double wanted_release = root.features.release_ms;
  // Resampling never goes beyond what Resample mode would do, give or take a semitone.
  const double semitone = std::pow(2.0, 1.0 / 12.0);
  const double slowest = std::min(1.0, interval) / semitone, fastest = std::max(1.0, interval) * semitone;
  // Plain resampling of the root is the fallback, judged the same way.
  check();
  result.measured = measure_features(resample(root.audio, rate * interval, rate), rate);
  double best_miss = release_miss(result.measured.release_ms, wanted_release);
  const Control& f = bundle.controls[frequency];
  for (int step = 1; step <= kPitchCandidates; ++step) {
    // The Frequency control moved by a share of the interval (all of it last), the rest resampled.
    const double share = static_cast<double>(step) / kPitchCandidates * kLargestShare;
    ControlTargets moved = targets;
    moved[frequency] = std::clamp(*targets[frequency] * std::pow(interval, share), f.minimum, f.maximum);
    check();
    std::vector<float> audio = engine.regenerate(start, moved, 0.0, detail, variation);
    ++result.decodes;
    check();
    const Features got = measure_features(audio, rate);
    const double speed = wanted_frequency / got.frequency_hz;
    if (speed < slowest || speed > fastest) continue;
    // Judged as it will sound: resampled by `speed`, measured again (a glide measured 40 ms after
    // the peak reads differently once the one-shot is faster or slower).
    check();
    const Features heard = measure_features(resample(audio, rate * speed, rate), rate);
    if (std::abs(12.0 * std::log2(heard.frequency_hz / wanted_frequency)) > kPitchTolerance) continue;
    const double miss = release_miss(heard.release_ms, wanted_release);
    if (miss <= best_miss) {  // ties: the larger share (less resampling)
      best_miss = miss;
      result.audio = std::move(audio);
      result.measured = heard;
      result.speed = speed;
    }
  }
}

}  // namespace

Repitched repitch(const Engine& engine, const AudioStart& start, const ControlTargets& targets, const RootShot& root,
                  double semitones, double detail, const Variation& variation,
                  const std::function<bool()>& keep_going) {
  if (!targets[kFrequencyControl]) throw UsageError("repitch needs the root's frequency");
  const double searched = std::clamp(semitones, -kPitchSearchSemitones, kPitchSearchSemitones);
  const double interval = std::pow(2.0, searched / 12.0);

  // Asked between every decode and measurement: a worker never holds back more urgent work for
  // longer than one of them.
  const std::function<void()> check = [&] {
    if (keep_going && !keep_going()) throw Cancelled();
  };
  Repitched result;
  result.audio = root.audio;
  result.measured = root.features;
  result.speed = interval;  // the root resampled: what Resample mode plays
  if (semitones == 0.0) return result;
  search(engine, start, targets, root, interval, detail, variation, check, result);
  const double beyond = std::pow(2.0, (semitones - searched) / 12.0);  // resampled the rest of the way
  result.speed *= beyond;
  result.measured.frequency_hz *= beyond;
  result.measured.attack_ms /= beyond;
  result.measured.release_ms /= beyond;
  return result;
}

}  // namespace latentplay
