// DCGAN: model shapes and ranges, size validation, deterministic generation, the divergence
// detector and rollback, exact resume, and the image grid writer.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <torch/torch.h>

#include "fregan/data/frame_dataset.h"
#include "fregan/error.h"
#include "fregan/infer/frame_generator.h"
#include "fregan/io/image.h"
#include "fregan/io/image_grid.h"
#include "fregan/models/dcgan.h"
#include "fregan/models/registry.h"
#include "fregan/models/checkpoint.h"
#include "fregan/train/dcgan_trainer.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace fregan;
using test::invalid_argument_message;

namespace {

// A DCGAN small enough for tests: 32x64 frames from a 4x8 start map.
nlohmann::json tiny_generator() {
  return {{"latent_dim", 8}, {"height", 32}, {"width", 64}, {"levels", 3}, {"base_channels", 4}, {"max_channels", 16}};
}
nlohmann::json tiny_discriminator() { return {{"levels", 3}, {"base_channels", 4}, {"max_channels", 16}}; }

std::vector<torch::Tensor> parameters_copy(torch::nn::Module& m) {
  std::vector<torch::Tensor> out;
  for (const auto& p : m.parameters()) out.push_back(p.detach().clone());
  for (const auto& b : m.buffers()) out.push_back(b.detach().clone());
  return out;
}

bool same_tensors(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!torch::equal(a[i], b[i])) return false;
  }
  return true;
}

// A tiny DCGAN checkpoint at `path` whose frames differ from each other: DCGAN's N(0, 0.02)
// initialisation gives nearly constant frames in eval mode (running statistics start at mean 0,
// variance 1); larger weights stand in for trained ones.
models::Dcgan save_varied_tiny_dcgan(const std::string& path, int64_t step = 0) {
  auto model = models::create_dcgan(tiny_generator(), tiny_discriminator());
  {
    torch::NoGradGuard no_grad;
    torch::manual_seed(3);
    for (auto& p : model.generator->parameters()) p.normal_(0.0, 0.3);
  }
  models::CheckpointMeta meta;
  meta.step = step;
  models::save_dcgan_checkpoint(path, meta, model);
  return model;
}

train::DcganTrainerOptions tiny_trainer_options() {
  train::DcganTrainerOptions o;
  o.run.generator_options = tiny_generator();
  o.run.discriminator_options = tiny_discriminator();
  o.run.batch_size = 4;
  o.run.device = "cpu";
  o.run.threads = 1;
  o.run.seed = 5;
  o.run.log_every = 1;
  o.sample_count = 6;
  return o;
}

}  // namespace

// --- model -----------------------------------------------------------------------------------

TEST(DcganModel, GeneratorAndDiscriminatorShapesAndRange) {
  for (const std::string upsampling : {"subpixel", "transposed"}) {
    auto gj = tiny_generator();
    gj["upsampling"] = upsampling;
    auto model = models::create_dcgan(gj, tiny_discriminator());
    model.generator->train();
    const auto z = torch::randn({3, 8});
    const auto frames = model.generator->forward(z);
    EXPECT_EQ(frames.sizes(), torch::IntArrayRef({3, 3, 32, 64})) << upsampling;
    EXPECT_GE(frames.min().item<double>(), -1.0);
    EXPECT_LE(frames.max().item<double>(), 1.0);
    EXPECT_GT((frames.max() - frames.min()).item<double>(), 1e-3) << "output should not be constant";
    const auto logits = model.discriminator->forward(frames);
    EXPECT_EQ(logits.sizes(), torch::IntArrayRef({3}));
    EXPECT_TRUE(torch::isfinite(logits).all().item<bool>());
  }
}

TEST(DcganModel, DefaultSizeIsNonSquareFromA5x10Map) {
  models::DcganGeneratorOptions o;  // 160x320, levels 5: start map 5x10
  o.base_channels = 2;
  o.max_channels = 8;
  models::DcganGenerator g(o);
  g->eval();
  torch::NoGradGuard no_grad;
  const auto frames = g->forward(torch::randn({2, 100}));
  EXPECT_EQ(frames.sizes(), torch::IntArrayRef({2, 3, 160, 320}));
  // The projection produces the 5x10 start map: 8 channels * 5 * 10 outputs.
  auto params = g->named_parameters();
  EXPECT_EQ(params["project.weight"].sizes(), torch::IntArrayRef({8 * 5 * 10, 100}));
}

TEST(DcganModel, BadSizesGiveClearErrors) {
  auto msg = invalid_argument_message([] { models::create_dcgan({{"height", 100}}); });
  EXPECT_NE(msg.find("height 100 is not a multiple of 32"), std::string::npos) << msg;
  msg = invalid_argument_message([] { models::create_dcgan({{"width", 300}, {"levels", 4}}); });
  EXPECT_NE(msg.find("width 300 is not a multiple of 16"), std::string::npos) << msg;
  msg = invalid_argument_message([] { models::create_dcgan(tiny_generator(), {{"height", 64}}); });
  EXPECT_NE(msg.find("differs from the generator's"), std::string::npos) << msg;
  msg = invalid_argument_message([] { models::create_dcgan({{"latent_size", 64}}); });
  EXPECT_NE(msg.find("unknown dcgan generator option 'latent_size'"), std::string::npos) << msg;
  msg = invalid_argument_message([] { models::create_dcgan({{"upsampling", "nearest"}}); });
  EXPECT_NE(msg.find("upsampling must be"), std::string::npos) << msg;
  auto model = models::create_dcgan(tiny_generator(), tiny_discriminator());
  msg = invalid_argument_message([&] { model.generator->forward(torch::randn({2, 7})); });
  EXPECT_NE(msg.find("latents [B, 8]"), std::string::npos) << msg;
  msg = invalid_argument_message([&] { model.discriminator->forward(torch::rand({2, 3, 32, 32})); });
  EXPECT_NE(msg.find("[B, 3, 32, 64]"), std::string::npos) << msg;
}

