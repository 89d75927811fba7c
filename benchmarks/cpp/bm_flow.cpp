// fregan-flow's parts at 1080p on this machine: DIS flow, backward warping (both samplings) and one
// whole interpolated frame.  Run: build/release/benchmarks/cpp/bm_flow [--benchmark_filter=...]
// The frames are a smooth synthetic scene and the flow a smooth field: the samplers' cost depends on
// where they read, not on the values.  Weights are random: speed does not depend on them.
#include <vector>

#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include "fregan/device.h"
#include "fregan/flow/optical_flow.h"
#include "fregan/infer/interpolator.h"
#include "fregan/models/registry.h"

using namespace fregan;

namespace {

constexpr int64_t kWidth = 1920, kHeight = 1080;

// A textured frame moved by `shift` pixels to the right: DIS has real structure to match.
torch::Tensor scene(double shift) {
  const auto x = torch::arange(kWidth, torch::kFloat32).view({1, 1, kWidth}) - shift;
  const auto y = torch::arange(kHeight, torch::kFloat32).view({1, kHeight, 1});
  const auto c = torch::arange(3, torch::kFloat32).view({3, 1, 1});
  return (0.5 + 0.25 * torch::sin(x * 0.05 + c) * torch::cos(y * 0.07 - c) + 0.2 * torch::sin((x + y) * 0.011))
      .unsqueeze(0)
      .contiguous();
}

// Up to ~12 pixels of motion, varying across the frame.
torch::Tensor smooth_flow() {
  const auto x = torch::linspace(0, 6.28, kWidth).view({1, 1, kWidth}).expand({1, kHeight, kWidth});
  const auto y = torch::linspace(0, 3.14, kHeight).view({1, kHeight, 1}).expand({1, kHeight, kWidth});
  return torch::cat({8 * torch::sin(x) * torch::cos(y), 5 * torch::cos(x + y)}, 0).unsqueeze(0).contiguous();
}

}  // namespace

static void BM_BackwardWarp1080p(benchmark::State& state) {
  set_num_threads(static_cast<int>(state.range(1)));
  const auto sampling = state.range(0) ? flow::Sampling::Bicubic : flow::Sampling::Bilinear;
  const auto image = scene(0), flow = smooth_flow();
  torch::NoGradGuard no_grad;
  for (auto _ : state) benchmark::DoNotOptimize(flow::backward_warp(image, flow, sampling));
  state.SetLabel(state.range(0) ? "bicubic" : "bilinear");
  state.counters["threads"] = static_cast<double>(state.range(1));
}
BENCHMARK(BM_BackwardWarp1080p)
    ->ArgsProduct({{0, 1}, {1, 2}})
    ->Unit(benchmark::kMillisecond)
    ->MinTime(3.0)
    ->UseRealTime();

// Both directions, at the resolution DIS runs at for 1080p (max_side 960).
static void BM_DisFlow1080p(benchmark::State& state) {
  set_num_threads(0);
  flow::FlowOptions o;
  o.preset = state.range(0) ? "fine" : "medium";
  const auto a = scene(0), b = scene(6);
  torch::NoGradGuard no_grad;
  for (auto _ : state) benchmark::DoNotOptimize(flow::bidirectional_flow_at_dis_resolution(a, b, o));
  state.SetLabel(o.preset);
}
BENCHMARK(BM_DisFlow1080p)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->MinTime(3.0)->UseRealTime();

// One interpolated 1080p frame from fregan-flow's architecture (the video job runs two of these at
// once, one thread each: compare the 1-thread figure with the job's per-frame time x 2).
static void BM_FlowGuidedFrame1080p(benchmark::State& state) {
  set_num_threads(static_cast<int>(state.range(0)));
  auto model = models::create_model("fregan-flow");
  infer::Interpolator interp(model.generator, torch::kCPU, "fregan-flow");
  // Pairs along a loop of 8 frames: as in a video, each pair brings one frame the net has not
  // prepared yet (it remembers the last 4).
  std::vector<torch::Tensor> frames;
  for (int i = 0; i < 8; ++i) frames.push_back(scene(3.0 * (i < 4 ? i : 8 - i)).squeeze(0));
  size_t i = 0;
  interp.interpolate(frames[7], frames[0]);  // warm-up
  for (auto _ : state) {
    benchmark::DoNotOptimize(interp.interpolate(frames[i], frames[(i + 1) % 8]));
    i = (i + 1) % 8;
  }
  state.counters["threads"] = static_cast<double>(state.range(0));
}
BENCHMARK(BM_FlowGuidedFrame1080p)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->MinTime(5.0)->UseRealTime();

BENCHMARK_MAIN();
