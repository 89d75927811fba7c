// Kernel-prediction interpolation (SepConv, AdaConv) on this machine: the local convolution op per
// backend against the naive unfold formulation, and whole interpolated frames with tiling.
// Run: build/release/benchmarks/cpp/bm_kernel_interp [--benchmark_filter=...]
// Weights are random: speed does not depend on their values.  The max_rss_MB counter is the
// process's peak resident memory so far (getrusage): run one interpolation case per process
// (--benchmark_filter) to read it as that case's peak.

#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include "bm_util.h"
#include "fregan/device.h"
#include "fregan/infer/interpolator.h"
#include "fregan/models/registry.h"
#include "fregan/ops/local_conv.h"
#include "fregan/train/trainer.h"

using namespace fregan;

using bench::max_rss_mb;

// The separable op on a [1, 3, S, S] output with K-tap kernels, forward only (what inference runs).
// range(0): 0 = kLoop (CPU default), 1 = kSlices (the CUDA path run on CPU), 2 = naive unfold.
static void BM_LocalSeparableConv(benchmark::State& state) {
  set_num_threads(0);
  const int64_t mode = state.range(0), k = state.range(1), s = state.range(2);
  torch::manual_seed(0);
  const auto in = torch::rand({1, 3, s + k - 1, s + k - 1});
  const auto v = torch::rand({1, k, s, s}), h = torch::rand({1, k, s, s});
  torch::NoGradGuard no_grad;
  auto run = [&] {
    if (mode == 2) return ops::local_separable_conv_unfold(in, v, h);
    return ops::local_separable_conv(in, v, h,
                                     mode == 0 ? ops::LocalConvBackend::kLoop : ops::LocalConvBackend::kSlices);
  };
  run();
  for (auto _ : state) benchmark::DoNotOptimize(run());
  state.SetItemsProcessed(state.iterations() * s * s);  // output pixels/s
  state.counters["max_rss_MB"] = max_rss_mb();
}
BENCHMARK(BM_LocalSeparableConv)
    ->ArgNames({"mode", "K", "size"})
    ->Args({0, 25, 256})
    ->Args({1, 25, 256})
    ->Args({2, 25, 256})
    ->Args({0, 51, 256})
    ->Args({1, 51, 256})
    ->Args({2, 51, 256})
    ->Unit(benchmark::kMillisecond)
    ->MinTime(2.0);

// Forward + backward of the op (what training runs), same modes; batch 8 of 128x128 as in training.
static void BM_LocalSeparableConvTrain(benchmark::State& state) {
  set_num_threads(0);
  const int64_t mode = state.range(0), k = state.range(1), s = 128, b = 8;
  torch::manual_seed(0);
  const auto in = torch::rand({b, 3, s + k - 1, s + k - 1}).requires_grad_();
  const auto v = torch::rand({b, k, s, s}).requires_grad_(), h = torch::rand({b, k, s, s}).requires_grad_();
  auto run = [&] {
    const auto out = mode == 2
                         ? ops::local_separable_conv_unfold(in, v, h)
                         : ops::local_separable_conv(
                               in, v, h, mode == 0 ? ops::LocalConvBackend::kLoop : ops::LocalConvBackend::kSlices);
    out.sum().backward();
  };
  run();
  for (auto _ : state) run();
  state.SetItemsProcessed(state.iterations() * b * s * s);
}
BENCHMARK(BM_LocalSeparableConvTrain)
    ->ArgNames({"mode", "K"})
    ->Args({0, 25})
    ->Args({1, 25})
    ->Args({2, 25})
    ->Unit(benchmark::kMillisecond)
    ->MinTime(2.0);

// One interpolated W x H frame with the default SepConv (K = 25) through the Interpolator; tile 0 =
// whole frame, else tiles of that size with the default overlap (128).
static void BM_SepConvInterpolate(benchmark::State& state) {
  set_num_threads(0);
  auto model = models::create_model(state.range(3) ? "adaconv" : "sepconv");
  infer::Interpolator interp(model.generator, torch::kCPU, model.name);
  interp.set_tiling({state.range(2), 128});
  const int64_t w = state.range(0), h = state.range(1);
  const auto a = torch::rand({3, h, w}), b = torch::rand({3, h, w});
  interp.interpolate(a, b);  // warm-up
  for (auto _ : state) benchmark::DoNotOptimize(interp.interpolate(a, b));
  state.counters["max_rss_MB"] = max_rss_mb();
  state.counters["threads"] = set_num_threads(0);
}
BENCHMARK(BM_SepConvInterpolate)
    ->ArgNames({"w", "h", "tile", "adaconv"})
    ->Args({854, 480, 0, 0})
    ->Args({854, 480, 512, 0})
    ->Args({1280, 720, 512, 0})
    ->Args({1920, 1080, 0, 0})
    ->Args({1920, 1080, 512, 0})
    ->Args({854, 480, 512, 1})
    ->Unit(benchmark::kMillisecond)
    ->Iterations(2);

// One training step (batch 8, 128x128 crops, L1 only) as `fregan train --model sepconv` runs it.
static void BM_SepConvTrainStep(benchmark::State& state) {
  train::TrainerOptions o;
  o.run.device = "cpu";
  o.model = "sepconv";
  o.run.batch_size = 8;
  o.crop = 128;
  train::Trainer trainer(o);
  torch::manual_seed(0);
  data::TripletBatch batch{torch::rand({8, 3, 128, 128}), torch::rand({8, 3, 128, 128}), torch::rand({8, 3, 128, 128})};
  trainer.step(batch);  // warm-up
  for (auto _ : state) trainer.step(batch);
  state.SetItemsProcessed(state.iterations() * o.run.batch_size);
  state.counters["threads"] = set_num_threads(o.run.threads);
}
BENCHMARK(BM_SepConvTrainStep)->Unit(benchmark::kMillisecond)->Iterations(5);

BENCHMARK_MAIN();
