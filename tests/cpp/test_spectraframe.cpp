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
const nlohmann::json kSmallDiscriminator = {
    {"base_channels", 4}, {"max_channels", 8}, {"levels", 2}, {"dense_channels", 8}};

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
  const auto lr = torch::nn::functional::interpolate(frame, torch::nn::functional::InterpolateFuncOptions()
                                                                .size(std::vector<int64_t>{8, 8})
                                                                .mode(torch::kBilinear)
                                                                .align_corners(false));
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

// --- the lr_fusion architecture, the Charbonnier term, tiling, the learning-rate schedule -------

namespace {

const nlohmann::json kSmallLrFusion = {
    {"architecture", "lr_fusion"}, {"base_channels", 8}, {"residual_blocks", 2}, {"neighbours", 2}};

// Every parameter moved off its initial value, so the reconstruction conv is not zero.
void perturb(torch::nn::Module& m, double scale = 0.05) {
  torch::NoGradGuard no_grad;
  for (auto& p : m.parameters()) p.add_(torch::randn_like(p) * scale);
}

}  // namespace

TEST(SpectraFrameLrFusion, OddSizesUntrainedIsBicubicAndOptionsChecked) {
  auto m = models::create_spectraframe(kSmallLrFusion, kSmallDiscriminator, false);
  const auto lr = torch::rand({2, 3, 9, 13});
  const auto out = m.generator->forward(lr, torch::rand({2, 2, 3, 9, 13}), torch::rand({2, 2, 2, 9, 13}));
  ASSERT_EQ(out.sizes(), torch::IntArrayRef({2, 3, 36, 52}));
  namespace F = torch::nn::functional;
  const auto bicubic = F::interpolate(
      lr, F::InterpolateFuncOptions().size(std::vector<int64_t>{36, 52}).mode(torch::kBicubic).align_corners(false));
  EXPECT_TRUE(torch::allclose(out, bicubic, 1e-6, 1e-6));
  // Trained weights change the output, and the neighbours reach it.
  perturb(*m.generator);
  const auto nb = torch::rand({2, 2, 3, 9, 13});
  const auto a = m.generator->forward(lr, nb, torch::zeros({2, 2, 2, 9, 13}));
  EXPECT_GT((a - bicubic).abs().max().item<double>(), 1e-3);
  EXPECT_GT((a - m.generator->forward(lr, torch::rand({2, 2, 3, 9, 13}), torch::zeros({2, 2, 2, 9, 13})))
                .abs()
                .max()
                .item<double>(),
            1e-4);
  EXPECT_THROW(models::create_spectraframe({{"architecture", "lr_fusion"}, {"residual_blocks", 0}}), InvalidArgument);
  EXPECT_THROW(models::create_spectraframe({{"architecture", "edsr"}}), InvalidArgument);
  EXPECT_THROW(m.generator->forward(lr, torch::rand({2, 3, 3, 9, 13}), torch::zeros({2, 3, 2, 9, 13})), c10::Error);
  // Options written before the architecture existed still mean the seed's RBPN.
  EXPECT_EQ(models::create_spectraframe(kSmallGenerator).generator->options().architecture, "rbpn");
}

