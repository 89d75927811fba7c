#pragma once
// What every trainer's options hold in common (TrainerOptions::run, SrTrainerOptions::run,
// DcganTrainerOptions::run): the data, the output folder and its resume rules, the step count and
// batch, Adam's rates, the label smoothing, the log and checkpoint cadence, the seed, device and
// threads, and the family's model options as JSON (which the family's models read, so a field
// added to a generator's options needs no change here).  Each family sets its own defaults.
//
// In JSON (checkpoint headers, fregan.train's keyword arguments, --config-like dicts) these fields
// stand at the top level beside the family's own: a header written before the struct was nested
// reads unchanged.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fregan/losses/losses.h"
#include "fregan/options_json.h"

namespace fregan::train {

struct RunOptions {
  // Model: the family's generator / discriminator options as JSON.
  nlohmann::json generator_options = nlohmann::json::object();
  nlohmann::json discriminator_options = nlohmann::json::object();

  // Data: videos / frame folders / prepared datasets.
  std::vector<std::string> data;
  int64_t max_frames_per_source = 0;  // decode at most this many frames per clip (0 = all)

  // Optimisation (Adam).
  int64_t steps = 2000;  // total optimizer steps (a resumed run continues to this number)
  int batch_size = 9;
  double lr_g = 2e-4, lr_d = 2e-4;
  double beta1 = 0.5, beta2 = 0.999;
  losses::LabelSmoothing label_smoothing;  // the discriminator's targets

  // Bookkeeping: out_dir gets last.pt, best.pt (families that validate) and log.jsonl.
  std::string out_dir;
  bool resume = false;     // continue from out_dir/last.pt
  bool overwrite = false;  // start afresh even if out_dir holds a run
  int64_t log_every = 10;
  int64_t checkpoint_every = 200;
  uint64_t seed = 0;
  std::string device = "auto";
  int threads = 0;  // intra-op threads (0 = torch's default)
};

// Standalone JSON of the shared fields (strict: an unknown key is an error).
void to_json(nlohmann::json& j, const RunOptions& o);
void from_json(const nlohmann::json& j, RunOptions& o);

// The flat form the families use: the shared fields written into / read from the family's object.
void write_run_options(nlohmann::json& j, const RunOptions& o);
void read_run_options(fregan::detail::OptionReader& reader, RunOptions& o);

// One progress record for every family, handed to the caller's callback after each step: where
// the run is, the step's figures and, on the steps that validate, the validation.
template <typename Stats, typename Validation>
struct RunProgress {
  int64_t step = 0, total_steps = 0;
  Stats last;
  double samples_per_second = 0;
  double eta_seconds = 0;
  std::optional<Validation> validation;  // set on validation steps
};

}  // namespace fregan::train

// Defines to_json / from_json of a trainer's options struct with a `run` member: its own fields
// (listed) and the shared ones, all at the top level of one object, read strictly.
#define FREGAN_DEFINE_TRAINER_OPTIONS_JSON(Type, what, ...)                         \
  void to_json(nlohmann::json& fregan_json, const Type& fregan_options) {           \
    fregan_json = nlohmann::json::object();                                         \
    ::fregan::train::write_run_options(fregan_json, fregan_options.run);            \
    NLOHMANN_JSON_EXPAND(NLOHMANN_JSON_PASTE(FREGAN_OPTION_TO_JSON, __VA_ARGS__))   \
  }                                                                                 \
  void from_json(const nlohmann::json& fregan_json, Type& fregan_options) {         \
    ::fregan::detail::OptionReader fregan_reader(fregan_json, what);                \
    ::fregan::train::read_run_options(fregan_reader, fregan_options.run);           \
    NLOHMANN_JSON_EXPAND(NLOHMANN_JSON_PASTE(FREGAN_OPTION_FROM_JSON, __VA_ARGS__)) \
    fregan_reader.finish();                                                         \
  }
