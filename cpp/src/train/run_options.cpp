#include "fregan/train/run_options.h"

#include "fregan/options_json.h"

namespace fregan::train {

// The field list is written once, here: the flat writer and reader below and the standalone
// to_json / from_json all use it.
#define FREGAN_RUN_OPTION_FIELDS                                                                                      \
  generator_options, discriminator_options, data, max_frames_per_source, steps, batch_size, lr_g, lr_d, beta1, beta2, \
      label_smoothing, out_dir, resume, overwrite, log_every, checkpoint_every, seed, device, threads

void write_run_options(nlohmann::json& fregan_json, const RunOptions& fregan_options) {
  NLOHMANN_JSON_EXPAND(NLOHMANN_JSON_PASTE(FREGAN_OPTION_TO_JSON, FREGAN_RUN_OPTION_FIELDS))
}

void read_run_options(fregan::detail::OptionReader& fregan_reader, RunOptions& fregan_options) {
  NLOHMANN_JSON_EXPAND(NLOHMANN_JSON_PASTE(FREGAN_OPTION_FROM_JSON, FREGAN_RUN_OPTION_FIELDS))
}

void to_json(nlohmann::json& j, const RunOptions& o) {
  j = nlohmann::json::object();
  write_run_options(j, o);
}

void from_json(const nlohmann::json& j, RunOptions& o) {
  fregan::detail::OptionReader reader(j, "training run");
  read_run_options(reader, o);
  reader.finish();
}

}  // namespace fregan::train