TEST(DcganModel, LatentsAreDeterministicPerSample) {
  const auto a = models::dcgan_latents(5, 16, 7);
  EXPECT_TRUE(torch::equal(a, models::dcgan_latents(5, 16, 7)));
  // Sample i does not depend on n or on where the batch starts.
  EXPECT_TRUE(torch::equal(models::dcgan_latents(3, 16, 7, 2), a.slice(0, 2, 5)));
  EXPECT_TRUE(torch::equal(models::dcgan_latents(2, 16, 7), a.slice(0, 0, 2)));
  EXPECT_FALSE(torch::equal(models::dcgan_latents(5, 16, 8), a));
  EXPECT_FALSE(torch::equal(a[0], a[1]));
  // Roughly standard normal.
  const auto many = models::dcgan_latents(200, 50, 1);
  EXPECT_NEAR(many.mean().item<double>(), 0.0, 0.05);
  EXPECT_NEAR(many.std().item<double>(), 1.0, 0.05);
}

// --- checkpoints and generation --------------------------------------------------------------

TEST(DcganGenerate, SameSeedSameFramesDifferentSeedDifferent) {
  test::TempDir dir;
  const std::string path = dir / "dcgan.pt";
  auto model = save_varied_tiny_dcgan(path, /*step=*/42);

  infer::FrameGenerator generator(path, "cpu");
  EXPECT_EQ(generator.height(), 32);
  EXPECT_EQ(generator.width(), 64);
  EXPECT_EQ(generator.step(), 42);
  const auto a = generator.generate(6, 3);
  EXPECT_EQ(a.sizes(), torch::IntArrayRef({6, 3, 32, 64}));
  EXPECT_GE(a.min().item<double>(), 0.0);
  EXPECT_LE(a.max().item<double>(), 1.0);
  EXPECT_TRUE(torch::equal(a, generator.generate(6, 3)));
  // Another loader of the same file, other batching: the same frames.
  infer::FrameGenerator again(path, "cpu");
  EXPECT_TRUE(torch::allclose(again.generate(6, 3, 0, /*batch_size=*/4), a, 0, 1e-6));
  EXPECT_TRUE(torch::allclose(again.generate(2, 3, /*first=*/4), a.slice(0, 4, 6), 0, 1e-6));
  const auto b = generator.generate(6, 4);
  EXPECT_GT((a - b).abs().mean().item<double>(), 0.01);
  EXPECT_GT((a[0] - a[1]).abs().mean().item<double>(), 0.01);
  // The same weights evaluated directly: the generator in eval mode on the seed's latents.
  model.generator->eval();
  torch::NoGradGuard no_grad;
  const auto direct = model.generator->forward(models::dcgan_latents(6, 8, 3)).add(1).mul(0.5).clamp(0, 1);
  EXPECT_TRUE(torch::allclose(direct, a, 0, 1e-6));

  const auto images = generator.generate_images(6, 3);
  ASSERT_EQ(images.size(), 6u);
  EXPECT_EQ(images[0].type(), CV_8UC3);
  EXPECT_EQ(images[0].rows, 32);
  EXPECT_EQ(images[0].cols, 64);
  // tensor_to_image rounds: pixel (0, 0) of frame 1, red channel.
  EXPECT_EQ(images[1].at<cv::Vec3b>(0, 0)[2], static_cast<uint8_t>(std::lround(a[1][0][0][0].item<double>() * 255.0)));
}

// --- latent walk -----------------------------------------------------------------------------

TEST(DcganWalk, SlerpKeepsTheNormWhereLerpShrinksIt) {
  // Two latents of norm 3 at 90 degrees: the great circle's midpoint is (3, 3, 0) / sqrt(2), of
  // norm 3; the straight line's is (1.5, 1.5, 0), of norm 3 / sqrt(2) = 2.1213.
  const auto a = torch::tensor({3.0f, 0.0f, 0.0f}), b = torch::tensor({0.0f, 3.0f, 0.0f});
  const auto mid = infer::slerp(a, b, 0.5);
  EXPECT_NEAR(mid[0].item<double>(), 2.1213203, 1e-6);
  EXPECT_NEAR(mid[1].item<double>(), 2.1213203, 1e-6);
  EXPECT_NEAR(mid[2].item<double>(), 0.0, 1e-12);
  EXPECT_NEAR(mid.norm().item<double>(), 3.0, 1e-6);
  EXPECT_NEAR(((a + b) * 0.5).norm().item<double>(), 2.1213203, 1e-6);
  // A third of the way: 30 degrees round, (3 cos 30, 3 sin 30) = (2.5981, 1.5).
  const auto third = infer::slerp(a, b, 1.0 / 3.0);
  EXPECT_NEAR(third[0].item<double>(), 2.5980762, 1e-6);
  EXPECT_NEAR(third[1].item<double>(), 1.5, 1e-6);
  EXPECT_TRUE(torch::equal(infer::slerp(a, b, 0.0), a));
  EXPECT_TRUE(torch::allclose(infer::slerp(a, b, 1.0), b, 0, 1e-6));
  // Unequal norms: along the arc the norm goes from |a| to |b| (midpoint of 2 and 4 at 90
  // degrees: (2, 4) / sqrt(2), norm sqrt(10) = 3.1623).
  EXPECT_NEAR(infer::slerp(torch::tensor({2.0f, 0.0f}), torch::tensor({0.0f, 4.0f}), 0.5).norm().item<double>(),
              3.1622777, 1e-6);
  // Parallel latents have no circle between them: a linear blend.
  EXPECT_TRUE(torch::allclose(infer::slerp(a, a * 2, 0.5), a * 1.5, 0, 1e-6));
  // Row by row, and on DCGAN's Gaussian latents: the slerp midpoint keeps their norm (about
  // sqrt(100) = 10), the lerp midpoint has about 1/sqrt(2) of it.
  const auto z = models::dcgan_latents(8, 100, 4);
  const auto from = z.slice(0, 0, 4), to = z.slice(0, 4, 8);
  const auto norms = (from.norm(2, 1) + to.norm(2, 1)) / 2;
  const auto slerp_ratio = infer::slerp(from, to, 0.5).norm(2, 1) / norms;
  const auto lerp_ratio = ((from + to) / 2).norm(2, 1) / norms;
  EXPECT_GT(slerp_ratio.min().item<double>(), 0.97);
  EXPECT_LT(slerp_ratio.max().item<double>(), 1.03);
  EXPECT_LT(lerp_ratio.max().item<double>(), 0.8);
  EXPECT_GT(lerp_ratio.min().item<double>(), 0.6);
  EXPECT_THROW(infer::slerp(a, torch::zeros({2}), 0.5), InvalidArgument);
}

