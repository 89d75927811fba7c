#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <torch/torch.h>

#include "fregan/error.h"
#include "fregan/infer/interpolator.h"
#include "fregan/losses/losses.h"
#include "fregan/models/registry.h"
#include "fregan/models/sin_gan.h"
#include "fregan/models/checkpoint.h"
#include "fregan/train/trainer.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace fregan;

namespace {

using Sizes = std::vector<int64_t>;

// Narrow channels keep the tests fast; the structure (4 levels, kernels 3/4, dropout) is the seed's.
nlohmann::json small_generator(bool refine = false) {
  return {{"encoder_channels", {4, 8, 8, 16}},
          {"decoder_channels", {16, 8, 8, 4}},
          {"refine", refine},
          {"refine_channels", 8}};
}

std::shared_ptr<models::SinGanGeneratorImpl> as_sin_gan(const models::GanModel& m) {
  auto g = std::dynamic_pointer_cast<models::SinGanGeneratorImpl>(m.generator);
  EXPECT_TRUE(g);
  return g;
}

}  // namespace

TEST(SinGanGenerator, SkipsLineUpAtOddSizesAndBatches) {
  torch::manual_seed(0);
  const auto model = models::create_model("sin-gan", small_generator());
  const auto g = as_sin_gan(model);
  EXPECT_EQ(g->size_multiple(), 1);
  const auto a = torch::rand({2, 3, 97, 131}), b = torch::rand({2, 3, 97, 131});
  const auto f = g->forward_features(a, b);
  // Ceil-mode pooling: 97x131 -> 49x66 -> 25x33 -> 13x17 (no row or column dropped).
  ASSERT_EQ(f.skips.size(), 4u);
  EXPECT_EQ(f.skips[0].sizes(), (Sizes{2, 4, 97, 131}));
  EXPECT_EQ(f.skips[1].sizes(), (Sizes{2, 8, 49, 66}));
  EXPECT_EQ(f.skips[2].sizes(), (Sizes{2, 8, 25, 33}));
  EXPECT_EQ(f.skips[3].sizes(), (Sizes{2, 16, 13, 17}));
  // Each D block runs at the size of the skip it is stacked with, mirror order.
  ASSERT_EQ(f.decoded.size(), 4u);
  EXPECT_EQ(f.decoded[0].sizes(), (Sizes{2, 16, 13, 17}));
  EXPECT_EQ(f.decoded[1].sizes(), (Sizes{2, 8, 25, 33}));
  EXPECT_EQ(f.decoded[2].sizes(), (Sizes{2, 8, 49, 66}));
  EXPECT_EQ(f.decoded[3].sizes(), (Sizes{2, 4, 97, 131}));
  EXPECT_EQ(f.output.sizes(), (Sizes{2, 3, 97, 131}));
  EXPECT_EQ(g->forward(a, b).sizes(), (Sizes{2, 3, 97, 131}));
  // Tiny and degenerate sides still line up (eval mode: BatchNorm needs no batch statistics).
  g->eval();
  torch::NoGradGuard no_grad;
  EXPECT_EQ(g->forward(torch::rand({1, 3, 5, 3}), torch::rand({1, 3, 5, 3})).sizes(), (Sizes{1, 3, 5, 3}));
  EXPECT_EQ(g->forward(torch::rand({1, 3, 1, 1}), torch::rand({1, 3, 1, 1})).sizes(), (Sizes{1, 3, 1, 1}));
  EXPECT_THROW(g->forward(torch::rand({1, 3, 8, 8}), torch::rand({1, 3, 8, 9})), c10::Error);
}

TEST(SinGanGenerator, SeedWidthsAndEvenDecoderKernelKeepTheSize) {
  // The default (seed) options: C32-C64-C64-C128 / D128-D64-D64-D32, 4x4 "same" convs in D.
  const auto model = models::create_model("sin-gan");
  const auto g = as_sin_gan(model);
  const auto f = g->forward_features(torch::rand({2, 3, 37, 29}), torch::rand({2, 3, 37, 29}));
  EXPECT_EQ(f.skips[3].sizes(), (Sizes{2, 128, 5, 4}));
  EXPECT_EQ(f.decoded[0].sizes(), (Sizes{2, 128, 5, 4}));
  EXPECT_EQ(f.decoded[3].sizes(), (Sizes{2, 32, 37, 29}));
  EXPECT_EQ(f.output.sizes(), (Sizes{2, 3, 37, 29}));
  // D1 sees the upsampled bottleneck (128) stacked with C4 (128); D4 sees D3 (64) with C1 (32).
  const auto params = g->named_parameters();
  EXPECT_EQ(params["decoder.0.0.weight"].sizes(), (Sizes{128, 256, 4, 4}));
  EXPECT_EQ(params["decoder.3.0.weight"].sizes(), (Sizes{32, 96, 4, 4}));
  EXPECT_EQ(params["encoder.0.0.weight"].sizes(), (Sizes{32, 6, 3, 3}));
}

