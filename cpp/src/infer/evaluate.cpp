#include "fregan/infer/evaluate.h"

#include <opencv2/core.hpp>
#include <torch/torch.h>

#include "fregan/flow/optical_flow.h"
#include "fregan/io/image.h"
#include "fregan/metrics/metrics.h"

namespace fregan::infer {

nlohmann::json to_json(const EvaluationResult& r) {
  auto s = [](const Scores& x) { return nlohmann::json{{"psnr", x.psnr}, {"ssim", x.ssim}, {"ms_ssim", x.ms_ssim}}; };
  nlohmann::json j{{"triplets", r.triplets},
                   {"model", s(r.model)},
                   {"repeat", s(r.repeat)},
                   {"average", s(r.average)},
                   {"flow_warp", s(r.flow_warp)}};
  if (r.classical) j["classical"] = s(*r.classical);
  return j;
}

data::TripletDatasetOptions evaluation_triplets(const EvaluateOptions& o) {
  data::TripletDatasetOptions triplets;
  triplets.sources = o.data;
  triplets.frame_skip = o.frame_skip;
  triplets.max_frames_per_source = o.max_frames;
  return triplets;
}

EvaluationResult evaluate(Interpolator& interpolator, const data::TripletDataset& dataset, int64_t max_triplets,
                          Interpolator* classical) {
  const int64_t n = static_cast<int64_t>(dataset.size());
  const int64_t count = max_triplets > 0 ? std::min(n, max_triplets) : n;
  EvaluationResult r;
  if (classical) r.classical = Scores{};
  auto add = [](Scores& s, const torch::Tensor& pred, const torch::Tensor& truth) {
    s.psnr += metrics::psnr(pred, truth).item<double>();
    s.ssim += metrics::ssim(pred, truth).item<double>();
    s.ms_ssim += metrics::ms_ssim(pred.to(torch::kFloat64), truth.to(torch::kFloat64)).item<double>();
  };
  for (int64_t j = 0; j < count; ++j) {
    const auto t = dataset.get(static_cast<size_t>(j * n / count));
    const auto f0 = io::image_to_tensor(t.f0), f1 = io::image_to_tensor(t.f1), f2 = io::image_to_tensor(t.f2);
    const models::FrameWindow window{t.before.empty() ? torch::Tensor() : io::image_to_tensor(t.before), f0, f2,
                                     t.after.empty() ? torch::Tensor() : io::image_to_tensor(t.after)};
    // Quantise every prediction to 8 bits, as a saved frame would be.
    const auto model = io::image_to_tensor(io::tensor_to_image(interpolator.interpolate(window)));
    if (classical) add(*r.classical, io::image_to_tensor(io::tensor_to_image(classical->interpolate(window))), f1);
    cv::Mat blend;
    cv::addWeighted(t.f0, 0.5, t.f2, 0.5, 0.0, blend);
    add(r.model, model, f1);
    add(r.repeat, f0, f1);
    add(r.average, io::image_to_tensor(blend), f1);
    const auto warped = flow::warp_interpolate(f0.unsqueeze(0), f2.unsqueeze(0), 0.5)[0].clamp(0, 1);
    add(r.flow_warp, io::image_to_tensor(io::tensor_to_image(warped)), f1);
  }
  std::vector<Scores*> all{&r.model, &r.repeat, &r.average, &r.flow_warp};
  if (r.classical) all.push_back(&*r.classical);
  for (Scores* s : all) {
    s->psnr /= static_cast<double>(count);
    s->ssim /= static_cast<double>(count);
    s->ms_ssim /= static_cast<double>(count);
  }
  r.triplets = count;
  return r;
}

}  // namespace fregan::infer
