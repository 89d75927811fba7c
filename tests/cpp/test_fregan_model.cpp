#include <gtest/gtest.h>
#include <torch/torch.h>

#include "fregan/error.h"
#include "fregan/infer/interpolator.h"
#include "fregan/models/fregan.h"
#include "fregan/models/registry.h"

using namespace fregan;

TEST(FreganGenerator, ShapesAtMultiplesAndOddSizesThroughTheInterpolator) {
  torch::manual_seed(0);
  auto model = models::create_model("fregan", {{"base_channels", 8}, {"max_channels", 32}});
  auto g = model.generator;
  EXPECT_EQ(g->size_multiple(), 16);
  const auto a = torch::rand({2, 3, 32, 48}), b = torch::rand({2, 3, 32, 48});
  EXPECT_EQ(g->forward(a, b).sizes(), (std::vector<int64_t>{2, 3, 32, 48}));
  // Odd sizes are not multiples of 16: the network refuses, the Interpolator pads and crops back.
  EXPECT_THROW(g->forward(torch::rand({1, 3, 37, 53}), torch::rand({1, 3, 37, 53})), c10::Error);
  infer::Interpolator interp(g, torch::kCPU, "fregan");
  const auto out = interp.interpolate(torch::rand({3, 37, 53}), torch::rand({3, 37, 53}));
  EXPECT_EQ(out.sizes(), (std::vector<int64_t>{3, 37, 53}));
  EXPECT_GE(out.min().item<float>(), 0.0f);
  EXPECT_LE(out.max().item<float>(), 1.0f);
  const auto quarter = interp.interpolate_sequence(torch::rand({3, 17, 19}), torch::rand({3, 17, 19}), 4);
  ASSERT_EQ(quarter.size(), 3u);
  EXPECT_EQ(quarter[1].sizes(), (std::vector<int64_t>{3, 17, 19}));
  EXPECT_THROW(interp.interpolate(torch::rand({3, 8, 8}), torch::rand({3, 8, 9})), c10::Error);
  EXPECT_THROW(interp.interpolate(torch::rand({3, 8, 8}), torch::rand({3, 8, 8}), 1.0 / 3), InvalidArgument);
}

TEST(FreganGenerator, UntrainedResidualModelStartsAsTheAverageFrame) {
  auto model = models::create_model("fregan", {{"base_channels", 8}});
  model.generator->eval();
  const auto a = torch::rand({1, 3, 32, 32}), b = torch::rand({1, 3, 32, 32});
  EXPECT_TRUE(torch::allclose(model.generator->forward(a, b), (a + b) / 2, 1e-6, 1e-6));
}

TEST(FreganGenerator, SeedFaithfulVariantsBuildAndRun) {
  // Transposed convolutions, no skips, sigmoid output: the seed's plain encoder-decoder.
  auto model = models::create_model("fregan", {{"upsampling", "transposed"},
                                               {"skip_connections", false},
                                               {"predict_residual", false},
                                               {"base_channels", 4},
                                               {"levels", 3}});
  const auto out = model.generator->forward(torch::rand({2, 3, 24, 16}), torch::rand({2, 3, 24, 16}));
  EXPECT_EQ(out.sizes(), (std::vector<int64_t>{2, 3, 24, 16}));
  EXPECT_GT(out.min().item<float>(), 0.0f);  // sigmoid range
  EXPECT_LT(out.max().item<float>(), 1.0f);
}

TEST(FreganGenerator, GradientsReachEveryParameter) {
  auto model = models::create_model("fregan", {{"base_channels", 4}, {"predict_residual", false}});
  const auto out = model.generator->forward(torch::rand({2, 3, 32, 32}), torch::rand({2, 3, 32, 32}));
  out.mean().backward();
  for (const auto& p : model.generator->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0.0) << p.key();
  }
}

TEST(FreganDiscriminator, OneLogitPerImage) {
  auto model = models::create_model("fregan", {}, {{"base_channels", 8}});
  const auto x = torch::rand({3, 3, 64, 48});
  const auto logits = model.discriminator->forward(x, x, x);
  EXPECT_EQ(logits.sizes(), (std::vector<int64_t>{3}));
}

TEST(ModelRegistry, UnknownNamesAndOptionsAreRefusedByName) {
  try {
    models::create_model("nope");
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("unknown model 'nope'"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("fregan"), std::string::npos);
  }
  try {
    models::create_model("fregan", {{"base_chanels", 8}});
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("base_chanels"), std::string::npos);
  }
  EXPECT_THROW(models::create_model("fregan", {{"levels", "four"}}), InvalidArgument);
  EXPECT_THROW(models::create_model("fregan", {{"upsampling", "magic"}}), InvalidArgument);
  // Defaults are filled in and recorded.
  const auto m = models::create_model("fregan");
  EXPECT_EQ(m.generator_options.at("base_channels"), 32);
  EXPECT_EQ(m.generator_options.at("upsampling"), "subpixel");
}
