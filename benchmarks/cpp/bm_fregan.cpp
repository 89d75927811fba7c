// FREGAN speed on this machine: training samples/s of the C++ loop and interpolation time per
// frame.  Run: build/release/benchmarks/cpp/bm_fregan [--benchmark_filter=...]
// Weights are random: speed does not depend on their values.
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include "fregan/device.h"
#include "fregan/infer/interpolator.h"
#include "fregan/models/registry.h"
#include "fregan/train/trainer.h"

using namespace fregan;

// One G + D step at the default options (batch 9, 256x256 crops), as `fregan train` runs it.
static void BM_TrainStep(benchmark::State& state) {
  train::TrainerOptions o;
  o.run.device = "cpu";
  o.run.batch_size = static_cast<int>(state.range(0));
  o.crop = static_cast<int>(state.range(1));
  train::Trainer trainer(o);
  torch::manual_seed(0);
  data::TripletBatch batch{torch::rand({o.run.batch_size, 3, o.crop, o.crop}),
                           torch::rand({o.run.batch_size, 3, o.crop, o.crop}),
                           torch::rand({o.run.batch_size, 3, o.crop, o.crop})};
  trainer.step(batch);  // warm-up
  for (auto _ : state) trainer.step(batch);
  state.SetItemsProcessed(state.iterations() * o.run.batch_size);
  state.counters["threads"] = set_num_threads(o.run.threads);
}
BENCHMARK(BM_TrainStep)->Args({9, 256})->Args({8, 128})->Unit(benchmark::kMillisecond)->MinTime(20.0);

// One interpolated frame with the default FREGAN generator at W x H.
static void BM_Interpolate(benchmark::State& state) {
  set_num_threads(0);
  auto model = models::create_model("fregan");
  infer::Interpolator interp(model.generator, torch::kCPU, "fregan");
  const int64_t w = state.range(0), h = state.range(1);
  const auto a = torch::rand({3, h, w}), b = torch::rand({3, h, w});
  interp.interpolate(a, b);  // warm-up
  for (auto _ : state) benchmark::DoNotOptimize(interp.interpolate(a, b));
  state.counters["threads"] = set_num_threads(0);
}
BENCHMARK(BM_Interpolate)->Args({854, 480})->Args({1920, 1080})->Unit(benchmark::kMillisecond)->MinTime(10.0);

BENCHMARK_MAIN();