TEST(DcganWalk, FrameCountAndTheKeysAreTheSeedsLatents) {
  infer::LatentWalkOptions o;
  o.keys = 4;
  o.frames_between = 3;
  EXPECT_EQ(infer::walk_frame_count(o), 4 + 3 * 3);
  const auto z = infer::walk_latents(8, o, /*seed=*/5, /*first=*/2);
  ASSERT_EQ(z.sizes(), torch::IntArrayRef({13, 8}));
  const auto keys = models::dcgan_latents(4, 8, 5, 2);
  for (int64_t k = 0; k < 4; ++k) EXPECT_TRUE(torch::equal(z[k * 4], keys[k])) << k;
  EXPECT_TRUE(torch::allclose(z[6], infer::slerp(keys[1], keys[2], 0.5), 0, 1e-6));
  EXPECT_TRUE(torch::allclose(z[9], infer::slerp(keys[2], keys[3], 0.25), 0, 1e-6));

  o.loop = true;  // one more leg, from the last key back towards the first (not repeated)
  EXPECT_EQ(infer::walk_frame_count(o), 4 + 4 * 3);
  const auto looped = infer::walk_latents(8, o, 5, 2);
  ASSERT_EQ(looped.size(0), 16);
  EXPECT_TRUE(torch::equal(looped.slice(0, 0, 13), z));
  EXPECT_TRUE(torch::allclose(looped[14], infer::slerp(keys[3], keys[0], 0.5), 0, 1e-6));

  o.frames_between = 0;
  EXPECT_TRUE(torch::equal(infer::walk_latents(8, o, 5, 2), keys));
  o.keys = 1;
  EXPECT_NE(invalid_argument_message([&] { infer::walk_frame_count(o); }).find("keys must be >= 2"), std::string::npos);
  o.keys = 2;
  o.frames_between = -1;
  EXPECT_NE(invalid_argument_message([&] { infer::walk_frame_count(o); }).find("frames_between must be >= 0"),
            std::string::npos);
}

TEST(DcganWalk, OptionsAreReadStrictly) {
  const auto o = nlohmann::json{{"keys", 5}, {"frames_between", 2}, {"loop", true}}.get<infer::LatentWalkOptions>();
  EXPECT_EQ(o.keys, 5);
  EXPECT_EQ(o.frames_between, 2);
  EXPECT_TRUE(o.loop);
  EXPECT_EQ(nlohmann::json(o), (nlohmann::json{{"keys", 5}, {"frames_between", 2}, {"loop", true}}));
  EXPECT_EQ(nlohmann::json::object().get<infer::LatentWalkOptions>().keys, infer::LatentWalkOptions{}.keys);
  EXPECT_NE(invalid_argument_message([] {
              nlohmann::json{{"steps", 3}}.get<infer::LatentWalkOptions>();
            }).find("unknown latent walk option 'steps'"),
            std::string::npos);
  EXPECT_NE(invalid_argument_message([] {
              nlohmann::json{{"loop", "yes"}}.get<infer::LatentWalkOptions>();
            }).find("option 'loop' has the wrong type"),
            std::string::npos);
}

TEST(DcganWalk, PassesExactlyThroughGeneratesFrames) {
  test::TempDir dir;
  const std::string path = dir / "dcgan.pt";
  auto model = save_varied_tiny_dcgan(path);
  infer::FrameGenerator generator(path, "cpu");
  infer::LatentWalkOptions o;
  o.keys = 3;
  o.frames_between = 2;
  o.loop = true;
  const auto walk = generator.walk(o, /*seed=*/5, /*first=*/1);
  ASSERT_EQ(walk.sizes(), torch::IntArrayRef({9, 3, 32, 64}));
  const auto keys = generator.generate(3, 5, 1);
  for (int64_t k = 0; k < 3; ++k) EXPECT_TRUE(torch::equal(walk[k * 3], keys[k])) << k;
  // The frames between are the generator on the slerp latents: frame 4 is a third of the way
  // from key 1 to key 2, frame 8 two thirds of the way from key 2 back to key 0.
  model.generator->eval();
  torch::NoGradGuard no_grad;
  const auto z = models::dcgan_latents(3, 8, 5, 1);
  const auto between =
      model.generator->forward(torch::stack({infer::slerp(z[1], z[2], 1.0 / 3), infer::slerp(z[2], z[0], 2.0 / 3)}))
          .add(1)
          .mul(0.5)
          .clamp(0, 1);
  EXPECT_TRUE(torch::allclose(walk[4], between[0], 0, 1e-5));
  EXPECT_TRUE(torch::allclose(walk[8], between[1], 0, 1e-5));
  // ... and neither key: the walk moves.
  EXPECT_GT((walk[4] - walk[3]).abs().mean().item<double>(), 0.005);
  EXPECT_GT((walk[4] - walk[6]).abs().mean().item<double>(), 0.005);
  // The images are the tensors rounded to 8 bits, key frames as generate_images gives them.
  const auto images = generator.walk_images(o, 5, 1);
  ASSERT_EQ(images.size(), 9u);
  const auto key_images = generator.generate_images(3, 5, 1);
  EXPECT_EQ(cv::norm(images[6], key_images[2], cv::NORM_INF), 0.0);
}

