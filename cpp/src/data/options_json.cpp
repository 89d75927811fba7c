// Strict JSON of the data options structs: what the Python binding builds them from (keyword
// arguments -> JSON -> struct), so their defaults are written once, in the structs; and the JSON
// of the counts the binding hands back.
#include <nlohmann/json.hpp>

#include "fregan/data/augment.h"
#include "fregan/data/frame_dataset.h"
#include "fregan/data/prepared_dataset.h"
#include "fregan/data/scene.h"
#include "fregan/data/sr_dataset.h"
#include "fregan/data/triplet_dataset.h"
#include "fregan/options_json.h"

namespace fregan::data {

FREGAN_DEFINE_OPTIONS_JSON(SceneOptions, "scene", cut_threshold, cut_ratio, neighbourhood, static_threshold,
                           held_threshold)
FREGAN_DEFINE_OPTIONS_JSON(PrepareOptions, "prepare", videos, out, task, frame_skip, max_frames_per_source,
                           target_frames, max_side, val_fraction, test_fraction, seed, scene, sr_scale, overwrite)

FREGAN_DEFINE_OPTIONS_JSON(AugmentOptions, "augment", hflip, vflip, rotate)

FREGAN_DEFINE_OPTIONS_JSON(TripletDatasetOptions, "triplet dataset", sources, split, frame_skip, max_frames_per_source,
                           max_triplets_per_source, min_size, drop_cuts, drop_static, neighbours, scene)
nlohmann::json to_json(const TripletStats& s) {
  return {{"clips", s.clips},
          {"frames", s.frames},
          {"triplets", s.triplets},
          {"dropped_cut", s.dropped_cut},
          {"dropped_static", s.dropped_static},
          {"skipped_clips", s.skipped_clips}};
}
FREGAN_DEFINE_OPTIONS_JSON(TripletLoaderOptions, "triplet batch", batch_size, crop, hflip, vflip, rotate,
                           temporal_reverse, workers, prefetch, seed, shard_index, shard_count)

FREGAN_DEFINE_OPTIONS_JSON(FrameDatasetOptions, "frame dataset", sources, split, frame_skip, target_frames,
                           max_frames_per_source)
FREGAN_DEFINE_OPTIONS_JSON(FrameBatchOptions, "frame batch", batch_size, height, width, shuffle, hflip, seed)

FREGAN_DEFINE_OPTIONS_JSON(SrDatasetOptions, "sr dataset", sources, split, max_frames_per_source)
FREGAN_DEFINE_OPTIONS_JSON(SrBatchOptions, "sr batch", batch_size, scale, hr_crop, neighbours, augment, seed)

}  // namespace fregan::data
