// SpectraFrame (x4 video super-resolution): model shapes, losses, checkpoints, training, upscaling.
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>
#include <torch/script.h>
#include <torch/torch.h>

#include "fregan/data/sr_dataset.h"
#include "fregan/error.h"
#include "fregan/infer/upscaler.h"
#include "fregan/io/image.h"
#include "fregan/losses/losses.h"
#include "fregan/metrics/metrics.h"
#include "fregan/models/spectraframe.h"
#include "fregan/models/checkpoint.h"
#include "fregan/train/sr_trainer.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace fregan;

namespace {

// A small model: what the tests need is the wiring, not the capacity.
const nlohmann::json kSmallGenerator = {{"base_channels", 8}, {"feature_channels", 4}, {"neighbours", 2}};
const nlohmann::json kSmallDiscriminator = {{"base_channels", 4}, {"max_channels", 8}, {"levels", 2}, {"dense_channels", 8}};

// `count` frames of a textured square moving 2 px per frame, as PNGs in `dir`.
void write_clip(const std::string& dir, int count, int width, int height, uint32_t seed = 7) {
  fs::create_directories(dir);
  for (int i = 0; i < count; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "%03d.png", i);
    io::write_image((fs::path(dir) / name).string(), test::moving_square(width, height, 4 + 2 * i, 16, seed), true);
  }
}

}  // namespace

TEST(SpectraFrameModel, OddLrSizesGiveX4Output) {
  for (const std::string upsampling : {"subpixel", "transposed"}) {
    models::SpectraFrameGeneratorOptions o;
    o.base_channels = 8;
    o.feature_channels = 4;
    o.neighbours = 3;
    o.upsampling = upsampling;
    models::SpectraFrameGenerator g(o);
    const auto lr = torch::rand({2, 3, 23, 31});
    const auto out = g->forward(lr, torch::rand({2, 3, 3, 23, 31}), torch::zeros({2, 3, 2, 23, 31}));
    EXPECT_EQ(out.sizes(), torch::IntArrayRef({2, 3, 92, 124})) << upsampling;
  }
}

TEST(SpectraFrameModel, BackProjectionUnitShapes) {
  for (const std::string upsampling : {"subpixel", "transposed"}) {
    models::UpProjection up(6, upsampling);
    models::DownProjection down(6, upsampling);
    const auto high = up->forward(torch::rand({2, 6, 23, 31}));
    EXPECT_EQ(high.sizes(), torch::IntArrayRef({2, 6, 92, 124})) << upsampling;
    EXPECT_EQ(down->forward(high).sizes(), torch::IntArrayRef({2, 6, 23, 31})) << upsampling;
  }
}

TEST(SpectraFrameModel, UntrainedGeneratorIsBicubic) {
  auto m = models::create_spectraframe(kSmallGenerator, kSmallDiscriminator);
  const auto lr = torch::rand({1, 3, 9, 13});
  const auto out = m.generator->forward(lr, torch::rand({1, 2, 3, 9, 13}), torch::zeros({1, 2, 2, 9, 13}));
  namespace F = torch::nn::functional;
  const auto bicubic = F::interpolate(
      lr, F::InterpolateFuncOptions().size(std::vector<int64_t>{36, 52}).mode(torch::kBicubic).align_corners(false));
  EXPECT_TRUE(torch::allclose(out, bicubic, 1e-6, 1e-6));
}