TEST(DcganGenerate, CheckpointKindsAreNotConfused) {
  test::TempDir dir;
  auto dcgan = models::create_dcgan(tiny_generator(), tiny_discriminator());
  const std::string dcgan_path = dir / "dcgan.pt";
  models::save_dcgan_checkpoint(dcgan_path, {}, dcgan);
  EXPECT_EQ(models::read_checkpoint_meta(dcgan_path).model, "dcgan");
  try {
    models::load_model(dcgan_path, torch::kCPU);
    FAIL() << "load_model accepted a DCGAN";
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("DCGAN"), std::string::npos) << e.what();
  }
  auto fregan_model = models::create_model("fregan", {{"base_channels", 4}, {"max_channels", 4}, {"levels", 1}},
                                           {{"base_channels", 4}, {"max_channels", 4}, {"levels", 1}});
  const std::string fregan_path = dir / "fregan.pt";
  models::save_checkpoint(fregan_path, {}, fregan_model);
  EXPECT_THROW(infer::FrameGenerator(fregan_path, "cpu"), CheckpointError);
  EXPECT_THROW(infer::FrameGenerator(dir / "missing.pt", "cpu"), FileError);

  // Stripping keeps the generator (same frames) and drops the discriminator.
  const std::string stripped = dir / "stripped.pt";
  models::strip_checkpoint(dcgan_path, stripped, false);
  const auto meta = models::read_checkpoint_meta(stripped);
  EXPECT_EQ(meta.model, "dcgan");
  EXPECT_FALSE(meta.has_discriminator);
  EXPECT_LT(fs::file_size(stripped), fs::file_size(dcgan_path));
  EXPECT_TRUE(torch::equal(infer::FrameGenerator(stripped, "cpu").generate(3, 1),
                           infer::FrameGenerator(dcgan_path, "cpu").generate(3, 1)));
}

// --- divergence ------------------------------------------------------------------------------

TEST(DcganDivergence, ExplodingGeneratorLossTriggersAfterThePatience) {
  train::DivergenceOptions o;
  o.g_loss_ceiling = 15;
  o.g_ceiling_steps = 3;
  train::DivergenceDetector detector(o);
  // G loss doubles each step: 1, 2, 4, 8, 16, 32, 64.  Above 15 from the 5th value on, so the
  // third consecutive value above the ceiling is the 7th.
  double g = 1;
  for (int k = 1; k <= 6; ++k, g *= 2) {
    EXPECT_FALSE(detector.update(0.7, g).has_value()) << "step " << k;
  }
  EXPECT_EQ(detector.g_streak(), 2);
  EXPECT_FALSE(detector.healthy());
  const auto verdict = detector.update(0.7, 64);
  ASSERT_TRUE(verdict.has_value());
  EXPECT_NE(verdict->find("G loss above 15 for 3 consecutive steps"), std::string::npos) << *verdict;
  detector.reset();
  EXPECT_TRUE(detector.healthy());
}

TEST(DcganDivergence, CollapseNeedsConsecutiveStepsAndNanIsImmediate) {
  train::DivergenceOptions o;
  o.d_loss_floor = 0.01;
  o.d_floor_steps = 4;
  train::DivergenceDetector detector(o);
  for (int k = 0; k < 3; ++k) EXPECT_FALSE(detector.update(0.001, 5).has_value());
  EXPECT_FALSE(detector.update(0.2, 5).has_value());  // one normal step resets the streak
  EXPECT_TRUE(detector.healthy());
  for (int k = 0; k < 3; ++k) EXPECT_FALSE(detector.update(0.001, 5).has_value());
  const auto verdict = detector.update(0.001, 5);
  ASSERT_TRUE(verdict.has_value());
  EXPECT_NE(verdict->find("D loss below 0.01 for 4 consecutive steps"), std::string::npos) << *verdict;

  train::DivergenceDetector fresh(o);
  EXPECT_TRUE(fresh.update(0.5, std::numeric_limits<double>::quiet_NaN()).has_value());
  EXPECT_TRUE(fresh.update(std::numeric_limits<double>::infinity(), 1).has_value());
  o.enabled = false;
  train::DivergenceDetector off(o);
  for (int k = 0; k < 10; ++k) EXPECT_FALSE(off.update(0.0, 100).has_value());
  o.lr_factor = 0;
  EXPECT_THROW(train::DivergenceDetector{o}, InvalidArgument);
}

TEST(DcganDivergence, RollbackRestoresTheLastGoodWeightsWithLowerRates) {
  test::TempDir dir;
  auto o = tiny_trainer_options();
  o.divergence.g_loss_ceiling = 15;
  o.divergence.g_ceiling_steps = 3;
  o.divergence.lr_factor = 0.5;
  o.divergence.max_rollbacks = 1;
  train::DcganTrainer trainer(o);
  const std::string good = dir / "last.pt";
  torch::manual_seed(1);
  const auto real = torch::rand({4, 3, 32, 64});
  trainer.step(real);
  trainer.save(good);
  const auto good_g = parameters_copy(*trainer.model().generator);
  const auto good_d = parameters_copy(*trainer.model().discriminator);
  for (int k = 0; k < 3; ++k) trainer.step(real);
  ASSERT_EQ(trainer.current_step(), 4);
  EXPECT_FALSE(same_tensors(parameters_copy(*trainer.model().generator), good_g));

  // A synthetic exploding G loss: 2, 8, 32, 128, 512 -> the third value above 15 (the fifth fed)
  // triggers.
  train::DcganStepStats stats;
  stats.d_loss = 0.5;
  std::optional<std::string> event;
  int fed = 0;
  for (double g = 2; !event && fed < 10; g *= 4) {
    stats.g_loss = g;
    stats.step = trainer.current_step();
    event = trainer.check_divergence(stats, good);
    ++fed;
  }
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(fed, 5);
  EXPECT_NE(event->find("rolled back to step 1"), std::string::npos) << *event;
  EXPECT_EQ(trainer.current_step(), 1);
  EXPECT_TRUE(same_tensors(parameters_copy(*trainer.model().generator), good_g));
  EXPECT_TRUE(same_tensors(parameters_copy(*trainer.model().discriminator), good_d));
  EXPECT_DOUBLE_EQ(trainer.lr_scale(), 0.5);
  EXPECT_EQ(trainer.rollbacks(), 1);
  // The checkpoint now records the lowered rates, so a resume keeps them.
  const auto meta = models::read_checkpoint_meta(good);
  EXPECT_DOUBLE_EQ(meta.trainer_state.at("lr_scale").get<double>(), 0.5);
  EXPECT_EQ(meta.trainer_state.at("rollbacks").get<int>(), 1);
  train::DcganTrainer resumed(o);
  resumed.load(good);
  EXPECT_DOUBLE_EQ(resumed.lr_scale(), 0.5);
  EXPECT_EQ(resumed.current_step(), 1);

  // Divergence again with max_rollbacks = 1 used up: a clear error.
  stats.g_loss = std::numeric_limits<double>::quiet_NaN();
  try {
    trainer.check_divergence(stats, good);
    FAIL() << "expected an error after max_rollbacks";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("giving up"), std::string::npos) << e.what();
  }
}

