// SpectraFrame speed on this machine: milliseconds per x4 upscaled frame (DIS flows to the
// neighbours + the generator, eval mode, default threads = OMP_NUM_THREADS or every core) from
// 180x144 (-> 720x576, PAL) and 480x270 (-> 1920x1080) LR frames, for three generators: the seed's
// RBPN form with sub-pixel up-projections (0, the old shipped options), the same with DBPN's
// ConvTranspose2d (1), and the lr_fusion configuration at LR size: 48 channels x 6 blocks (2, shipped
// until session 12) and 64 x 10 (3, shipped since).  Weights are random: speed does not depend on their values.  The Upscaler tiles frames
// larger than its default tile (256 LR px + 16 overlap), as `fregan upscale` does.
// The max_rss_MB counter is the process's peak resident memory so far (getrusage): run one case
// per process (--benchmark_filter) to read a case's own peak.
// Run: build/release/benchmarks/cpp/bm_spectraframe --benchmark_filter='BM_SpectraFrameUpscale/180/144/2'

#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include "bm_util.h"
#include "fregan/device.h"
#include "fregan/infer/upscaler.h"
#include "fregan/models/spectraframe.h"

using namespace fregan;

using bench::max_rss_mb;

// Args: LR width, LR height, generator (0 = rbpn subpixel, 1 = rbpn transposed, 2 = lr_fusion 48x6,
// 3 = lr_fusion 64x10).
static void BM_SpectraFrameUpscale(benchmark::State& state) {
  set_num_threads(0);
  models::SpectraFrameGeneratorOptions o;
  if (state.range(2) == 1) o.upsampling = "transposed";
  if (state.range(2) >= 2) {
    o.architecture = "lr_fusion";
    o.base_channels = state.range(2) == 2 ? 48 : 64;
    o.residual_blocks = state.range(2) == 2 ? 6 : 10;
  }
  infer::Upscaler upscaler(models::SpectraFrameGenerator(o), torch::kCPU);
  torch::manual_seed(0);
  const int64_t w = state.range(0), h = state.range(1);
  // A frame and neighbours shifted by 2 px, so DIS has motion to find.
  const auto frame = torch::rand({1, 3, h, w + 4});
  const auto lr = frame.narrow(3, 2, w).contiguous();
  const auto neighbours = torch::stack({frame.narrow(3, 0, w), frame.narrow(3, 4, w)}, 1).contiguous();
  benchmark::DoNotOptimize(upscaler.upscale(lr, neighbours));  // warm-up
  for (auto _ : state) benchmark::DoNotOptimize(upscaler.upscale(lr, neighbours));
  state.SetItemsProcessed(state.iterations());
  state.counters["threads"] = set_num_threads(0);
  state.counters["max_rss_MB"] = max_rss_mb();
}
BENCHMARK(BM_SpectraFrameUpscale)
    ->Args({180, 144, 3})
    ->Args({480, 270, 3})
    ->Args({180, 144, 2})
    ->Args({480, 270, 2})
    ->Args({180, 144, 0})
    ->Args({480, 270, 0})
    ->Args({180, 144, 1})
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3);

// The baseline: OpenCV bicubic x4 of an 8-bit frame.
static void BM_BicubicUpscale(benchmark::State& state) {
  cv::Mat lr(static_cast<int>(state.range(1)), static_cast<int>(state.range(0)), CV_8UC3);
  cv::randu(lr, 0, 255);
  for (auto _ : state) benchmark::DoNotOptimize(infer::bicubic_upscale(lr, 4));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_BicubicUpscale)->Args({180, 144})->Args({480, 270})->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