TEST(SpectraFrameModel, ZeroFlowAndIdenticalNeighboursGiveIdenticalBranchInputs) {
  models::SpectraFrameGenerator g(kSmallGenerator.get<models::SpectraFrameGeneratorOptions>());
  const auto frame = io::image_to_tensor(test::moving_square(48, 40, 10)).unsqueeze(0);
  const auto neighbours = torch::stack({frame, frame}, 1);  // [1, 2, 3, 40, 48]
  const auto flows = models::spectraframe_flows(frame, neighbours);
  ASSERT_EQ(flows.sizes(), torch::IntArrayRef({1, 2, 2, 40, 48}));
  EXPECT_LT(flows.abs().max().item<double>(), 1e-3) << "DIS flow between identical frames must be zero";
  const auto pairs = g->pair_inputs(frame, neighbours, flows);
  ASSERT_EQ(pairs.sizes(), torch::IntArrayRef({1, 2, 8, 40, 48}));
  EXPECT_TRUE(torch::equal(pairs.select(1, 0), pairs.select(1, 1)));
  EXPECT_TRUE(torch::equal(pairs.select(1, 0).slice(1, 0, 3), frame));
  EXPECT_TRUE(torch::equal(pairs.select(1, 0).slice(1, 3, 6), frame));
  // And a moving neighbour gives a different input (the test can fail).
  const auto moved = io::image_to_tensor(test::moving_square(48, 40, 14)).unsqueeze(0);
  const auto other = g->pair_inputs(frame, torch::stack({frame, moved}, 1), torch::zeros({1, 2, 2, 40, 48}));
  EXPECT_FALSE(torch::equal(other.select(1, 0), other.select(1, 1)));
}

TEST(SpectraFrameModel, FlowsWorkOnTinyTrainingCrops) {
  // 32x32 HR crops give 8x8 LR frames, below DIS's minimum of 12 pixels.
  const auto frame = io::image_to_tensor(test::moving_square(32, 32, 8, 8)).unsqueeze(0);
  const auto lr = torch::nn::functional::interpolate(
      frame, torch::nn::functional::InterpolateFuncOptions().size(std::vector<int64_t>{8, 8}).mode(torch::kBilinear).align_corners(false));
  const auto flows = models::spectraframe_flows(lr, torch::stack({lr, lr}, 1));
  EXPECT_EQ(flows.sizes(), torch::IntArrayRef({1, 2, 2, 8, 8}));
  EXPECT_LT(flows.abs().max().item<double>(), 1e-3);
}

TEST(SpectraFrameModel, PairInputsRefuseWrongShapes) {
  models::SpectraFrameGenerator g(kSmallGenerator.get<models::SpectraFrameGeneratorOptions>());
  EXPECT_THROW(g->pair_inputs(torch::rand({1, 3, 8, 8}), torch::rand({1, 3, 3, 8, 8}), torch::zeros({1, 3, 2, 8, 8})),
               c10::Error);
  EXPECT_THROW(models::create_spectraframe({{"scale", 2}}), InvalidArgument);
  EXPECT_THROW(models::create_spectraframe({{"no_such_option", 1}}), InvalidArgument);
}

TEST(SpectraFrameModel, DiscriminatorTakesAnySize) {
  models::SpectraFrameDiscriminator d(kSmallDiscriminator.get<models::SpectraFrameDiscriminatorOptions>());
  EXPECT_EQ(d->forward(torch::rand({2, 3, 64, 64})).sizes(), torch::IntArrayRef({2}));
  EXPECT_EQ(d->forward(torch::rand({2, 3, 92, 124})).sizes(), torch::IntArrayRef({2}));
  EXPECT_EQ(d->features(torch::rand({2, 3, 64, 64})).size(), 2u);
}

TEST(SpectraFrameLosses, TotalVariationMatchesHandComputation) {
  // [[1, 2], [4, 8]]: vertical differences 3, 6 -> (9 + 36) / 2 = 22.5; horizontal 1, 4 -> (1 + 16) / 2 = 8.5.
  const auto x = torch::tensor({1.0f, 2.0f, 4.0f, 8.0f}).reshape({1, 1, 2, 2});
  EXPECT_NEAR(losses::total_variation(x).item<double>(), 31.0, 1e-6);
  EXPECT_NEAR(losses::total_variation(torch::full({2, 3, 5, 7}, 0.3)).item<double>(), 0.0, 1e-9);
  EXPECT_THROW(losses::total_variation(torch::rand({1, 3, 1, 4})), c10::Error);
}

