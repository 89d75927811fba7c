#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>
#include <vector>

#include "fregan/error.h"
#include "fregan/infer/interpolator.h"
#include "fregan/models/kernel_interpolation.h"
#include "fregan/models/registry.h"
#include "test_util.h"

using namespace fregan;

namespace {

// Every weight moved away from its (delta-kernel, zero-head) initialisation, so the output depends
// on the whole network.
void randomise(models::InterpolationNetImpl& net, double scale = 0.1) {
  torch::NoGradGuard no_grad;
  for (auto& p : net.parameters()) p.add_(torch::randn_like(p) * scale);
}

}  // namespace

TEST(KernelInterpolation, RegistryBuildsBothWithL1AndNoAdversarialTermByDefault) {
  for (const std::string name : {"sepconv", "adaconv"}) {
    auto m = models::create_model(name, {{"kernel_size", 5}, {"base_channels", 4}, {"levels", 2}});
    EXPECT_EQ(m.name, name);
    EXPECT_EQ(m.default_loss.at("l1").get<double>(), 1.0);
    EXPECT_EQ(m.default_loss.at("adversarial").get<double>(), 0.0);
    EXPECT_EQ(m.generator_options.at("kernel_size").get<int>(), 5);
    EXPECT_EQ(m.generator->size_multiple(), 4);
    ASSERT_NE(m.discriminator, nullptr);
    EXPECT_THROW(models::create_model(name, {{"kernel_size", 4}}), InvalidArgument);  // even
    EXPECT_THROW(models::create_model(name, {{"levels", 0}}), InvalidArgument);
    EXPECT_THROW(models::create_model(name, {{"kernel_sise", 5}}), InvalidArgument);  // typo
  }
  EXPECT_EQ(models::create_model("sepconv").generator_options.at("kernel_size").get<int>(), 25);
}

TEST(KernelInterpolation, ShapesAtOddSizesThroughTheInterpolator) {
  torch::manual_seed(0);
  for (const std::string name : {"sepconv", "adaconv"}) {
    auto m = models::create_model(name, {{"kernel_size", 7}, {"base_channels", 4}, {"max_channels", 16}});
    auto g = m.generator;
    EXPECT_EQ(g->size_multiple(), 16);
    EXPECT_EQ(g->forward(torch::rand({2, 3, 32, 48}), torch::rand({2, 3, 32, 48})).sizes(),
              (std::vector<int64_t>{2, 3, 32, 48}));
    EXPECT_THROW(g->forward(torch::rand({1, 3, 37, 53}), torch::rand({1, 3, 37, 53})), c10::Error);
    infer::Interpolator interp(g, torch::kCPU, name);
    const auto out = interp.interpolate(torch::rand({3, 37, 53}), torch::rand({3, 37, 53}));
    EXPECT_EQ(out.sizes(), (std::vector<int64_t>{3, 37, 53}));
  }
}

TEST(KernelInterpolation, KernelsAreNormalisedAndStartAtTheAverageOfConstantFrames) {
  torch::manual_seed(1);
  for (const std::string name : {"sepconv", "adaconv"}) {
    auto m = models::create_model(name, {{"kernel_size", 5}, {"base_channels", 4}, {"levels", 2}});
    auto g = m.generator;
    const auto a = torch::full({1, 3, 16, 20}, 0.2), b = torch::full({1, 3, 16, 20}, 0.6);
    // At initialisation both frames get the same (normalised) kernel: exactly the average.
    EXPECT_TRUE(torch::allclose(g->forward(a, b), torch::full({1, 3, 16, 20}, 0.4), 1e-5, 1e-6)) << name;
    // Whatever the weights, the output is a convex combination of input pixels.
    randomise(*g, 0.3);
    const auto out = g->forward(a, b);
    EXPECT_GE(out.min().item<float>(), 0.2f - 1e-5f) << name;
    EXPECT_LE(out.max().item<float>(), 0.6f + 1e-5f) << name;
    EXPECT_GT((out - 0.4).abs().max().item<float>(), 1e-4f) << name << ": randomised weights should move the output";
  }
}

TEST(KernelInterpolation, GradientsReachTheTrunk) {
  torch::manual_seed(2);
  auto m = models::create_model("sepconv", {{"kernel_size", 5}, {"base_channels", 4}, {"levels", 2}});
  auto g = m.generator;
  randomise(*g);  // the heads start at zero weight, which blocks the trunk's gradient at step 0
  const auto a = torch::rand({2, 3, 16, 16}), b = torch::rand({2, 3, 16, 16});
  (g->forward(a, b) - (a + b) / 2).abs().mean().backward();
  for (const auto& p : g->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0.0) << p.key();
  }
}

