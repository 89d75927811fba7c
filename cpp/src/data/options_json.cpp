// Strict JSON of the data options structs: what the Python binding builds them from (keyword
// arguments -> JSON -> struct), so their defaults are written once, in the structs.
#include <nlohmann/json.hpp>

#include "fregan/data/prepared_dataset.h"
#include "fregan/data/scene.h"
#include "fregan/options_json.h"

namespace fregan::data {

FREGAN_DEFINE_OPTIONS_JSON(SceneOptions, "scene", cut_threshold, cut_ratio, neighbourhood, static_threshold,
                           held_threshold)
FREGAN_DEFINE_OPTIONS_JSON(PrepareOptions, "prepare", videos, out, task, frame_skip, max_frames_per_source,
                           target_frames, max_side, val_fraction, test_fraction, seed, scene, sr_scale, overwrite)

}  // namespace fregan::data