TEST(SinGanGenerator, UntrainedResidualModelIsTheAverageAndDirectIsNot) {
  auto residual = models::create_model("sin-gan", small_generator(true));
  residual.generator->eval();
  torch::NoGradGuard no_grad;
  const auto a = torch::rand({1, 3, 20, 24}), b = torch::rand({1, 3, 20, 24});
  EXPECT_TRUE(torch::allclose(residual.generator->forward(a, b), (a + b) / 2, 1e-6, 1e-6));
  auto direct_opts = small_generator();
  direct_opts["output"] = "direct";
  auto direct = models::create_model("sin-gan", direct_opts);
  direct.generator->eval();
  EXPECT_FALSE(torch::allclose(direct.generator->forward(a, b), (a + b) / 2, 1e-3, 1e-3));
}

TEST(SinGanGenerator, RefinementIsSwitchableAndExposesTheUNetFrame) {
  torch::manual_seed(1);
  auto plain = models::create_model("sin-gan", small_generator(false));
  const auto a = torch::rand({2, 3, 33, 47}), b = torch::rand({2, 3, 33, 47});
  EXPECT_EQ(plain.generator->forward(a, b).sizes(), (Sizes{2, 3, 33, 47}));
  EXPECT_TRUE(plain.generator->intermediate_outputs().empty());
  for (const auto& p : plain.generator->named_parameters()) EXPECT_EQ(p.key().find("refiner"), std::string::npos);

  auto refined = models::create_model("sin-gan", small_generator(true));
  const auto g = as_sin_gan(refined);
  // Give the zero-initialised refiner a non-zero last layer so it changes the frame.
  {
    torch::NoGradGuard no_grad;
    for (auto& p : g->named_parameters()) {
      if (p.key().rfind("refiner.", 0) == 0) p.value().normal_(0, 0.1);
    }
  }
  g->eval();
  torch::NoGradGuard no_grad;
  const auto out = g->forward(a, b);
  EXPECT_EQ(out.sizes(), (Sizes{2, 3, 33, 47}));
  const auto stages = g->intermediate_outputs();
  ASSERT_EQ(stages.size(), 1u);
  EXPECT_EQ(stages[0].sizes(), out.sizes());
  const auto f = g->forward_features(a, b);
  EXPECT_TRUE(torch::equal(stages[0], f.unet));
  EXPECT_TRUE(torch::equal(out, f.output));
  EXPECT_GT((out - stages[0]).abs().max().item<double>(), 1e-3);
}

TEST(SinGanGenerator, GradientsReachEveryParameter) {
  auto opts = small_generator(true);
  opts["output"] = "direct";
  opts["dropout"] = 0.0;
  auto model = models::create_model("sin-gan", opts);
  {
    torch::NoGradGuard no_grad;  // un-zero the refiner's last layer, or nothing before it learns
    for (auto& p : model.generator->named_parameters()) {
      if (p.key().rfind("refiner.", 0) == 0) p.value().normal_(0, 0.1);
    }
  }
  const auto out = model.generator->forward(torch::rand({2, 3, 40, 36}), torch::rand({2, 3, 40, 36}));
  (out.pow(2).mean() + model.generator->intermediate_outputs()[0].mean()).backward();
  for (const auto& p : model.generator->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0.0) << p.key();
  }
}

TEST(SinGanDiscriminator, ConditionalOnBothNeighbourFrames) {
  torch::manual_seed(2);
  auto model = models::create_model("sin-gan", small_generator());
  auto& d = model.discriminator;
  // The first conv reads 9 channels: F1, middle, F3.
  EXPECT_EQ(d->named_parameters()["body.0.weight"].sizes(), (Sizes{8, 9, 4, 4}));
  // Move BatchNorm statistics off their initial values, then compare in eval mode.
  for (int i = 0; i < 3; ++i)
    d->forward(torch::rand({4, 3, 64, 64}), torch::rand({4, 3, 64, 64}), torch::rand({4, 3, 64, 64}));
  d->eval();
  torch::NoGradGuard no_grad;
  const auto f0 = torch::rand({3, 3, 64, 48}), mid = torch::rand({3, 3, 64, 48}), f2 = torch::rand({3, 3, 64, 48});
  const auto base = d->forward(f0, mid, f2);
  EXPECT_EQ(base.sizes(), (Sizes{3}));
  EXPECT_TRUE(torch::equal(d->forward(f0, mid, f2), base));  // deterministic in eval mode
  const auto other = torch::rand({3, 3, 64, 48});
  // Changing only F1 or only F3 changes every sample's logit.
  EXPECT_GT((d->forward(other, mid, f2) - base).abs().min().item<double>(), 1e-6);
  EXPECT_GT((d->forward(f0, mid, other) - base).abs().min().item<double>(), 1e-6);
  EXPECT_GT((d->forward(f0, other, f2) - base).abs().min().item<double>(), 1e-6);
  // Gradient w.r.t. F1 and F3 is non-zero: the condition is really read.
  torch::GradMode::set_enabled(true);
  auto g0 = f0.clone().requires_grad_(true), g2 = f2.clone().requires_grad_(true);
  d->forward(g0, mid, g2).sum().backward();
  EXPECT_GT(g0.grad().abs().sum().item<double>(), 0.0);
  EXPECT_GT(g2.grad().abs().sum().item<double>(), 0.0);
  // Too small for 5 stride-2 convs: a clear message instead of an empty map.
  try {
    d->forward(torch::rand({1, 3, 16, 64}), torch::rand({1, 3, 16, 64}), torch::rand({1, 3, 16, 64}));
    FAIL();
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("at least 32x32"), std::string::npos) << e.what();
  }
}