// --- collapse detector -----------------------------------------------------------------------

namespace {

// n frames, each one grey level (values[i] on [0, 1]).
torch::Tensor grey_frames(const std::vector<double>& values, int h = 8, int w = 16) {
  auto out = torch::empty({static_cast<int64_t>(values.size()), 3, h, w});
  for (size_t i = 0; i < values.size(); ++i) out[static_cast<int64_t>(i)].fill_(values[i]);
  return out;
}

}  // namespace

TEST(DcganCollapse, IdenticalSamplesAreCollapsedKnownRatiosAreExact) {
  train::CollapseOptions o;
  o.feature_height = 4;
  o.feature_width = 8;
  // Real: black and white -> std 127.5, pairwise 255 on the 0..255 scale.
  const train::CollapseDetector detector(o, grey_frames({0.0, 1.0}));
  EXPECT_DOUBLE_EQ(detector.real().pixel_std, 127.5);
  EXPECT_DOUBLE_EQ(detector.real().mean_pairwise_distance, 255.0);
  const auto same = detector.measure(grey_frames({0.3, 0.3, 0.3, 0.3}));
  EXPECT_DOUBLE_EQ(same.std_ratio, 0.0);
  EXPECT_DOUBLE_EQ(same.distance_ratio, 0.0);
  EXPECT_TRUE(same.collapsed);
  // 0.25 and 0.75: std 63.75, pairwise 127.5, half the real frames' -> at min_ratio 0.5, not below.
  const auto half = detector.measure(grey_frames({0.25, 0.75}));
  EXPECT_DOUBLE_EQ(half.std_ratio, 0.5);
  EXPECT_DOUBLE_EQ(half.distance_ratio, 0.5);
  EXPECT_FALSE(half.collapsed);
  o.min_ratio = 0.6;
  EXPECT_TRUE(train::CollapseDetector(o, grey_frames({0.0, 1.0})).measure(grey_frames({0.25, 0.75})).collapsed);
  // Frames of another size are measured at the same feature size.
  EXPECT_DOUBLE_EQ(detector.measure(grey_frames({0.0, 1.0}, 32, 64)).std_ratio, 1.0);
  EXPECT_THROW(train::CollapseDetector(o, grey_frames({0.5, 0.5})), InvalidArgument);
}

namespace {

// 64 frames evenly spaced over vtest.avi (every 2nd frame, as the DCGANs of MODELS.md were
// trained) at h x w, and the 63 in between them; nullopt when the video is absent.
std::optional<std::pair<torch::Tensor, torch::Tensor>> vtest_frames(int h, int w) {
  const fs::path video = fs::path(FREGAN_SHARED_DATA) / "videos" / "vtest.avi";
  if (!fs::exists(video)) return std::nullopt;
  data::FrameDatasetOptions dopt;
  dopt.sources = {video.string()};
  dopt.frame_skip = 2;
  const data::FrameDataset dataset(dopt);
  return std::pair{data::evenly_spaced_frames(dataset, 64, h, w),
                   data::evenly_spaced_frames(dataset, 127, h, w).slice(0, 1, 127, 2)};
}

}  // namespace

TEST(DcganCollapse, TheCollapsedStep3000ModelIsFlaggedRealFramesAreNot) {
  // The DCGAN shipped before issue 19 (all samples nearly one frame), kept as test data.
  infer::FrameGenerator generator(std::string(FREGAN_TEST_DATA) + "/dcgan-collapsed-step3000.pt", "cpu");
  const auto frames = vtest_frames(generator.height(), generator.width());
  if (!frames) GTEST_SKIP() << "real video vtest.avi is absent from " << FREGAN_SHARED_DATA;
  // 64 evenly spaced frames as the reference (what DcganTrainer::fit uses with sample_count 64).
  const train::CollapseDetector detector({}, frames->first);
  const auto collapsed = detector.measure(generator.generate(64, 0));
  EXPECT_TRUE(collapsed.collapsed) << "std x" << collapsed.std_ratio << ", pairwise x" << collapsed.distance_ratio;
  EXPECT_LT(collapsed.std_ratio, 0.35);
  // Another 64 real frames (those in between the reference ones) are not collapsed.
  ASSERT_EQ(frames->second.size(0), 63);
  const auto real = detector.measure(frames->second);
  EXPECT_FALSE(real.collapsed) << "std x" << real.std_ratio << ", pairwise x" << real.distance_ratio;
  EXPECT_GT(real.std_ratio, 0.95);
  EXPECT_GT(real.distance_ratio, 0.95);
}

TEST(DcganCollapse, TheShippedModelIsNotCollapsed) {
  infer::FrameGenerator generator("", "cpu");
  const auto frames = vtest_frames(generator.height(), generator.width());
  if (!frames) GTEST_SKIP() << "real video vtest.avi is absent from " << FREGAN_SHARED_DATA;
  const auto shipped = train::CollapseDetector({}, frames->first).measure(generator.generate(64, 0));
  EXPECT_FALSE(shipped.collapsed) << "std x" << shipped.std_ratio << ", pairwise x" << shipped.distance_ratio;
  EXPECT_GT(shipped.std_ratio, 0.8);  // issue 19's bar for the shipped generator
}

