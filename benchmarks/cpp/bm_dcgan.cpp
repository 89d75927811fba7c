// DCGAN speed on this machine: training samples/s of the C++ loop (one D + one G step) for the
// two upsampling choices, and generation time per frame.
// Run: build/release/benchmarks/cpp/bm_dcgan [--benchmark_filter=...]
// Weights are random: speed does not depend on their values.
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include "fregan/device.h"
#include "fregan/models/dcgan.h"
#include "fregan/train/dcgan_trainer.h"

using namespace fregan;

// Args: height, width, levels, base_channels, transposed (0/1); batch 32, max_channels 8 x base.
static void BM_DcganTrainStep(benchmark::State& state) {
  train::DcganTrainerOptions o;
  o.run.device = "cpu";
  o.run.threads = 1;
  o.run.batch_size = 32;
  const auto base = static_cast<int>(state.range(3));
  o.run.generator_options = {{"height", state.range(0)}, {"width", state.range(1)},
                             {"levels", state.range(2)}, {"base_channels", base},
                             {"max_channels", 8 * base}, {"upsampling", state.range(4) ? "transposed" : "subpixel"}};
  o.run.discriminator_options = {{"base_channels", base}, {"max_channels", 8 * base}};
  train::DcganTrainer trainer(o);
  torch::manual_seed(0);
  const auto real = torch::rand({o.run.batch_size, 3, state.range(0), state.range(1)});
  trainer.step(real);  // warm-up
  for (auto _ : state) trainer.step(real);
  state.SetItemsProcessed(state.iterations() * o.run.batch_size);
  state.counters["threads"] = set_num_threads(1);
}
BENCHMARK(BM_DcganTrainStep)
    ->Args({80, 160, 4, 16, 0})   // the shipped dcgan-default configuration
    ->Args({80, 160, 4, 16, 1})   // the same with the seed's ConvTranspose2d
    ->Args({160, 320, 5, 16, 0})  // the default frame size
    ->Unit(benchmark::kMillisecond)
    ->MinTime(10.0);

// 64 frames with the default generator (160x320, base 64), eval mode, default threads.
static void BM_DcganGenerate64(benchmark::State& state) {
  set_num_threads(0);
  models::DcganGenerator g{models::DcganGeneratorOptions{}};
  g->eval();
  torch::NoGradGuard no_grad;
  const auto z = models::dcgan_latents(64, 100, 0);
  for (auto _ : state) benchmark::DoNotOptimize(g->forward(z));
  state.SetItemsProcessed(state.iterations() * 64);
  state.counters["threads"] = set_num_threads(0);
}
BENCHMARK(BM_DcganGenerate64)->Unit(benchmark::kMillisecond)->MinTime(5.0);

BENCHMARK_MAIN();