TEST(SinGanRegistry, DefaultsAndBadOptions) {
  const auto m = models::create_model("sin-gan");
  EXPECT_EQ(m.name, "sin-gan");
  EXPECT_EQ(m.generator_options.at("encoder_channels"), (std::vector<int>{32, 64, 64, 128}));
  EXPECT_EQ(m.generator_options.at("decoder_channels"), (std::vector<int>{128, 64, 64, 32}));
  EXPECT_EQ(m.generator_options.at("dropout"), 0.5);
  EXPECT_EQ(m.discriminator_options.at("channels"), (std::vector<int>{8, 16, 32, 64}));
  EXPECT_EQ(m.default_loss.at("l1"), 1.0);
  EXPECT_EQ(m.default_loss.at("ms_ssim"), 1.0);
  EXPECT_EQ(m.default_loss.at("clipping"), 1.0);
  EXPECT_EQ(m.default_loss.at("adversarial"), 1e-3);
  const auto names = models::model_names();
  EXPECT_NE(std::find(names.begin(), names.end(), "sin-gan"), names.end());
  auto expect_refused = [](const nlohmann::json& g, const nlohmann::json& d, const std::string& word) {
    try {
      models::create_model("sin-gan", g, d);
      FAIL() << g.dump() << d.dump();
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find(word), std::string::npos) << e.what();
    }
  };
  expect_refused({{"encoder_channels", {8, 8}}}, {}, "same length");
  expect_refused({{"output", "sigmoid"}}, {}, "output");
  expect_refused({{"dropout", 1.0}}, {}, "dropout");
  expect_refused({{"decoder_channels", {8, 0, 8, 8}}}, {}, "positive");
  expect_refused({{"refine_layers", 1}}, {}, "refine_layers");
  expect_refused({{"encoder_chanels", {8}}}, {}, "encoder_chanels");
  expect_refused({}, {{"channels", nlohmann::json::array()}}, "channels");
  expect_refused({{"refine", "yes"}}, {}, "refine");
}