TEST(DcganCollapse, TrainerRollsBackToTheHealthyCheckpointWithLowerRates) {
  test::TempDir dir;
  auto o = tiny_trainer_options();
  o.collapse.start_step = 2;
  o.collapse.lr_factor = 0.5;
  o.collapse.d_lr_factor = 0.5;
  o.collapse.max_rollbacks = 1;
  train::DcganTrainer trainer(o);
  const std::string healthy = dir / "healthy.pt", last = dir / "last.pt";
  torch::manual_seed(2);
  const auto real = torch::rand({4, 3, 32, 64});
  trainer.set_real_frames(real);
  trainer.step(real);
  std::string event;
  // Step 1, before start_step: alike samples are not judged, and the weights count as healthy.
  auto v = trainer.check_collapse(grey_frames({0.5, 0.5, 0.5}), healthy, last, &event);
  EXPECT_TRUE(v.collapsed);
  EXPECT_TRUE(event.empty());
  ASSERT_EQ(models::read_checkpoint_meta(healthy).step, 1);
  const auto healthy_g = parameters_copy(*trainer.model().generator);
  trainer.step(real);
  trainer.step(real);
  // Step 3: diverse samples (the real frames) save a new healthy checkpoint.
  v = trainer.check_collapse(real, healthy, last, &event);
  EXPECT_FALSE(v.collapsed);
  EXPECT_DOUBLE_EQ(v.std_ratio, 1.0);
  EXPECT_EQ(models::read_checkpoint_meta(healthy).step, 3);
  const auto healthy3_g = parameters_copy(*trainer.model().generator);
  trainer.step(real);
  // Step 4: identical samples -> back to step 3, rates halved and D's halved again.
  v = trainer.check_collapse(grey_frames({0.5, 0.5, 0.5}), healthy, last, &event);
  EXPECT_TRUE(v.collapsed);
  EXPECT_NE(event.find("rolled back to step 3"), std::string::npos) << event;
  EXPECT_EQ(trainer.current_step(), 3);
  EXPECT_TRUE(same_tensors(parameters_copy(*trainer.model().generator), healthy3_g));
  EXPECT_FALSE(same_tensors(healthy3_g, healthy_g));
  EXPECT_DOUBLE_EQ(trainer.lr_scale(), 0.5);
  EXPECT_DOUBLE_EQ(trainer.d_lr_scale(), 0.5);
  EXPECT_EQ(trainer.collapse_rollbacks(), 1);
  const auto meta = models::read_checkpoint_meta(last);
  EXPECT_EQ(meta.step, 3);
  EXPECT_EQ(meta.trainer_state.at("collapse_rollbacks").get<int>(), 1);
  EXPECT_DOUBLE_EQ(meta.trainer_state.at("d_lr_scale").get<double>(), 0.5);
  // Collapse detection off: measured, not acted on.  On again with max_rollbacks used up: an error.
  auto off = o;
  off.collapse.enabled = false;
  train::DcganTrainer quiet(off);
  quiet.set_real_frames(real);
  quiet.load(last);
  event.clear();
  EXPECT_TRUE(quiet.check_collapse(grey_frames({0.5, 0.5}), healthy, last, &event).collapsed);
  EXPECT_TRUE(event.empty());
  EXPECT_EQ(quiet.current_step(), 3);
  EXPECT_THROW(trainer.check_collapse(grey_frames({0.5, 0.5}), healthy, last, &event), Error);
}

// --- stabilisers ------------------------------------------------------------------------------

TEST(DcganStabilisers, SpectralNormLeavesALargestSingularValueOfOne) {
  torch::manual_seed(3);
  models::SpectralNormConv2d conv(torch::nn::Conv2dOptions(5, 7, 3).padding(1));
  {
    torch::NoGradGuard no_grad;
    conv->weight.mul_(40.0);  // far from 1 before normalising
  }
  conv->power_iterate(100);
  const auto sigma = torch::linalg_svdvals(conv->normalized_weight().flatten(1)).max().item<double>();
  EXPECT_NEAR(sigma, 1.0, 1e-4);
  // Training forwards refine u, v; eval forwards leave them; the output is the conv with W / sigma.
  const auto x = torch::randn({2, 5, 6, 6});
  const auto u = conv->u.clone();
  conv->eval();
  const auto y = conv->forward(x);
  EXPECT_TRUE(torch::equal(conv->u, u));
  const auto expected = torch::conv2d(x, conv->normalized_weight(), conv->bias, 1, 1);
  EXPECT_TRUE(torch::allclose(y, expected, 1e-5, 1e-6));
  // The discriminator option: every conv normalised, no BatchNorm when batch_norm is off.
  auto dj = tiny_discriminator();
  dj["spectral_norm"] = true;
  dj["batch_norm"] = false;
  auto model = models::create_dcgan(tiny_generator(), dj);
  int sn = 0, bn = 0;
  for (const auto& m : model.discriminator->modules(false)) {
    sn += m->as<models::SpectralNormConv2d>() != nullptr;
    bn += m->as<torch::nn::BatchNorm2d>() != nullptr;
  }
  EXPECT_EQ(sn, 4);  // 3 strided + the final one
  EXPECT_EQ(bn, 0);
  EXPECT_EQ(model.discriminator->forward(torch::rand({2, 3, 32, 64})).sizes(), torch::IntArrayRef({2}));
}