TEST(SpectraFrameLrFusion, WarpsNeighboursByTheFlow) {
  // A neighbour that is the current frame moved 3 px, given the true flow, is warped back onto the
  // current frame: away from the borders the output is that of a static neighbour.  The flow is
  // also an input of the pair branch: zero its weights so only the warping can make them agree.
  auto m = models::create_spectraframe(kSmallLrFusion, kSmallDiscriminator, false);
  perturb(*m.generator);
  {
    torch::NoGradGuard no_grad;
    auto pair_conv = m.generator->named_parameters()["pair_features.0.weight"];
    pair_conv.narrow(1, 6, 2).zero_();
  }
  const auto scene = torch::rand({1, 3, 40, 51});
  const auto frame = scene.narrow(3, 3, 48).contiguous();    // frame(x) = scene(x + 3)
  const auto shifted = scene.narrow(3, 0, 48).contiguous();  // = neighbour(x + 3): flow +3 in x
  torch::NoGradGuard no_grad;
  const auto same = m.generator->forward(frame, torch::stack({frame, frame}, 1), torch::zeros({1, 2, 2, 40, 48}));
  auto flow = torch::zeros({1, 2, 2, 40, 48});
  flow.select(2, 0).fill_(3.0);
  const auto aligned = m.generator->forward(frame, torch::stack({shifted, shifted}, 1), flow);
  const auto unaligned =
      m.generator->forward(frame, torch::stack({shifted, shifted}, 1), torch::zeros({1, 2, 2, 40, 48}));
  auto inner = [](const torch::Tensor& t) { return t.narrow(2, 40, 80).narrow(3, 40, 100); };
  EXPECT_LT((inner(aligned) - inner(same)).abs().max().item<double>(), 1e-4);
  EXPECT_GT((inner(unaligned) - inner(same)).abs().max().item<double>(), 1e-3);
}

TEST(SpectraFrameLrFusion, OverfitsOneBatch) {
  // The net can learn: 60 Adam steps on one batch of a real-looking pattern lower the loss well
  // below bicubic's (the untrained output).
  torch::manual_seed(0);
  auto m = models::create_spectraframe(kSmallLrFusion, kSmallDiscriminator, false);
  const auto hr = io::image_to_tensor(test::moving_square(32, 32, 8, 12)).unsqueeze(0).repeat({2, 1, 1, 1});
  namespace F = torch::nn::functional;
  const auto lr = F::interpolate(hr, F::InterpolateFuncOptions().size(std::vector<int64_t>{8, 8}).mode(torch::kArea));
  const auto nb = torch::stack({lr, lr}, 1);
  const auto flows = torch::zeros({2, 2, 2, 8, 8});
  torch::optim::Adam adam(m.generator->parameters(), torch::optim::AdamOptions(2e-3));
  double first = 0, last = 0;
  for (int i = 0; i < 60; ++i) {
    const auto loss = losses::charbonnier(m.generator->forward(lr, nb, flows), hr);
    if (i == 0) first = loss.item<double>();
    last = loss.item<double>();
    adam.zero_grad();
    loss.backward();
    adam.step();
  }
  EXPECT_LT(last, 0.6 * first) << "first " << first << ", last " << last;
}

TEST(SpectraFrameLosses, CharbonnierMatchesHandComputation) {
  const auto a = torch::tensor({0.0, 0.5, 1.0}), b = torch::tensor({0.0, 0.25, 0.0});
  // sqrt(0 + 1e-6), sqrt(0.0625 + 1e-6), sqrt(1 + 1e-6)
  const double expected = (std::sqrt(1e-6) + std::sqrt(0.0625 + 1e-6) + std::sqrt(1.0 + 1e-6)) / 3.0;
  EXPECT_NEAR(losses::charbonnier(a, b, 1e-3).item<double>(), expected, 1e-6);  // float32
  EXPECT_THROW(losses::charbonnier(a, b, 0.0), InvalidArgument);
  EXPECT_THROW(losses::charbonnier(a, torch::zeros({2})), c10::Error);
  const auto w = nlohmann::json::object().get<losses::SrLossWeights>();
  EXPECT_EQ(w.charbonnier, 0.0) << "MSE stays the default reconstruction term";
}