TEST(SinGanTrainer, StepsOnOneTripletBeatTheAverageAndLogEveryTerm) {
  test::TempDir dir;
  test::write_moving_clip(dir / "clip", 3);  // exactly one triplet
  train::TrainerOptions o;
  o.model = "sin-gan";
  o.run.data = {dir / "clip"};
  o.val_fraction = 0;
  o.run.out_dir = dir / "run";
  o.run.generator_options = {{"encoder_channels", {8, 16, 16, 32}},
                             {"decoder_channels", {32, 16, 16, 8}},
                             {"refine", true},
                             {"refine_channels", 8}};
  o.run.batch_size = 2;
  o.crop = 64;
  o.hflip = o.vflip = false;
  o.temporal_reverse = false;
  o.run.lr_g = 2e-3;
  o.run.steps = 40;
  o.workers = 1;
  o.run.log_every = 1;
  o.run.checkpoint_every = 1000;
  o.run.device = "cpu";
  train::Trainer trainer(o);
  EXPECT_EQ(trainer.loss_weights().l1, 1.0);
  EXPECT_EQ(trainer.loss_weights().ms_ssim, 1.0);
  EXPECT_EQ(trainer.loss_weights().clipping, 1.0);
  data::TripletDatasetOptions dopt;
  dopt.sources = o.run.data;
  data::TripletDataset ds(dopt);
  data::TripletLoaderOptions lo;
  lo.batch_size = 2;
  lo.crop = 64;
  lo.hflip = lo.vflip = false;
  lo.temporal_reverse = false;
  // Eval-mode L1 of the model on the one triplet (train-mode step losses include dropout noise).
  const auto batch = data::TripletLoader::make_batch(ds, lo, 0);
  auto eval_l1 = [&] {
    torch::NoGradGuard no_grad;
    trainer.model().generator->eval();
    return losses::l1(trainer.model().generator->forward(batch.f0, batch.f2), batch.f1).item<double>();
  };
  const double l1_before = eval_l1();
  const auto before = trainer.validate(ds, 0);
  // The untrained model is the average frame (zero-initialised residual head and refiner).
  EXPECT_NEAR(before.model.psnr, before.average.psnr, 1e-3);
  train::StepStats first, last;
  for (int s = 0; s < o.run.steps; ++s) {
    last = trainer.step(data::TripletLoader::make_batch(ds, lo, s));
    if (s == 0) first = last;
  }
  for (const auto* name :
       {"l1", "ms_ssim", "clipping", "adversarial", "stage0_l1", "stage0_ms_ssim", "stage0_clipping"}) {
    EXPECT_TRUE(last.terms.count(name)) << name;
  }
  EXPECT_GT(first.terms.at("ms_ssim"), 0.0);
  const double l1_after = eval_l1();
  EXPECT_LT(l1_after, 0.85 * l1_before) << l1_before;  // measured 0.0142 -> 0.0107 (MS-SSIM drives most of the gain)
  const auto after = trainer.validate(ds, 0);
  std::printf("one triplet, %lld steps: eval L1 %.4f -> %.4f, PSNR %.2f -> %.2f dB (average %.2f dB)\n",
              static_cast<long long>(o.run.steps), l1_before, l1_after, before.model.psnr, after.model.psnr,
              after.average.psnr);
  EXPECT_GT(after.model.psnr, after.average.psnr + 2.0)
      << "before " << before.model.psnr << ", L1 " << l1_before << " -> " << l1_after;
}

TEST(SinGanTrainer, FitLogsTheTermsAndTheCheckpointRoundTrips) {
  test::TempDir dir;
  test::write_moving_clip(dir / "clip", 5, 48, 40);
  train::TrainerOptions o;
  o.model = "sin-gan";
  o.run.data = {dir / "clip"};
  o.val_data = {dir / "clip"};
  o.run.out_dir = dir / "run";
  o.run.generator_options = small_generator(true);
  o.run.discriminator_options = {{"channels", {4, 8, 8, 8}}};
  o.run.batch_size = 2;
  o.crop = 32;
  o.run.steps = 3;
  o.workers = 1;
  o.run.log_every = 1;
  o.val_every = 0;
  o.run.checkpoint_every = 3;
  o.run.device = "cpu";
  train::Trainer trainer(o);
  trainer.fit();
  std::ifstream log(dir / "run/log.jsonl");
  int step_lines = 0;
  for (std::string line; std::getline(log, line);) {
    const auto j = nlohmann::json::parse(line);
    if (!j.contains("terms")) continue;
    ++step_lines;
    for (const auto* name : {"l1", "ms_ssim", "clipping", "adversarial", "stage0_l1"})
      EXPECT_TRUE(j["terms"].contains(name)) << line;
  }
  EXPECT_EQ(step_lines, 3);

  // Reload the last checkpoint: same options, bit-identical outputs (BatchNorm statistics moved
  // during training, so they must have been saved), at an odd size through the Interpolator too.
  models::CheckpointMeta meta;
  auto loaded = models::load_model(dir / "run/last.pt", torch::kCPU, &meta);
  EXPECT_EQ(meta.model, "sin-gan");
  EXPECT_EQ(meta.step, 3);
  EXPECT_EQ(meta.generator_options, trainer.model().generator_options);
  auto& original = trainer.model().generator;
  original->eval();
  loaded.generator->eval();
  torch::NoGradGuard no_grad;
  const auto a = torch::rand({1, 3, 45, 61}), b = torch::rand({1, 3, 45, 61});
  EXPECT_TRUE(torch::equal(loaded.generator->forward(a, b), original->forward(a, b)));
  EXPECT_TRUE(torch::equal(loaded.generator->intermediate_outputs()[0], original->intermediate_outputs()[0]));
  infer::Interpolator interp(dir / "run/last.pt", "cpu");
  const auto mid = interp.interpolate(a[0], b[0]);
  EXPECT_EQ(mid.sizes(), (Sizes{3, 45, 61}));
  EXPECT_TRUE(torch::allclose(mid, original->forward(a, b)[0].clamp(0, 1), 1e-6, 1e-6));
  // The stripped checkpoint keeps the generator exactly.
  models::strip_checkpoint(dir / "run/last.pt", dir / "small.pt", false);
  auto stripped = models::load_model(dir / "small.pt", torch::kCPU);
  stripped.generator->eval();
  EXPECT_TRUE(torch::equal(stripped.generator->forward(a, b), original->forward(a, b)));
}
