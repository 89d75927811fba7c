// The seed models on flow-aligned frames (models/flow_aligned.h).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "fregan/error.h"
#include "fregan/flow/optical_flow.h"
#include "fregan/io/image.h"
#include "fregan/metrics/metrics.h"
#include "fregan/models/flow_aligned.h"
#include "fregan/models/registry.h"
#include "fregan/models/checkpoint.h"
#include "test_util.h"

using namespace fregan;

namespace {

// A textured square accelerating to the right, x = 20 + 8 s + 4 s^2 at time s (frames -1, 0, 1, 2).
torch::Tensor frame_at(double s) {
  return io::image_to_tensor(test::moving_square(128, 96, static_cast<int>(std::lround(20 + 8 * s + 4 * s * s)), 24))
      .unsqueeze(0);
}

const char* const kAligned[] = {"fregan-aligned", "sin-gan-aligned", "sepconv-aligned", "adaconv-aligned"};

}  // namespace

TEST(FlowAligned, EveryUntrainedSeedStartsAtFourFrameWarping) {
  const auto before = frame_at(-1), f0 = frame_at(0), f1 = frame_at(1), after = frame_at(2);
  for (const char* name : kAligned) {
    auto m = models::create_model(name);
    m.generator->eval();
    const auto& o = std::dynamic_pointer_cast<models::FlowAlignedNetImpl>(m.generator)->options();
    torch::NoGradGuard no_grad;
    const auto warping =
        flow::warp_interpolate(before, f0, f1, after, 0.5, o.flow, o.acceleration, flow::Sampling::Bicubic);
    const auto out = m.generator->forward_times(models::FrameWindow{before, f0, f1, after}, {0.5}).front();
    const double psnr = metrics::psnr(out.clamp(0, 1), warping.clamp(0, 1)).item<double>();
    // FREGAN and SIN-GAN add a zero-initialised correction to the average of their inputs: exact.
    // The kernel models start with kernels concentrated on the centre tap: close (the average of
    // the two unwarped frames is ~20 dB from warping here).
    EXPECT_GT(psnr, std::string(name).find("conv") != std::string::npos ? 35.0 : 80.0) << name;
    EXPECT_TRUE(m.generator->uses_neighbours() && m.generator->supports_timestep() &&
                m.generator->untrained_is_classical());
  }
}

TEST(FlowAligned, OptionsCarryTheSeedsAndSepConvUsesSmallKernels) {
  const auto m = models::create_model("sepconv-aligned");
  EXPECT_EQ(m.name, "sepconv-aligned");
  EXPECT_EQ(m.generator_options.at("seed_options").at("kernel_size"), 5);
  EXPECT_EQ(m.generator_options.at("flow").at("preset"), "fine");
  EXPECT_EQ(m.generator_options.at("sampling"), "bicubic");
  EXPECT_EQ(m.default_loss, models::create_model("sepconv").default_loss);
  // The seed's own options go through its strict reader.
  EXPECT_THROW(models::create_model("fregan-aligned", {{"seed_options", {{"no_such_key", 1}}}}), InvalidArgument);
  const auto fregan = models::create_model("fregan-aligned", {{"seed_options", {{"base_channels", 8}, {"levels", 2}}}});
  EXPECT_EQ(fregan.generator_options.at("seed_options").at("base_channels"), 8);
  EXPECT_EQ(fregan.generator->size_multiple(), 4);
}

TEST(FlowAligned, TrainsAndRoundTripsThroughACheckpoint) {
  test::TempDir dir;
  auto m = models::create_model("fregan-aligned",
                                {{"seed_options", {{"base_channels", 8}, {"max_channels", 16}, {"levels", 2}}}});
  const auto f0 = frame_at(0), f1 = frame_at(1), truth = frame_at(0.5);
  // The gradient reaches the seed through the warped frames, and a small step along it lowers the loss.
  torch::optim::SGD sgd(m.generator->parameters(), 1e-4);
  const auto loss = (m.generator->forward(f0, f1) - truth).square().mean();
  loss.backward();
  EXPECT_GT(m.generator->named_parameters().find("seed.head.weight")->grad().norm().item<double>(), 0.0);
  sgd.step();
  EXPECT_LT((m.generator->forward(f0, f1) - truth).square().mean().item<double>(), loss.item<double>());
  models::CheckpointMeta meta;
  meta.model = m.name;
  models::save_checkpoint(dir / "a.pt", meta, m);
  const auto loaded = models::load_model(dir / "a.pt", torch::kCPU);
  EXPECT_EQ(loaded.name, "fregan-aligned");
  torch::NoGradGuard no_grad;
  m.generator->eval();
  loaded.generator->eval();
  EXPECT_TRUE(torch::allclose(loaded.generator->forward(f0, f1), m.generator->forward(f0, f1), 1e-6, 1e-6));
}