TEST(SpectraFrameUpscaler, TilesGiveTheWholeFrameResult) {
  torch::manual_seed(3);
  for (const auto& options : {kSmallLrFusion, kSmallGenerator}) {
    auto m = models::create_spectraframe(options, kSmallDiscriminator, false);
    perturb(*m.generator, 0.02);
    infer::Upscaler upscaler(m.generator, torch::kCPU);
    const auto frame = torch::rand({1, 3, 70, 90});
    const auto lr = frame.narrow(3, 1, 88).contiguous();
    const auto nb = torch::stack({frame.narrow(3, 0, 88), frame.narrow(3, 2, 88)}, 1).contiguous();
    upscaler.set_tiling({0, 0});
    const auto whole = upscaler.upscale(lr, nb);
    upscaler.set_tiling({24, 16});  // 3 x 4 tiles
    const auto tiled = upscaler.upscale(lr, nb);
    ASSERT_EQ(tiled.sizes(), whole.sizes());
    EXPECT_LT((tiled - whole).abs().max().item<double>(), 1.0 / 255) << options.dump();
    // Without overlap the seams show (the test can fail).
    upscaler.set_tiling({24, 0});
    EXPECT_GT((upscaler.upscale(lr, nb) - whole).abs().max().item<double>(), 1e-3) << options.dump();
  }
  infer::Upscaler u(models::create_spectraframe(kSmallLrFusion, {}, false).generator, torch::kCPU);
  EXPECT_THROW(u.set_tiling({8, 4}), InvalidArgument);
  EXPECT_THROW(u.set_tiling({32, -1}), InvalidArgument);
}

TEST(SpectraFrameTrainer, ResumedSittingUsesItsOwnLearningRate) {
  test::TempDir dir;
  write_clip(dir / "data/a", 6, 64, 64, 1);
  train::SrTrainerOptions o;
  o.run.generator_options = kSmallLrFusion;
  o.run.discriminator_options = kSmallDiscriminator;
  o.run.data = {dir / "data/a"};
  o.val_data = {dir / "data/a"};
  o.run.steps = 2;
  o.run.batch_size = 2;
  o.hr_crop = 32;
  o.val_frames = 1;
  o.val_crop = 32;
  o.run.lr_g = 1e-2;
  o.loss = {{"mse", 0}, {"charbonnier", 1}, {"perceptual", 0}, {"adversarial", 0}, {"tv", 0}};
  o.run.out_dir = dir / "run";
  o.run.threads = 1;
  train::SrTrainer(o).fit();
  const auto before = models::load_spectraframe(dir / "run/last.pt", torch::kCPU).generator;
  auto moved = [&](const models::SpectraFrameGenerator& g) {
    double most = 0;
    auto now = g->named_parameters();
    for (const auto& p : before->named_parameters()) {
      most = std::max(most, (now[p.key()] - p.value()).abs().max().item<double>());
    }
    return most;
  };
  // A sitting at a learning rate of 1e-9: Adam's steps are ~1e-9 per weight.  Had the saved rate
  // (1e-2) been restored with the optimizer state, they would be ~1e-2.
  o.run.resume = true;
  o.run.steps = 3;
  o.run.lr_g = 1e-9;
  train::SrTrainer slow(o);
  slow.fit();
  EXPECT_EQ(slow.current_step(), 3);
  EXPECT_LT(moved(slow.model().generator), 1e-6);
}

TEST(SpectraFrameUpscaler, ScoresOnImagesMatchTheTensorDefinitions) {
  // The 8-bit image scores the upscaler reports run on OpenCV (seconds faster per frame): the same
  // SSIM as the tensor definitions, RGB and Y.
  cv::Mat a = test::moving_square(97, 61, 20), b;
  cv::GaussianBlur(a, b, cv::Size(5, 5), 1.2);
  const auto ta = io::image_to_tensor(a), tb = io::image_to_tensor(b);
  EXPECT_NEAR(metrics::ssim(a, b), metrics::ssim(ta, tb).item<double>(), 1e-6);
  const auto ya = metrics::rgb_to_y601(ta.unsqueeze(0).to(torch::kFloat64)).narrow(2, 4, 53).narrow(3, 4, 89);
  const auto yb = metrics::rgb_to_y601(tb.unsqueeze(0).to(torch::kFloat64)).narrow(2, 4, 53).narrow(3, 4, 89);
  EXPECT_NEAR(metrics::ssim_y(a, b), metrics::ssim(ya, yb, 255.0).item<double>(), 1e-6);
  EXPECT_LT(metrics::ssim(a, b), 0.99);  // not trivially 1
  EXPECT_NEAR(metrics::ssim(a, a), 1.0, 1e-12);
}