TEST(SpectraFrameLosses, PerceptualLossLoadsTorchScript) {
  test::TempDir dir;
  torch::jit::Module m("Features");
  m.define(R"(
def forward(self, x):
    return (x * 2.0, x.mean(1, True))
)");
  const std::string path = dir / "features.pt";
  m.save(path);
  losses::TorchScriptFeatures features(path);
  const auto a = torch::zeros({1, 3, 4, 4}), b = torch::ones({1, 3, 4, 4});
  const auto fa = features(a), fb = features(b);
  ASSERT_EQ(fa.size(), 2u);
  EXPECT_TRUE(torch::allclose(fb[0], torch::full({1, 3, 4, 4}, 2.0)));
  // Layer MSEs: (2 - 0)^2 = 4 and (1 - 0)^2 = 1 -> mean 2.5.
  EXPECT_NEAR(losses::feature_distance(fa, fb).item<double>(), 2.5, 1e-6);
}

TEST(SpectraFrameLosses, PerceptualLossFailsClearlyOnBadPath) {
  test::TempDir dir;
  const std::string missing = dir / "no-vgg.pt";
  try {
    losses::TorchScriptFeatures f(missing);
    FAIL() << "expected FileError";
  } catch (const FileError& e) {
    EXPECT_NE(std::string(e.what()).find(missing), std::string::npos) << e.what();
  }
  const std::string junk = dir / "junk.pt";
  std::ofstream(junk) << "not a torchscript archive";
  try {
    losses::TorchScriptFeatures f(junk);
    FAIL() << "expected CheckpointError";
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find(junk), std::string::npos) << e.what();
  }
}

TEST(SpectraFrameCheckpoint, RoundTripStripAndRefusal) {
  test::TempDir dir;
  torch::manual_seed(1);
  auto m = models::create_spectraframe(kSmallGenerator, kSmallDiscriminator);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : m.generator->parameters()) p.add_(torch::randn_like(p) * 0.01);  // not the bicubic start
  }
  const std::string full = dir / "full.pt", stripped = dir / "stripped.pt";
  models::save_spectraframe_checkpoint(full, {}, m);
  models::strip_checkpoint(full, stripped, false);
  models::CheckpointMeta meta;
  auto loaded = models::load_spectraframe(stripped, torch::kCPU, &meta);
  EXPECT_EQ(meta.model, "spectraframe");
  EXPECT_FALSE(meta.has_discriminator);
  EXPECT_EQ(meta.generator_options, m.generator_options);
  const auto lr = torch::rand({1, 3, 7, 9});
  const auto nb = torch::rand({1, 2, 3, 7, 9});
  const auto flows = torch::zeros({1, 2, 2, 7, 9});
  EXPECT_TRUE(torch::allclose(m.generator->forward(lr, nb, flows), loaded.generator->forward(lr, nb, flows)));
  try {
    models::load_model(full, torch::kCPU);
    FAIL() << "an interpolation load of a SpectraFrame checkpoint must fail";
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("fregan upscale"), std::string::npos) << e.what();
  }
}