TEST(DcganStabilisers, EmaIsTheRunningAverageAndWhatCheckpointsHold) {
  test::TempDir dir;
  auto o = tiny_trainer_options();
  o.ema_decay = 0.9;
  train::DcganTrainer trainer(o);
  const auto before = parameters_copy(*trainer.model().generator);
  EXPECT_TRUE(same_tensors(parameters_copy(*trainer.ema_generator()), before));
  torch::manual_seed(1);
  const auto real = torch::rand({4, 3, 32, 64});
  trainer.step(real);
  const auto after = parameters_copy(*trainer.model().generator);
  const auto ema = parameters_copy(*trainer.ema_generator());
  const size_t n_params = trainer.model().generator->parameters().size();
  for (size_t i = 0; i < n_params; ++i) {
    EXPECT_TRUE(torch::allclose(ema[i], 0.9 * before[i] + 0.1 * after[i], 1e-5, 1e-7)) << i;
  }
  for (size_t i = n_params; i < ema.size(); ++i) EXPECT_TRUE(torch::equal(ema[i], after[i])) << "buffer " << i;
  // Samples come from the EMA, and the checkpoint's generator is the EMA (what generate loads).
  const std::string path = dir / "last.pt";
  trainer.save(path);
  const auto frames = trainer.sample(3, 7);
  infer::FrameGenerator generator(path, "cpu");
  EXPECT_TRUE(torch::allclose(generator.generate(3, 7), frames, 1e-5, 1e-6));
  // Resuming restores both: G's own weights and the EMA.
  train::DcganTrainer resumed(o);
  resumed.load(path);
  EXPECT_TRUE(same_tensors(parameters_copy(*resumed.model().generator), after));
  EXPECT_TRUE(same_tensors(parameters_copy(*resumed.ema_generator()), ema));
  trainer.step(real);
  resumed.step(real);
  EXPECT_TRUE(same_tensors(parameters_copy(*resumed.ema_generator()), parameters_copy(*trainer.ema_generator())));
}

TEST(DcganStabilisers, AllTogetherTrainAndAreReadFromJson) {
  auto o = tiny_trainer_options();
  o.run.discriminator_options["spectral_norm"] = true;
  o.loss = "hinge";
  o.r1_gamma = 1.0;
  o.r1_every = 2;
  o.diff_augment = "color,translation,cutout";
  o.ema_decay = 0.99;
  const nlohmann::json j = o;
  const auto back = j.get<train::DcganTrainerOptions>();
  EXPECT_EQ(back.loss, "hinge");
  EXPECT_EQ(back.diff_augment, "color,translation,cutout");
  EXPECT_DOUBLE_EQ(back.r1_gamma, 1.0);
  train::DcganTrainer trainer(back);
  torch::manual_seed(1);
  const auto real = torch::rand({4, 3, 32, 64});
  const auto s1 = trainer.step(real);  // step 0: R1 (every 2nd step)
  const auto s2 = trainer.step(real);
  EXPECT_GE(s1.r1, 0.0);
  EXPECT_EQ(s2.r1, -1.0);
  EXPECT_TRUE(std::isfinite(s1.d_loss) && std::isfinite(s2.g_loss));
  auto bad = o;
  bad.loss = "wasserstein";
  EXPECT_NE(invalid_argument_message([&] { train::DcganTrainer t(bad); }).find("'bce' or 'hinge'"), std::string::npos);
  bad = o;
  bad.diff_augment = "rotate";
  EXPECT_NE(invalid_argument_message([&] { train::DcganTrainer t(bad); }).find("unknown transform"), std::string::npos);
}

// --- training loop ---------------------------------------------------------------------------

TEST(DcganTrainer, FitWritesSamplesAndResumesExactly) {
  test::TempDir dir;
  const auto frames = dir / "frames";
  fs::create_directories(frames);
  for (int i = 0; i < 6; ++i) {
    cv::imwrite(frames + "/" + std::to_string(i) + ".png", test::moving_square(96, 48, 4 + 10 * i));
  }
  auto o = tiny_trainer_options();
  o.run.data = {frames};
  o.run.steps = 4;
  o.run.checkpoint_every = 2;
  o.sample_every = 2;
  o.run.out_dir = dir / "straight";
  std::vector<std::string> grids;
  train::DcganTrainer straight(o);
  straight.fit([&](const train::DcganProgress& p) {
    if (!p.sample_grid.empty()) grids.push_back(p.sample_grid);
    return true;
  });
  ASSERT_EQ(grids.size(), 2u);
  EXPECT_TRUE(fs::exists(o.run.out_dir + "/samples/step_000002.png"));
  EXPECT_TRUE(fs::exists(o.run.out_dir + "/samples/step_000004.png"));
  // 6 samples -> a 3x2 grid of 64x32 frames with 2 px padding.
  const auto grid = io::read_image(o.run.out_dir + "/samples/step_000004.png");
  EXPECT_EQ(grid.cols, 3 * 64 + 4 * 2);
  EXPECT_EQ(grid.rows, 2 * 32 + 3 * 2);
  // The grid holds what sample() gives (fixed latents of the run's seed; a batch of 1 may round
  // differently in the last bit, hence 1 grey level).
  const auto first = io::tensor_to_image(straight.sample(1, o.run.seed)[0]);
  EXPECT_LE(cv::norm(grid(cv::Rect(2, 2, 64, 32)), first, cv::NORM_INF), 1.0);
  EXPECT_EQ(straight.current_step(), 4);

  // Stop at step 2, then resume to 4 in a new trainer: identical weights.
  o.run.out_dir = dir / "resumed";
  o.run.steps = 2;
  train::DcganTrainer(o).fit();
  o.run.steps = 4;
  o.run.resume = true;
  train::DcganTrainer resumed(o);
  resumed.fit();
  EXPECT_EQ(resumed.current_step(), 4);
  EXPECT_TRUE(same_tensors(parameters_copy(*resumed.model().generator), parameters_copy(*straight.model().generator)));
  EXPECT_TRUE(
      same_tensors(parameters_copy(*resumed.model().discriminator), parameters_copy(*straight.model().discriminator)));
  // An existing run is not overwritten by accident.
  o.run.resume = false;
  EXPECT_THROW(train::DcganTrainer(o).fit(), InvalidArgument);
}

