// One way to fail (issue 16): a caller's mistake is a fregan::InvalidArgument from every entry.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "fregan/error.h"
#include "fregan/flow/optical_flow.h"
#include "fregan/infer/interpolator.h"
#include "fregan/losses/losses.h"
#include "fregan/metrics/metrics.h"
#include "fregan/models/registry.h"
#include "test_util.h"

using namespace fregan;

using test::invalid_argument_message;

TEST(Error, CheckMacroThrowsInvalidArgumentWithTheStreamedMessage) {
  const auto tensor = torch::rand({2, 3});
  const auto sizes = tensor.sizes();
  EXPECT_EQ(
      invalid_argument_message([&] { FREGAN_CHECK(sizes.size() == 3, "got ", sizes, " and ", 1.5, " (", 'x', ")"); }),
      "got [2, 3] and 1.5 (x)");
  EXPECT_NO_THROW(FREGAN_CHECK(sizes.size() == 2, "never built"));
  EXPECT_EQ(invalid_argument_message([] { require(false, "plain message"); }), "plain message");
}

TEST(Error, OneHierarchyRootedInLibTorchs) {
  // what() is the message alone: no backtrace, no source location.
  const InvalidArgument e("bad option 'x'");
  EXPECT_STREQ(e.what(), "bad option 'x'");
  const Error& as_fregan = e;
  const c10::Error& as_torch = e;
  const std::exception& as_std = e;
  EXPECT_STREQ(as_fregan.what(), "bad option 'x'");
  EXPECT_STREQ(as_torch.what(), "bad option 'x'");
  EXPECT_STREQ(as_std.what(), "bad option 'x'");
  EXPECT_THROW(throw FileError("f"), Error);
  EXPECT_THROW(throw CheckpointError("c"), c10::Error);
}

TEST(Error, SizeMismatchAndBadTimeAreInvalidArgumentFromEveryEntry) {
  torch::manual_seed(0);
  auto model = models::create_model("fregan", {{"base_channels", 8}, {"max_channels", 16}, {"levels", 3}});
  infer::Interpolator interp(model.generator, torch::kCPU, "fregan");
  const auto a = torch::rand({3, 16, 16}), b = torch::rand({3, 16, 17});
  EXPECT_NE(invalid_argument_message([&] { interp.interpolate(a, b); }).find("differ in size"), std::string::npos);
  EXPECT_NE(invalid_argument_message([&] { interp.interpolate(a, a, 1.5); }).find("t must be in (0, 1)"),
            std::string::npos);
  EXPECT_NE(invalid_argument_message([&] { interp.interpolate_times(a, b, {0.5}); }).find("differ in size"),
            std::string::npos);
  // A neighbour of another size, given to a model that uses neighbours.
  infer::Interpolator four_frame(models::create_model("fregan-flow").generator, torch::kCPU, "fregan-flow");
  ASSERT_TRUE(four_frame.uses_neighbours());
  EXPECT_NE(
      invalid_argument_message([&] {
        four_frame.interpolate(models::FrameWindow{torch::rand({1, 3, 8, 8}), a.unsqueeze(0), a.unsqueeze(0), {}}, 0.5);
      }).find("neighbour"),
      std::string::npos);
  // A model that predicts only the middle frame, asked for another t.
  const auto f = torch::rand({1, 3, 16, 16});
  EXPECT_NE(invalid_argument_message([&] { model.generator->forward_at(f, f, 0.25); }).find("t = 0.5"),
            std::string::npos);
  // The metrics, losses and flow functions check their inputs the same way.
  EXPECT_NE(invalid_argument_message([] {
              metrics::ssim(torch::rand({1, 3, 16, 16}), torch::rand({1, 3, 16, 17}));
            }).find("differ in size"),
            std::string::npos);
  EXPECT_NE(invalid_argument_message([] {
              losses::smooth_l1(torch::rand({3}), torch::rand({4}), 0.5);
            }).find("differ in shape"),
            std::string::npos);
  const auto v = torch::zeros({1, 2, 8, 8});
  EXPECT_NE(invalid_argument_message([&] { flow::flows_from_t(v, v, 1.0); }).find("t must be in (0, 1)"),
            std::string::npos);
}
