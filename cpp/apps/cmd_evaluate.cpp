#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "commands.h"
#include "fregan/data/triplet_dataset.h"
#include "fregan/infer/evaluate.h"
#include "fregan/infer/interpolator.h"

namespace fregan::cli {

void add_evaluate(CLI::App& app) {
  auto o = std::make_shared<infer::EvaluateOptions>();
  auto json = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand("evaluate", "PSNR/SSIM of a model against the true middle frames, beside baselines");
  cmd->add_option("--data", o->data, "Clips with ground truth: videos, frame folders, triplet folders")->required();
  cmd->add_option("--weights", o->weights, "Checkpoint (default: the shipped model)");
  cmd->add_option("--frame-skip", o->frame_skip, "Triplets (n, n+k, n+2k)")->capture_default_str();
  cmd->add_option("--max-triplets", o->max_triplets, "Score this many evenly spaced triplets (0 = all)");
  cmd->add_option("--max-frames", o->max_frames, "Decode at most this many frames per clip (0 = all)");
  cmd->add_option("--device", o->device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_flag("--json", *json, "Print the result as JSON");
  cmd->callback([o, json] {
    data::TripletDataset dataset(infer::evaluation_triplets(*o));
    infer::Interpolator interpolator(o->weights, o->device);
    const auto r = infer::evaluate(interpolator, dataset, o->max_triplets);
    if (*json) {
      std::printf("%s\n", infer::to_json(r).dump(2).c_str());
      return;
    }
    std::printf("%lld triplets from %zu clips\n", (long long)r.triplets, dataset.sources().size());
    std::printf("%-22s %10s %8s %8s\n", "method", "PSNR (dB)", "SSIM", "MS-SSIM");
    auto row = [](const std::string& name, const infer::Scores& s) {
      std::printf("%-22s %10.2f %8.4f %8.4f\n", name.c_str(), s.psnr, s.ssim, s.ms_ssim);
    };
    row("model (" + interpolator.model_name() + ")", r.model);
    row("flow warping (DIS)", r.flow_warp);
    row("average the two frames", r.average);
    row("repeat the first frame", r.repeat);
  });
}

}  // namespace fregan::cli