// The receptive field of sepconv with levels 1 and kernel_size 3 reaches about 12 pixels (two 3x3
// convs, a 2x2 pool, two 3x3 convs at half resolution, bilinear upsampling, two 3x3 convs, plus K/2
// for the kernels), so an overlap of 64 (tile pixels within 16 of a cut edge get no weight) covers it
// and tiled inference must equal the untiled result.
TEST(KernelInterpolation, TiledInferenceEqualsUntiledOnAFrameLargerThanOneTile) {
  torch::manual_seed(3);
  for (const std::string name : {"sepconv", "adaconv"}) {
    auto m = models::create_model(name, {{"kernel_size", 3}, {"base_channels", 4}, {"levels", 1}});
    randomise(*m.generator, 0.3);
    m.generator->eval();
    infer::Interpolator interp(m.generator, torch::kCPU, name);
    const auto a = torch::rand({3, 151, 203}), b = torch::rand({3, 151, 203});
    const auto whole = interp.interpolate(a, b);
    interp.set_tiling({96, 64});
    const auto tiled = interp.interpolate(a, b);
    ASSERT_EQ(tiled.sizes(), whole.sizes());
    EXPECT_LT((tiled - whole).abs().max().item<double>(), 1e-4) << name;
    // An overlap too small for the receptive field differs measurably (the test can fail).
    interp.set_tiling({32, 4});
    EXPECT_GT((interp.interpolate(a, b) - whole).abs().max().item<double>(), 1e-4) << name;
  }
}

TEST(KernelInterpolation, TilingOptionsAreChecked) {
  auto m = models::create_model("sepconv", {{"kernel_size", 3}, {"base_channels", 4}, {"levels", 2}});
  infer::Interpolator interp(m.generator, torch::kCPU, "sepconv");
  EXPECT_THROW(interp.set_tiling({-1, 0}), InvalidArgument);
  EXPECT_THROW(interp.set_tiling({64, 64}), InvalidArgument);
  EXPECT_THROW(interp.set_tiling({64, -2}), InvalidArgument);
  // Overlap 61 rounds up to 64 (the size multiple is 4) = the tile: refused when it matters.
  interp.set_tiling({64, 61});
  EXPECT_THROW(interp.interpolate(torch::rand({3, 100, 100}), torch::rand({3, 100, 100})), InvalidArgument);
  interp.set_tiling({0, 0});
  EXPECT_EQ(interp.interpolate(torch::rand({3, 100, 100}), torch::rand({3, 100, 100})).size(2), 100);
}

namespace {

// FREGAN_MEMORY_LIMIT_BYTES for the life of the guard: what available_memory_bytes() reports.
struct MemoryLimit {
  explicit MemoryLimit(int64_t bytes) { setenv("FREGAN_MEMORY_LIMIT_BYTES", std::to_string(bytes).c_str(), 1); }
  ~MemoryLimit() { unsetenv("FREGAN_MEMORY_LIMIT_BYTES"); }
};

}  // namespace

TEST(KernelInterpolation, FramesThatDoNotFitInMemoryAreTiledAutomaticallyWithTheSameResult) {
  torch::manual_seed(4);
  auto m = models::create_model("sepconv", {{"kernel_size", 3}, {"base_channels", 4}, {"levels", 1}});
  randomise(*m.generator, 0.3);
  m.generator->eval();
  infer::Interpolator interp(m.generator, torch::kCPU, "sepconv");
  EXPECT_EQ(interp.estimated_bytes(100, 200), 720 * 100 * 200);  // SepConv's measured 720 bytes per pixel
  const auto a = torch::rand({3, 512, 512}), b = torch::rand({3, 512, 512});
  const auto whole = interp.interpolate(a, b);
  ASSERT_EQ(interp.tiling().tile, 0);
  // 512x512 needs 720 * 512^2 = 189 MB; with 100 MB the frames (96 B/px: 25 MB) leave room for
  // tiles of floor(sqrt(0.7 * 74.8 MB / 720)) = 269 -> 256 px (a multiple of 64).
  MemoryLimit limit(100'000'000);
  const auto tiled = interp.interpolate(a, b);
  EXPECT_EQ(interp.tiling().tile, 256);
  EXPECT_LT((tiled - whole).abs().max().item<double>(), 1e-4);
  // Too little even for the frames and the smallest tile: refused before the work, with the fix.
  MemoryLimit tiny(20'000'000);
  const std::string message = test::invalid_argument_message([&] { interp.interpolate(a, b); });
  EXPECT_NE(message.find("interpolating 512x512 frames with sepconv needs about 189 MB of memory and this machine has "
                         "20 MB available"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("downscale"), std::string::npos) << message;
}