TEST(SpectraFrameUpscaler, NeighbourIndicesMatchTraining) {
  auto two = models::create_spectraframe(kSmallGenerator, kSmallDiscriminator, false);
  infer::Upscaler u2(two.generator, torch::kCPU);
  EXPECT_EQ(u2.neighbour_indices(0, 5), (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(u2.neighbour_indices(2, 5), (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(u2.neighbour_indices(4, 5), (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(u2.neighbour_indices(4, -1), (std::vector<int64_t>{3, 5}));
  auto g4 = kSmallGenerator;
  g4["neighbours"] = 4;
  infer::Upscaler u4(models::create_spectraframe(g4, {}, false).generator, torch::kCPU);
  EXPECT_EQ(u4.neighbour_indices(1, 3), (std::vector<int64_t>{0, 0, 2, 2}));
}

TEST(SpectraFrameUpscaler, EvaluationModeStreamsAndScoresBicubic) {
  test::TempDir dir;
  write_clip(dir / "clip", 5, 66, 50);  // not multiples of 4: cut to 64x48
  auto m = models::create_spectraframe(kSmallGenerator, kSmallDiscriminator, false);
  const std::string weights = dir / "sf.pt";
  models::save_spectraframe_checkpoint(weights, {}, m);
  infer::Upscaler upscaler(weights, "cpu");
  infer::UpscaleVideoOptions o;
  o.input = dir / "clip";
  int64_t calls = 0;
  o.progress = [&](const infer::UpscaleVideoProgress&) { return ++calls > 0; };
  const auto r = infer::upscale_video(upscaler, o);
  EXPECT_EQ(r.frames, 5);
  EXPECT_EQ(calls, 5);
  EXPECT_EQ(r.lr_width, 16);
  EXPECT_EQ(r.lr_height, 12);
  EXPECT_EQ(r.width, 64);
  EXPECT_EQ(r.height, 48);
  ASSERT_TRUE(r.evaluated);
  // The bicubic baseline by hand, on the first frame.
  const cv::Mat hr = io::read_image(dir / "clip/000.png")(cv::Rect(0, 0, 64, 48));
  const cv::Mat up = infer::bicubic_upscale(data::bicubic_downsample(hr, 4), 4);
  EXPECT_GT(r.scores.bicubic.psnr, 10.0);
  EXPECT_LT(std::abs(metrics::psnr(up, hr) - r.scores.bicubic.psnr), 3.0);
  // The untrained model is bicubic (torch's, vs OpenCV's fixed-point one): within a small margin.
  EXPECT_NEAR(r.scores.model.psnr, r.scores.bicubic.psnr, 0.5);
}

TEST(SpectraFrameTrainer, TrainsSavesAndResumes) {
  test::TempDir dir;
  write_clip(dir / "data/a", 6, 64, 64, 1);
  write_clip(dir / "data/b", 6, 64, 64, 2);
  train::SrTrainerOptions o;
  o.run.generator_options = kSmallGenerator;
  o.run.discriminator_options = kSmallDiscriminator;
  o.run.data = {dir / "data/a"};
  o.val_data = {dir / "data/b"};
  o.run.steps = 2;
  o.run.batch_size = 2;
  o.hr_crop = 32;
  o.val_frames = 2;
  o.val_crop = 32;
  o.run.checkpoint_every = 1;
  o.run.out_dir = dir / "run";
  o.run.threads = 1;
  {
    train::SrTrainer t(o);
    EXPECT_EQ(t.perceptual_source(), "discriminator features");
    const auto val = t.fit();
    EXPECT_EQ(t.current_step(), 2);
    EXPECT_EQ(val.frames, 2);
    EXPECT_GT(val.bicubic.psnr, 10.0);
  }
  EXPECT_TRUE(fs::exists(dir / "run/last.pt"));
  EXPECT_TRUE(fs::exists(dir / "run/best.pt"));
  const auto meta = models::read_checkpoint_meta(dir / "run/last.pt");
  EXPECT_EQ(meta.model, "spectraframe");
  EXPECT_EQ(meta.step, 2);
  EXPECT_TRUE(meta.has_discriminator && meta.has_optimizers);
  // Without --resume / --overwrite the run is not clobbered; with --resume it continues.
  EXPECT_THROW(train::SrTrainer(o).fit(), InvalidArgument);
  o.run.resume = true;
  o.run.steps = 3;
  train::SrTrainer resumed(o);
  resumed.fit();
  EXPECT_EQ(resumed.current_step(), 3);
  o.loss = {{"nope", 1}};
  EXPECT_THROW(train::SrTrainer{o}, InvalidArgument);
}
