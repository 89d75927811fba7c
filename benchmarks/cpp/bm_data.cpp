// The native loader's throughput: batches of 256x256 triplets cut from a prepared (memory-mapped)
// dataset with flips, rotation and temporal reversal, through TripletLoader with 1 and 2 worker
// threads.  Data: ../shared/data/videos when present (prepared once into a temporary folder),
// else synthetic clips.  Also the frame <-> tensor conversions every video job makes per frame,
// at 1080p, 8-bit BGR and BGRA.  Run: build/release/benchmarks/cpp/bm_data
#include <filesystem>
#include <memory>
#include <random>

#include <benchmark/benchmark.h>
#include <opencv2/imgcodecs.hpp>
#include <torch/torch.h>

#include "fregan/data/prepared_dataset.h"
#include "fregan/data/triplet_dataset.h"
#include "fregan/io/image.h"
#include "fregan/log.h"

namespace fs = std::filesystem;
using namespace fregan;

namespace {

std::shared_ptr<data::TripletDataset> dataset() {
  static std::shared_ptr<data::TripletDataset> ds = [] {
    log::set_level(log::Level::kError);
    const fs::path root = fs::temp_directory_path() / "fregan-bm-data";
    const fs::path shared = fs::path(FREGAN_SHARED_DATA) / "videos";
    if (!fs::exists(root / "manifest.json")) {
      data::PrepareOptions o;
      o.out = (root).string();
      o.val_fraction = o.test_fraction = 0;
      if (fs::is_directory(shared)) {
        o.videos = {shared.string()};
      } else {
        std::mt19937 rng(0);
        for (int c = 0; c < 2; ++c) {
          const fs::path clip = fs::temp_directory_path() / "fregan-bm-clips" / std::to_string(c);
          fs::create_directories(clip);
          for (int i = 0; i < 30; ++i) {
            cv::Mat f(360, 640, CV_8UC3);
            cv::randu(f, 0, 255);
            cv::imwrite((clip / (std::to_string(i) + ".png")).string(), f);
          }
        }
        o.videos = {(fs::temp_directory_path() / "fregan-bm-clips").string()};
      }
      data::prepare_dataset(o);
    }
    data::TripletDatasetOptions to;
    to.sources = {root.string()};
    to.split = "all";
    to.min_size = 256;
    return std::make_shared<data::TripletDataset>(to);
  }();
  return ds;
}

}  // namespace

// Samples/s delivered to a consumer that only takes batches (what the loader can feed training).
static void BM_TripletLoader(benchmark::State& state) {
  auto ds = dataset();
  data::TripletLoaderOptions o;
  o.batch_size = 9;
  o.crop = 256;
  o.rotate = true;
  o.workers = static_cast<int>(state.range(0));
  data::TripletLoader loader(ds, o, 0);
  for (auto _ : state) benchmark::DoNotOptimize(loader.next());
  state.SetItemsProcessed(state.iterations() * o.batch_size);
}
BENCHMARK(BM_TripletLoader)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->MinTime(5.0)->UseRealTime();

// Arg: channels (3 = BGR, 4 = BGRA).
void BM_ImageToTensor1080p(benchmark::State& state) {
  cv::Mat frame(1080, 1920, CV_8UC(static_cast<int>(state.range(0))));
  cv::randu(frame, 0, 255);
  for (auto _ : state) benchmark::DoNotOptimize(io::image_to_tensor(frame));
}
BENCHMARK(BM_ImageToTensor1080p)->Arg(3)->Arg(4)->Unit(benchmark::kMillisecond)->MinTime(2.0)->UseRealTime();

void BM_TensorToImage1080p(benchmark::State& state) {
  const auto tensor = torch::rand({state.range(0), 1080, 1920});
  for (auto _ : state) benchmark::DoNotOptimize(io::tensor_to_image(tensor));
}
BENCHMARK(BM_TensorToImage1080p)->Arg(3)->Arg(4)->Unit(benchmark::kMillisecond)->MinTime(2.0)->UseRealTime();

BENCHMARK_MAIN();
