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
  struct Args {
    std::vector<std::string> data;
    std::string weights, device = "auto";
    int frame_skip = 1;
    int64_t max_triplets = 0, max_frames = 0;
    bool json = false;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("evaluate", "PSNR/SSIM of a model against the true middle frames, beside baselines");
  cmd->add_option("--data", a->data, "Clips with ground truth: videos, frame folders, triplet folders")->required();
  cmd->add_option("--weights", a->weights, "Checkpoint (default: the shipped model)");
  cmd->add_option("--frame-skip", a->frame_skip, "Triplets (n, n+k, n+2k)")->capture_default_str();
  cmd->add_option("--max-triplets", a->max_triplets, "Score this many evenly spaced triplets (0 = all)");
  cmd->add_option("--max-frames", a->max_frames, "Decode at most this many frames per clip (0 = all)");
  cmd->add_option("--device", a->device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_flag("--json", a->json, "Print the result as JSON");
  cmd->callback([a] {
    data::TripletDatasetOptions dopt;
    dopt.sources = a->data;
    dopt.frame_skip = a->frame_skip;
    dopt.max_frames_per_source = a->max_frames;
    data::TripletDataset dataset(dopt);
    infer::Interpolator interpolator(a->weights, a->device);
    const auto r = infer::evaluate(interpolator, dataset, a->max_triplets);
    if (a->json) {
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