TEST(DcganTrainer, FitRollsBackLogsAndGivesUp) {
  test::TempDir dir;
  const auto frames = dir / "frames";
  fs::create_directories(frames);
  for (int i = 0; i < 4; ++i)
    cv::imwrite(frames + "/" + std::to_string(i) + ".png", test::moving_square(64, 32, 4 + 8 * i));
  auto o = tiny_trainer_options();
  o.run.data = {frames};
  o.run.steps = 20;
  o.sample_every = 0;
  o.run.out_dir = dir / "run";
  // Every D loss counts as "collapsed": two steps in a row trigger a rollback to the checkpoint
  // written at step 0.
  o.divergence.d_loss_floor = 100;
  o.divergence.d_floor_steps = 2;
  o.divergence.lr_factor = 0.5;
  o.divergence.max_rollbacks = 2;
  std::vector<std::string> events;
  train::DcganTrainer trainer(o);
  try {
    trainer.fit([&](const train::DcganProgress& p) {
      if (!p.event.empty()) events.push_back(p.event);
      return true;
    });
    FAIL() << "expected training to give up";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("after 2 rollbacks"), std::string::npos) << e.what();
  }
  ASSERT_EQ(events.size(), 2u);
  EXPECT_NE(events[0].find("step 2: D loss below 100 for 2 consecutive steps"), std::string::npos) << events[0];
  EXPECT_NE(events[0].find("rolled back to step 0"), std::string::npos) << events[0];
  EXPECT_NE(events[1].find("rollback 2 of at most 2"), std::string::npos) << events[1];
  EXPECT_DOUBLE_EQ(trainer.lr_scale(), 0.25);
  // log.jsonl records both rollbacks; last.pt holds the step-0 weights with the lowered rates.
  std::ifstream log(o.run.out_dir + "/log.jsonl");
  int rollbacks_logged = 0;
  for (std::string line; std::getline(log, line);) {
    if (nlohmann::json::parse(line).value("event", "") == "rollback") ++rollbacks_logged;
  }
  EXPECT_EQ(rollbacks_logged, 2);
  const auto meta = models::read_checkpoint_meta(o.run.out_dir + "/last.pt");
  EXPECT_EQ(meta.step, 0);
  EXPECT_DOUBLE_EQ(meta.trainer_state.at("lr_scale").get<double>(), 0.25);
}

TEST(DcganTrainer, OptionsAreReadStrictly) {
  nlohmann::json j = {{"steps", 10}, {"divergence", {{"lr_factor", 0.25}}}, {"temporal_order", true}};
  const auto o = j.get<train::DcganTrainerOptions>();
  EXPECT_EQ(o.run.steps, 10);
  EXPECT_DOUBLE_EQ(o.divergence.lr_factor, 0.25);
  EXPECT_TRUE(o.temporal_order);
  EXPECT_EQ(o.run.batch_size, 64);
  EXPECT_THROW((nlohmann::json{{"crop", 256}}.get<train::DcganTrainerOptions>()), InvalidArgument);
  EXPECT_THROW((nlohmann::json{{"divergence", {{"patience", 3}}}}.get<train::DcganTrainerOptions>()), InvalidArgument);
  auto bad = tiny_trainer_options();
  bad.run.batch_size = 1;
  EXPECT_THROW(train::DcganTrainer{bad}, InvalidArgument);
}

// --- image grid ------------------------------------------------------------------------------

TEST(ImageGrid, LayoutRowsAndColumns) {
  const std::vector<std::tuple<int, int, int, int>> cases = {// n, cols given, expected rows, expected cols
                                                             {1, 0, 1, 1},  {2, 0, 1, 2},  {3, 0, 2, 2},  {4, 0, 2, 2},
                                                             {5, 0, 2, 3},  {10, 0, 3, 4}, {64, 0, 8, 8}, {65, 0, 8, 9},
                                                             {10, 4, 3, 4}, {3, 8, 1, 8},  {7, 1, 7, 1}};
  for (const auto& [n, cols, rows_expected, cols_expected] : cases) {
    const auto layout = io::grid_layout(n, cols);
    EXPECT_EQ(layout.rows, rows_expected) << "n " << n << " cols " << cols;
    EXPECT_EQ(layout.cols, cols_expected) << "n " << n << " cols " << cols;
  }
  EXPECT_THROW(io::grid_layout(0), InvalidArgument);
  EXPECT_THROW(io::grid_layout(4, -1), InvalidArgument);
}

TEST(ImageGrid, PixelPositions) {
  // Five 3x2 images filled with 10, 20, ..., 50 on a white background, 1 px padding: 2 rows of 3.
  std::vector<cv::Mat> images;
  for (int i = 0; i < 5; ++i) images.emplace_back(2, 3, CV_8UC3, cv::Scalar::all(10 * (i + 1)));
  io::GridOptions o;
  o.padding = 1;
  o.background = cv::Scalar::all(255);
  const auto grid = io::make_grid(images, o);
  EXPECT_EQ(grid.cols, 3 * 3 + 4);
  EXPECT_EQ(grid.rows, 2 * 2 + 3);
  auto at = [&](int x, int y) { return static_cast<int>(grid.at<cv::Vec3b>(y, x)[0]); };
  EXPECT_EQ(at(0, 0), 255);         // padding
  EXPECT_EQ(at(1, 1), 10);          // image 0 top-left
  EXPECT_EQ(at(3, 2), 10);          // image 0 bottom-right
  EXPECT_EQ(at(4, 1), 255);         // padding between columns
  EXPECT_EQ(at(5, 1), 20);          // image 1 at x = 1 + 1 * (3 + 1)
  EXPECT_EQ(at(9, 1), 30);          // image 2 at x = 9
  EXPECT_EQ(at(1, 3), 255);         // padding between rows
  EXPECT_EQ(at(1, 4), 40);          // image 3 at y = 1 + 1 * (2 + 1)
  EXPECT_EQ(at(5 + 2, 4 + 1), 50);  // image 4 bottom-right
  EXPECT_EQ(at(9, 4), 255);         // unused cell
  images.emplace_back(3, 3, CV_8UC3, cv::Scalar::all(0));
  const auto msg = invalid_argument_message([&] { io::make_grid(images); });
  EXPECT_NE(msg.find("image 5 is 3x3"), std::string::npos) << msg;
}
