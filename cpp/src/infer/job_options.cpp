// Strict JSON of the jobs' options structs: what the Python binding builds them from (keyword
// arguments -> JSON -> struct), so their defaults are written once, in the structs; and the JSON
// of what the jobs report.
#include <nlohmann/json.hpp>

#include "fregan/infer/evaluate.h"
#include "fregan/infer/export.h"
#include "fregan/infer/frame_generator.h"
#include "fregan/infer/upscaler.h"
#include "fregan/infer/video_job.h"
#include "fregan/options_json.h"

namespace fregan::infer {

FREGAN_DEFINE_OPTIONS_JSON(VideoJobOptions, "video", input, output, factor, target_fps, input_fps, overwrite, codec,
                           crf, preset, keep_audio, detect_cuts, neighbours, scene, dedup, dedup_max_run,
                           segment_seconds, resume)

nlohmann::json to_json(const VideoJobProgress& p) {
  return {{"input_frames_done", p.input_frames_done},
          {"input_frames_total", p.input_frames_total},
          {"output_frames", p.output_frames},
          {"frames_per_second", p.frames_per_second},
          {"eta_seconds", p.eta_seconds}};
}

nlohmann::json to_json(const VideoJobResult& r) {
  return {{"input_frames", r.input_frames},
          {"output_frames", r.output_frames},
          {"interpolated_frames", r.interpolated_frames},
          {"input_fps", r.input_fps},
          {"output_fps", r.output_fps},
          {"width", r.width},
          {"height", r.height},
          {"audio_kept", r.audio_kept},
          {"scene_cuts", r.scene_cuts},
          {"duplicates_removed", r.duplicates_removed},
          {"deinterlaced", r.deinterlaced},
          {"resumed_segments", r.resumed_segments},
          {"completed", r.completed},
          {"seconds", r.seconds}};
}

FREGAN_DEFINE_OPTIONS_JSON(EvaluateOptions, "evaluate", data, weights, device, frame_skip, max_triplets, max_frames)

FREGAN_DEFINE_OPTIONS_JSON(ExportOptions, "export", height, width, batch, check_tolerance, overwrite)

nlohmann::json to_json(const ExportResult& r) {
  return {{"model", r.model}, {"path", r.path}, {"max_abs_difference", r.max_abs_difference}};
}

FREGAN_DEFINE_OPTIONS_JSON(LatentWalkOptions, "latent walk", keys, frames_between, loop)

FREGAN_DEFINE_OPTIONS_JSON(UpscaleVideoOptions, "upscale", input, output, upscale_only, max_frames, overwrite, codec,
                           crf, keep_audio)

}  // namespace fregan::infer
