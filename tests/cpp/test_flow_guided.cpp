#include <cmath>

#include <limits>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "fregan/error.h"
#include "fregan/flow/optical_flow.h"
#include "fregan/infer/interpolator.h"
#include "fregan/io/image.h"
#include "fregan/models/flow_guided.h"
#include "fregan/models/registry.h"
#include "test_util.h"

#include <nlohmann/json.hpp>

using namespace fregan;

namespace {

// Centre x of the bright square (BGR 250, 230, 30) in an 8-bit frame, from the pixels close to
// its colour (sub-pixel: blended edge pixels count by how close they are).
double square_centre_x(const cv::Mat& bgr) {
  double sum = 0, weight = 0;
  for (int y = 0; y < bgr.rows; ++y) {
    for (int x = 0; x < bgr.cols; ++x) {
      const auto p = bgr.at<cv::Vec3b>(y, x);
      // The square's blue channel is 250, the background's at most 40 + 90 + 24 = 154.
      const double w = std::clamp((p[0] - 154.0) / (250.0 - 154.0), 0.0, 1.0);
      if (w > 0.5) {
        sum += w * x;
        weight += w;
      }
    }
  }
  return weight > 0 ? sum / weight : -1;
}

}  // namespace

TEST(Flow, BackwardWarpWithAConstantFlowShiftsTheImage) {
  torch::manual_seed(0);
  const auto image = torch::rand({1, 3, 20, 30});
  auto flow = torch::zeros({1, 2, 20, 30});
  flow.select(1, 0).fill_(3.0);   // sample 3 px to the right
  flow.select(1, 1).fill_(-2.0);  // and 2 px up
  const auto warped = flow::backward_warp(image, flow);
  using torch::indexing::Slice;
  // out(y, x) = image(y - 2, x + 3) where that is inside the frame.
  EXPECT_TRUE(torch::allclose(warped.index({Slice(), Slice(), Slice(2, 20), Slice(0, 27)}),
                              image.index({Slice(), Slice(), Slice(0, 18), Slice(3, 30)}), 1e-5, 1e-5));
  // Zero flow is the identity.
  EXPECT_TRUE(torch::allclose(flow::backward_warp(image, torch::zeros({1, 2, 20, 30})), image, 1e-5, 1e-5));
}

TEST(Flow, TheFastCpuWarpAgreesWithTheDifferentiableOne) {
  // Random image, smooth random flow reaching past the borders: the CPU loop (inference) and
  // grid_sample (autograd) agree to float rounding, bilinear and bicubic; bicubic differs from
  // bilinear, and on a sharp image it keeps more detail at half-pixel shifts.
  torch::manual_seed(4);
  namespace F = torch::nn::functional;
  const auto smooth = [](const torch::Tensor& x, int64_t h, int64_t w) {
    return F::interpolate(
        x, F::InterpolateFuncOptions().size(std::vector<int64_t>{h, w}).mode(torch::kBilinear).align_corners(false));
  };
  const auto image = torch::rand({2, 5, 48, 64});
  const auto flow = smooth(torch::randn({2, 2, 3, 4}) * 6, 48, 64);
  for (const auto sampling : {flow::Sampling::Bilinear, flow::Sampling::Bicubic}) {
    const auto fast = flow::backward_warp(image, flow, sampling);
    const auto exact = flow::backward_warp(image.clone().requires_grad_(true), flow, sampling).detach();
    EXPECT_EQ(fast.sizes(), exact.sizes());
    EXPECT_LT((fast - exact).abs().max().item<double>(), 1e-5);
    EXPECT_GT(exact.sub(image).abs().max().item<double>(), 0.05);  // the warp did move things
  }
  EXPECT_GT((flow::backward_warp(image, flow, flow::Sampling::Bicubic) - flow::backward_warp(image, flow))
                .abs()
                .max()
                .item<double>(),
            0.05);
  // Half a pixel to the right: bilinear averages neighbours (variance of uniform noise halves),
  // bicubic keeps more of it.
  const auto half = torch::zeros({2, 2, 48, 64});
  half.select(1, 0).fill_(0.5);
  auto inner = [](const torch::Tensor& x) { return x.narrow(2, 4, 40).narrow(3, 4, 56); };
  EXPECT_GT(inner(flow::backward_warp(image, half, flow::Sampling::Bicubic)).var().item<double>(),
            1.2 * inner(flow::backward_warp(image, half)).var().item<double>());
  EXPECT_THROW(flow::sampling_from_name("lanczos"), InvalidArgument);
}

TEST(Flow, FlowsFromTForLinearMotion) {
  // Uniform motion v from frame 0 to frame 1 (F_10 = -v): the flows from time t are -t v and (1 - t) v.
  const auto v = torch::tensor({4.0f, -2.0f}).view({1, 2, 1, 1}).expand({1, 2, 3, 3});
  for (double t : {0.25, 0.5, 0.75}) {
    const auto [ft0, ft1] = flow::flows_from_t(v, -v, t);
    EXPECT_TRUE(torch::allclose(ft0, v * -t, 1e-6, 1e-6)) << t;
    EXPECT_TRUE(torch::allclose(ft1, v * (1 - t), 1e-6, 1e-6)) << t;
  }
  EXPECT_THROW(flow::flows_from_t(v, -v, 1.0), c10::Error);
}

namespace {

// A uniform flow field [1, 2, h, w] of (x, y).
torch::Tensor uniform_flow(double x, double y, int64_t h = 6, int64_t w = 8) {
  return torch::tensor({static_cast<float>(x), static_cast<float>(y)})
      .view({1, 2, 1, 1})
      .expand({1, 2, h, w})
      .contiguous();
}

// A smooth random texture (blurred noise, so DIS and bicubic sampling see sub-pixel motion) of
// which frames are windows: frame(x) is the width x height window whose left edge is at x (any
// real x) of the texture, i.e. the texture moved left by x.
struct Texture {
  cv::Mat image;
  explicit Texture(int width, int height) {
    cv::Mat noise(height, width, CV_32FC3);
    cv::RNG rng(11);
    rng.fill(noise, cv::RNG::UNIFORM, 0.0, 1.0);
    cv::GaussianBlur(noise, image, cv::Size(0, 0), 2.0);
    cv::normalize(image, image, 0.0, 1.0, cv::NORM_MINMAX);
  }
  torch::Tensor frame(double x, int width, int height) const {
    const cv::Mat shift = (cv::Mat_<double>(2, 3) << 1, 0, -x - 40, 0, 1, -20);
    cv::Mat out;
    cv::warpAffine(image, out, shift, cv::Size(width, height), cv::INTER_CUBIC, cv::BORDER_REFLECT);
    return torch::from_blob(out.data, {height, width, 3}, torch::kFloat32).permute({2, 0, 1}).unsqueeze(0).clone();
  }
};

double psnr_inside(const torch::Tensor& a, const torch::Tensor& b, int64_t margin) {
  const auto crop = [&](const torch::Tensor& x) {
    return x.narrow(2, margin, x.size(2) - 2 * margin).narrow(3, margin, x.size(3) - 2 * margin);
  };
  return -10.0 * std::log10((crop(a).clamp(0, 1) - crop(b)).square().mean().item<double>());
}

}  // namespace

TEST(Flow, FourFrameFlowsAreExactForConstantAcceleration) {
  // A scene moving as x(s) = v s + a s^2 / 2 (uniform over the frame): the flows between frames
  // are F_01 = v + a/2, F_0,-1 = -v + a/2, F_10 = -v - a/2, F_12 = v + 3a/2, and the true flows
  // from time t are F_t0 = x(0) - x(t), F_t1 = x(1) - x(t).
  const double vx = 6, vy = -3, ax = 8, ay = 2;
  const auto f01 = uniform_flow(vx + ax / 2, vy + ay / 2), f0b = uniform_flow(-vx + ax / 2, -vy + ay / 2);
  const auto f10 = uniform_flow(-vx - ax / 2, -vy - ay / 2), f12 = uniform_flow(vx + 1.5 * ax, vy + 1.5 * ay);
  // The neighbours' own backward flows (uniform: the exact inverses), so the consistency is perfect.
  const flow::NeighbourFlows before{f0b, -f0b}, after{f12, -f12};
  flow::AccelerationOptions o;
  o.consistency_sigma = 2;  // on (perfectly consistent here: no effect)
  const auto a0 = flow::acceleration(f01, before, o), a1 = flow::acceleration(f10, after, o);
  ASSERT_TRUE(a0.defined() && a1.defined());
  EXPECT_TRUE(torch::allclose(a0, uniform_flow(ax, ay), 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(a1, uniform_flow(ax, ay), 1e-5, 1e-5));
  for (double t : {0.25, 0.5, 0.75}) {
    const auto [ft0, ft1] = flow::flows_from_t(f01, f10, a0, a1, t);
    const double xt = vx * t + ax * t * t / 2, yt = vy * t + ay * t * t / 2;
    EXPECT_TRUE(torch::allclose(ft0, uniform_flow(-xt, -yt), 1e-5, 1e-5)) << t;
    EXPECT_TRUE(torch::allclose(ft1, uniform_flow(vx + ax / 2 - xt, vy + ay / 2 - yt), 1e-5, 1e-5)) << t;
    // The linear flows are off by the acceleration's share: a t (1 - t) / 2 (1.5 px in x at t = 0.5).
    const auto [lt0, lt1] = flow::flows_from_t(f01, f10, t);
    EXPECT_NEAR((ft0 - lt0).select(1, 0).mean().item<double>(), ax * t * (1 - t) / 2, 1e-5) << t;
  }
  // Damping scales the acceleration; 0 or a missing neighbour is linear motion, exactly.
  o.damping = 0.5;
  EXPECT_TRUE(torch::allclose(flow::acceleration(f01, before, o), uniform_flow(ax / 2, ay / 2), 1e-5, 1e-5));
  o.damping = 0;
  EXPECT_FALSE(flow::acceleration(f01, before, o).defined());
  EXPECT_FALSE(flow::acceleration(f01, flow::NeighbourFlows{}, {}).defined());
  const auto [lt0, lt1] = flow::flows_from_t(f01, f10, 0.3);
  const auto [nt0, nt1] = flow::flows_from_t(f01, f10, torch::Tensor(), torch::Tensor(), 0.3);
  EXPECT_TRUE(torch::equal(lt0, nt0) && torch::equal(lt1, nt1));
  // Reversal (the default) and the SloMo-way reading agree on uniform motion.
  flow::AccelerationOptions slomo;
  slomo.to_t = "slomo";
  for (double t : {0.3, 0.5}) {
    const auto [r0, r1] = flow::flows_from_t(f01, f10, a0, a1, t);
    const auto [s0, s1] = flow::flows_from_t(f01, f10, a0, a1, t, slomo);
    EXPECT_TRUE(torch::allclose(r0, s0, 1e-5, 1e-5) && torch::allclose(r1, s1, 1e-5, 1e-5)) << t;
  }
  // SloMo way, one side only: that side's acceleration in both flows, weighted by its time (1 - t
  // for frame 0's).
  const auto [h0, h1] = flow::flows_from_t(f01, f10, a0, torch::Tensor(), 0.5, slomo);
  const auto [l0, l1] = flow::flows_from_t(f01, f10, 0.5);
  EXPECT_NEAR((h0 - l0).select(1, 0).mean().item<double>(), 0.5 * 0.25 * 0.5 * ax, 1e-5);
  EXPECT_NEAR((h1 - l1).select(1, 0).mean().item<double>(), 0.5 * 0.25 * 0.5 * ax, 1e-5);
  o = {};
  o.damping = -1;
  EXPECT_THROW(flow::acceleration(f01, before, o), InvalidArgument);
  slomo.to_t = "forward";
  EXPECT_THROW(flow::flows_from_t(f01, f10, a0, a1, 0.5, slomo), InvalidArgument);
  EXPECT_THROW(flow::from_json(nlohmann::json{{"dampin", 1}}, o), InvalidArgument);
}

TEST(Flow, FourFrameFlowsWithoutAccelerationAreTheLinearOnes) {
  // Constant velocity (F_0,-1 = -F_01, F_12 = F_01 = -F_10), with non-uniform flows: the
  // acceleration vanishes and the four-frame flows read the SloMo way are flows_from_t's.
  // (Reversed, they are the linear motion splatted to t instead: a different reading of
  // non-uniform motion, the same for uniform motion, see above.)
  torch::manual_seed(2);
  const auto f01 = torch::randn({1, 2, 12, 16}) * 3;
  const auto f10 = -f01;
  const auto a0 = flow::acceleration(f01, {-f01, f01}, {}), a1 = flow::acceleration(f10, {f01, -f01}, {});
  EXPECT_LT(a0.abs().max().item<double>(), 1e-6);
  flow::AccelerationOptions slomo;
  slomo.to_t = "slomo";
  for (double t : {0.2, 0.5, 0.9}) {
    const auto [ft0, ft1] = flow::flows_from_t(f01, f10, a0, a1, t, slomo);
    const auto [lt0, lt1] = flow::flows_from_t(f01, f10, t);
    EXPECT_TRUE(torch::allclose(ft0, lt0, 1e-6, 1e-6) && torch::allclose(ft1, lt1, 1e-6, 1e-6)) << t;
    const auto [rt0, rt1] = flow::flows_from_t(f01, f10, a0, a1, t);
    EXPECT_GT((rt0 - lt0).abs().max().item<double>(), 0.1) << t;
  }
}

TEST(Flow, ReversedMotionIsFoundWhereThePixelsLandAndTheFallbackWhereNoneDo) {
  // Columns 4..7 of a still 12x16 frame move 3 px right by time t and land on columns 7..10.  The
  // flow from t back to the frame, per column x (weight w landed, fallback 7, fill 0.2):
  // (sum of -motion + fill * 7) / (w + fill).
  auto motion = torch::zeros({1, 2, 12, 16});
  motion.select(1, 0).narrow(2, 4, 4).fill_(3.0);
  const double fill = 0.2, fb = 7.0;
  const auto reversed = flow::reverse_motion(motion, torch::full({1, 2, 12, 16}, fb), fill);
  auto expect = [&](int x, double u, double weight) {
    EXPECT_NEAR(reversed[0][0][5][x].item<double>(), (u + fill * fb) / (weight + fill), 1e-5) << "x = " << x;
    EXPECT_NEAR(reversed[0][1][5][x].item<double>(), fill * fb / (weight + fill), 1e-5) << "x = " << x;
  };
  expect(0, 0.0, 1);  // a still pixel on itself
  expect(15, 0.0, 1);
  for (int x = 4; x <= 6; ++x) expect(x, 0.0, 0);    // nothing lands: the fallback
  expect(7, -3.0, 1);                                // pixel 4 (pixel 7 itself moved on)
  for (int x = 8; x <= 10; ++x) expect(x, -3.0, 2);  // a moved pixel on a still one (no depth order)
  EXPECT_THROW(flow::reverse_motion(motion, torch::zeros({1, 2, 12, 15}), fill), c10::Error);
}

TEST(Flow, TheAccelerationIsTrustedWhereTheNeighbourFlowIsConsistent) {
  // Where the neighbour's flow and its reverse disagree by e pixels, the acceleration is weighted
  // by sigma^2 / (sigma^2 + e^2): half at e = sigma.
  const auto f01 = uniform_flow(4, 0), f0b = uniform_flow(0, 0);  // a = (4, 0): the pair starts from rest
  flow::AccelerationOptions o;
  o.consistency_sigma = 2;
  const auto inconsistent = flow::acceleration(f01, {f0b, uniform_flow(2, 0)}, o);  // e = 2 = sigma
  EXPECT_TRUE(torch::allclose(inconsistent, uniform_flow(2, 0), 1e-5, 1e-5));
  o.consistency_sigma = 0;  // trust all
  EXPECT_TRUE(torch::allclose(flow::acceleration(f01, {f0b, uniform_flow(2, 0)}, o), uniform_flow(4, 0), 1e-5, 1e-5));
  // Where the two sides disagree (frame 0 starts from rest, frame 1 stops dead: a0 = (4, 0),
  // a1 = (-4, 0), d = 8), the agreement weighs both: half at d = sigma.
  o.agreement_sigma = 8;
  const auto [a0, a1] = flow::accelerations(f01, -f01, {f0b, f0b}, {f0b, f0b}, o);
  EXPECT_TRUE(torch::allclose(a0, uniform_flow(2, 0), 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(a1, uniform_flow(-2, 0), 1e-5, 1e-5));
  // One side only: nothing to agree with.
  const auto [b0, b1] = flow::accelerations(f01, -f01, {f0b, f0b}, {}, o);
  EXPECT_TRUE(torch::allclose(b0, uniform_flow(4, 0), 1e-5, 1e-5));
  EXPECT_FALSE(b1.defined());
}

TEST(FlowGuided, FourFramesPlaceAnAcceleratingSceneBetterThanTwo) {
  // A textured scene accelerating to the right: x(s) = 6 s + 4 s^2 (frames -1, 0, 1, 2 at x = -2,
  // 0, 10, 28).  At t = 0.5 the truth is at x = 4, linear motion puts it at 5.  An untrained
  // fregan-flow given the neighbours must be four-frame warping exactly, and much closer to the
  // truth than with two frames.
  // (DIS finds the 18 px of the last step reliably from about 320 px wide frames on this texture.)
  const Texture texture(480, 260);
  const int w = 320, h = 192;
  auto at = [&](double s) { return texture.frame(6 * s + 4 * s * s, w, h); };
  const auto before = at(-1), f0 = at(0), f1 = at(1), after = at(2);
  auto model = models::create_model("fregan-flow", {{"flow", {{"preset", "fine"}}}});
  const auto& options = std::dynamic_pointer_cast<models::FlowGuidedNetImpl>(model.generator)->options();
  infer::Interpolator interpolator(model.generator, torch::kCPU, model.name);
  ASSERT_TRUE(interpolator.uses_neighbours());
  for (double t : {0.25, 0.5}) {
    const auto truth = at(t);
    const auto two = interpolator.interpolate(f0, f1, t);
    const auto four = interpolator.interpolate(models::FrameWindow{before, f0, f1, after}, t);
    const auto warped =
        flow::warp_interpolate(before, f0, f1, after, t, options.flow, options.acceleration, flow::Sampling::Bicubic)
            .clamp(0, 1);
    EXPECT_LT((four - warped).abs().max().item<double>(), 1e-5) << t;
    const double psnr_two = psnr_inside(two, truth, 24), psnr_four = psnr_inside(four, truth, 24);
    EXPECT_GT(psnr_four, psnr_two + 3.0) << "t = " << t << ": two-frame " << psnr_two << " dB, four-frame "
                                         << psnr_four;
    // One neighbour gives part of the gain.
    const auto three = interpolator.interpolate(models::FrameWindow{before, f0, f1, {}}, t);
    const double psnr_three = psnr_inside(three, truth, 24);
    EXPECT_GT(psnr_three, psnr_two + 0.5) << t;
    EXPECT_LT(psnr_three, psnr_four) << t;
  }
  // The neighbours must match the pair's size.
  EXPECT_THROW(interpolator.interpolate(models::FrameWindow{torch::rand({1, 3, 10, 10}), f0, f1, {}}, 0.5), c10::Error);
  // Models that do not use neighbours ignore them.
  auto fregan_model = models::create_model("fregan", {{"base_channels", 4}, {"max_channels", 8}, {"levels", 2}});
  infer::Interpolator middle(fregan_model.generator, torch::kCPU, fregan_model.name);
  EXPECT_FALSE(middle.uses_neighbours());
  const auto a = torch::rand({3, 16, 16}), b = torch::rand({3, 16, 16});
  EXPECT_TRUE(torch::equal(
      middle.interpolate(models::FrameWindow{torch::rand({3, 16, 16}), a, b, torch::rand({3, 16, 16})}, 0.5),
      middle.interpolate(a, b, 0.5)));
}

TEST(FlowGuided, FlowsKeptForTheNextPairsAreTheFlowsAFreshNetComputes) {
  // Over consecutive windows of a video the net finds the flows of pairs it has met (as a pair or
  // as a neighbour, in either direction, from new tensors with the same content) again: every
  // output must equal a fresh net's.
  const Texture texture(400, 200);
  std::vector<torch::Tensor> frames;
  for (int i = 0; i < 6; ++i) frames.push_back(texture.frame(5.0 * i + 1.5 * i * i, 120, 80));
  models::FlowGuidedOptions o;
  o.flow.preset = "fine";
  models::FlowGuidedNet net(o);
  net->eval();
  torch::NoGradGuard no_grad;
  for (int i = 1; i + 2 < 6; ++i) {
    const models::FrameWindow window{frames[i - 1].clone(), frames[i].clone(), frames[i + 1].clone(),
                                     frames[i + 2].clone()};
    models::FlowGuidedNet fresh(o);
    fresh->eval();
    EXPECT_TRUE(torch::equal(net->forward_times(window, {0.5}).front(), fresh->forward_times(window, {0.5}).front()))
        << i;
  }
  // Reversed order (pairs met backwards) too.
  const models::FrameWindow reversed{frames[4], frames[3], frames[2], frames[1]};
  models::FlowGuidedNet fresh(o);
  fresh->eval();
  EXPECT_TRUE(torch::equal(net->forward_times(reversed, {0.5}).front(), fresh->forward_times(reversed, {0.5}).front()));
}

TEST(Flow, DisFindsAKnownTranslation) {
  const auto a = io::image_to_tensor(test::moving_square(128, 96, 40)).unsqueeze(0);
  const auto b = io::image_to_tensor(test::moving_square(128, 96, 52)).unsqueeze(0);
  const auto [f01, f10] = flow::bidirectional_flow(a, b);
  EXPECT_EQ(f01.sizes(), torch::IntArrayRef({1, 2, 96, 128}));
  // Inside the square (x 40..55, y 40..55 in frame 0) the flow is about (+12, 0).
  using torch::indexing::Slice;
  const auto inside = f01.index({0, Slice(), Slice(43, 53), Slice(43, 53)});
  EXPECT_NEAR(inside[0].mean().item<double>(), 12.0, 1.0);
  EXPECT_NEAR(inside[1].mean().item<double>(), 0.0, 1.0);
  // Far from the square the background is still.
  EXPECT_LT(f01.index({0, Slice(), Slice(0, 20), Slice(0, 20)}).abs().max().item<double>(), 0.5);
  // Reduced-resolution flow (max_side 64) is scaled back to full-resolution pixels.
  flow::FlowOptions small;
  small.max_side = 64;
  const auto [g01, g10] = flow::bidirectional_flow(a, b, small);
  EXPECT_EQ(g01.sizes(), f01.sizes());
  EXPECT_NEAR(g01.index({0, 0, Slice(44, 52), Slice(44, 52)}).mean().item<double>(), 12.0, 2.5);
  flow::FlowOptions bad;
  bad.preset = "slow";
  EXPECT_THROW(flow::bidirectional_flow(a, b, bad), InvalidArgument);
}

TEST(FlowGuided, AnUntrainedNetIsFlowWarpingAndPlacesAMovingObjectAtAnyT) {
  // Still pixels off: this test is about the warp (StillOverlaysStay... below is about them).
  auto model = models::create_model("fregan-flow", {{"still_tolerance", 0}});
  infer::Interpolator interpolator(model.generator, torch::kCPU, model.name);
  ASSERT_TRUE(interpolator.supports_any_time());
  const cv::Mat f0 = test::moving_square(128, 96, 40), f1 = test::moving_square(128, 96, 56);
  const double x0 = square_centre_x(f0);
  ASSERT_NEAR(x0, 47.5, 1e-6);
  for (double t : {0.25, 0.5, 0.75}) {
    const cv::Mat mid = interpolator.interpolate(f0, f1, t);
    EXPECT_NEAR(square_centre_x(mid), x0 + 16 * t, 1.0) << "t = " << t;
  }
  // The zero-initialised head leaves exactly the (1 - t) : t blend of the warped frames.
  const auto a = io::image_to_tensor(f0).unsqueeze(0), b = io::image_to_tensor(f1).unsqueeze(0);
  torch::NoGradGuard no_grad;
  model.generator->eval();
  EXPECT_TRUE(torch::allclose(model.generator->forward_at(a, b, 0.3),
                              flow::warp_interpolate(a, b, 0.3, {}, flow::Sampling::Bicubic), 1e-5, 1e-5));
  // Any factor, not only powers of two.
  EXPECT_EQ(interpolator.interpolate_sequence(a[0], b[0], 3).size(), 2u);
}

TEST(FlowGuided, AZeroHeadSkipsTheNetInInferenceAndGivesWhatRunningItGives) {
  // The shipped classical path is the untrained net: in inference its zero head's output is known,
  // so the rest of the net must not run.  Poisoned encoder weights show whether it ran.
  models::FlowGuidedOptions o;
  o.base_channels = 8;
  o.refine_flow = true;
  o.kaiming_init = true;
  o.still_tolerance = 0;
  models::FlowGuidedNet net(o);
  const auto a = io::image_to_tensor(test::moving_square(96, 64, 30)).unsqueeze(0);
  const auto b = io::image_to_tensor(test::moving_square(96, 64, 38)).unsqueeze(0);
  torch::Tensor ran, skipped;
  ran = net->forward_at(a.clone().requires_grad_(true), b, 0.4).detach();  // autograd: the net runs
  {
    torch::NoGradGuard no_grad;
    skipped = net->forward_at(a, b, 0.4);
    for (auto& p : net->named_parameters()) {
      if (p.key().rfind("encoder", 0) == 0) p.value().fill_(std::numeric_limits<float>::quiet_NaN());
    }
    EXPECT_TRUE(torch::isfinite(net->forward_at(a, b, 0.4)).all().item<bool>()) << "the net ran with a zero head";
  }
  EXPECT_LT((ran - skipped).abs().max().item<double>(), 1e-5);
  EXPECT_TRUE(torch::allclose(skipped, flow::warp_interpolate(a, b, 0.4, {}, flow::Sampling::Bicubic), 1e-5, 1e-5));
  // With a head that is not zero the net runs: the poisoned encoder now reaches the output.
  {
    torch::NoGradGuard no_grad;
    for (auto& p : net->named_parameters()) {
      if (p.key().rfind("head", 0) == 0) p.value().fill_(0.01);
    }
    EXPECT_FALSE(torch::isfinite(net->forward_at(a, b, 0.4)).all().item<bool>());
  }
}

TEST(FlowGuided, ShapesAtOddSizesAndWhenTheNetRunsAtReducedResolution) {
  models::FlowGuidedOptions o;
  o.base_channels = 8;
  o.net_max_pixels = 64 * 64;  // forces the downscaled path on 97x131
  models::FlowGuidedNet net(o);
  torch::manual_seed(3);
  // Non-zero head so the net's output matters.
  {
    torch::NoGradGuard no_grad;
    for (auto& p : net->named_parameters()) {
      if (p.key().rfind("head", 0) == 0) p.value().normal_(0, 0.05);
    }
  }
  const auto a = torch::rand({2, 3, 97, 131}), b = torch::rand({2, 3, 97, 131});
  const auto out = net->forward_at(a, b, 0.4);
  EXPECT_EQ(out.sizes(), torch::IntArrayRef({2, 3, 97, 131}));
  EXPECT_TRUE(torch::isfinite(out).all().item<bool>());
  // Gradients reach every layer of the refinement net.
  out.mean().backward();
  for (const auto& p : net->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0.0) << p.key();
  }
  EXPECT_THROW(net->forward_at(a, b, 0.0), c10::Error);
  EXPECT_THROW(models::create_model("fregan-flow", {{"flow", {{"preset", "best"}}}}).generator->forward(a, b),
               InvalidArgument);
  EXPECT_THROW(models::create_model("fregan-flow", {{"levels", 0}}), InvalidArgument);
}

TEST(FlowGuided, TheFusedCpuRendererMatchesTheTensorPath) {
  // Inference on the CPU renders the output in one fused pass; training (autograd) and GPUs use
  // tensor ops.  Both must give the same frame: a non-zero head with flow corrections, the net at
  // reduced resolution, DIS at reduced resolution, a batch of 2, several t at once, both samplings.
  for (const std::string sampling : {"bilinear", "bicubic"}) {
    models::FlowGuidedOptions o;
    o.base_channels = 8;
    o.refine_flow = true;
    o.net_max_pixels = 64 * 64;
    o.flow.max_side = 96;
    o.sampling = sampling;
    models::FlowGuidedNet net(o);
    torch::manual_seed(5);
    {
      torch::NoGradGuard no_grad;
      for (auto& p : net->named_parameters()) {
        if (p.key().rfind("head", 0) == 0) p.value().normal_(0, 0.2);
      }
    }
    net->eval();
    const auto a = torch::rand({2, 3, 101, 143}), b = torch::rand({2, 3, 101, 143});
    std::vector<torch::Tensor> fused;
    {
      torch::NoGradGuard no_grad;
      fused = net->forward_times(a, b, {0.3, 0.5});
    }
    ASSERT_EQ(fused.size(), 2u);
    for (size_t i = 0; i < fused.size(); ++i) {
      const double t = i == 0 ? 0.3 : 0.5;
      const auto reference = net->forward_at(a.clone().requires_grad_(true), b, t).detach();  // autograd: tensor path
      EXPECT_EQ(fused[i].sizes(), reference.sizes());
      EXPECT_LT((fused[i] - reference).abs().max().item<double>(), 1e-4) << sampling << ", t = " << t;
      EXPECT_GT((fused[i] - flow::warp_interpolate(a, b, t, o.flow, flow::sampling_from_name(sampling)))
                    .abs()
                    .max()
                    .item<double>(),
                1e-2)
          << "the head must matter in this test";
    }
  }
  EXPECT_THROW(models::create_model("fregan-flow", {{"sampling", "nearest"}}), InvalidArgument);
}

TEST(FlowGuided, AFrameSharedByTwoPairsIsPreparedOnceAndNeverServedStale) {
  // In a video each frame is in two pairs, and the net keeps what it derived from the last few
  // frames.  Whatever it keeps, every output must equal a fresh net's: for a chain of pairs, for
  // the same frame changed in place, and for a new frame in freed memory.
  models::FlowGuidedOptions o;
  o.base_channels = 8;
  o.refine_flow = true;
  o.net_max_pixels = 64 * 64;
  o.flow.max_side = 64;
  torch::manual_seed(9);
  models::FlowGuidedNet net(o);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : net->named_parameters()) {
      if (p.key().rfind("head", 0) == 0) p.value().normal_(0, 0.2);
    }
  }
  net->eval();
  auto fresh = [&](const torch::Tensor& a, const torch::Tensor& b) {
    models::FlowGuidedNet other(o);
    torch::NoGradGuard no_grad;
    for (auto& p : other->named_parameters()) p.value().copy_(net->named_parameters()[p.key()]);
    other->eval();
    return other->forward(a, b);
  };
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> frames;
  for (int i = 0; i < 4; ++i) frames.push_back(torch::rand({1, 3, 90, 120}));
  for (int i = 0; i + 1 < 4; ++i) {
    EXPECT_TRUE(torch::equal(net->forward(frames[i], frames[i + 1]), fresh(frames[i], frames[i + 1]))) << "pair " << i;
  }
  // The same tensor, changed in place.
  const auto before = net->forward(frames[2], frames[3]);
  frames[3].mul_(0.5);
  const auto after = net->forward(frames[2], frames[3]);
  EXPECT_TRUE(torch::equal(after, fresh(frames[2], frames[3])));
  EXPECT_GT((after - before).abs().max().item<double>(), 1e-3);
  // A frame freed and a new one made, likely in the same memory.
  frames[3] = torch::Tensor();
  frames[3] = torch::rand({1, 3, 90, 120});
  EXPECT_TRUE(torch::equal(net->forward(frames[2], frames[3]), fresh(frames[2], frames[3])));
  // Views of one frame (what the Interpolator passes) and a different size.
  const auto view = frames[1][0].unsqueeze(0);
  EXPECT_TRUE(torch::equal(net->forward(view, frames[2]), fresh(frames[1], frames[2])));
  const auto small0 = torch::rand({1, 3, 40, 50}), small1 = torch::rand({1, 3, 40, 50});
  EXPECT_TRUE(torch::equal(net->forward(small0, small1), fresh(small0, small1)));
}

TEST(FlowGuided, FlowRefinementStartsAsWarpingAndMovesTheWarp) {
  models::FlowGuidedOptions o;
  o.base_channels = 8;
  o.refine_flow = true;
  models::FlowGuidedNet net(o);
  const auto a = io::image_to_tensor(test::moving_square(128, 96, 40)).unsqueeze(0);
  const auto b = io::image_to_tensor(test::moving_square(128, 96, 56)).unsqueeze(0);
  {
    torch::NoGradGuard no_grad;
    // Zero head: exactly flow warping, as without refinement.
    EXPECT_TRUE(torch::allclose(net->forward_at(a, b, 0.5),
                                flow::warp_interpolate(a, b, 0.5, {}, flow::Sampling::Bicubic), 1e-5, 1e-5));
    // On a still scene (zero flow), a constant correction of +1 flow unit in x for F_t0 (bias of
    // head channel 4), with the mask forced to frame 0, samples frame 0 flow_unit net pixels (= 16
    // full-resolution pixels: the net runs at full resolution here) further right.
    auto head = *net->named_parameters().find("head.bias");  // shares the parameter's storage
    head.zero_();
    head[0] = 30.0;  // mask logit: all weight on warped frame 0
    const auto before = net->forward_at(a, a, 0.5);
    ASSERT_TRUE(torch::allclose(before, a, 1e-5, 1e-5));
    head[4] = 1.0;
    const auto after = net->forward_at(a, a, 0.5);
    using torch::indexing::Slice;
    // Shifting `before` left by 16 px gives `after` away from the borders.
    EXPECT_TRUE(torch::allclose(after.index({Slice(), Slice(), Slice(), Slice(0, 100)}),
                                before.index({Slice(), Slice(), Slice(), Slice(16, 116)}), 1e-4, 1e-4));
  }
  // Old checkpoints' options (no refine_flow key) keep the 4-output head.
  const auto old = models::create_model("fregan-flow", {{"base_channels", 8}});
  EXPECT_EQ(old.generator->named_parameters().find("head.weight")->size(0), 4);
  EXPECT_EQ(net->named_parameters().find("head.weight")->size(0), 8);
}

TEST(Interpolator, MiddleFrameModelsRefuseNonDyadicTimes) {
  auto model = models::create_model("fregan", {{"base_channels", 4}, {"max_channels", 8}, {"levels", 2}});
  infer::Interpolator interpolator(model.generator, torch::kCPU, model.name);
  EXPECT_FALSE(interpolator.supports_any_time());
  const auto a = torch::rand({3, 16, 16}), b = torch::rand({3, 16, 16});
  EXPECT_EQ(interpolator.interpolate_times(a, b, {0.25, 0.5, 0.75}).size(), 3u);
  EXPECT_THROW(interpolator.interpolate_sequence(a, b, 3), InvalidArgument);
  EXPECT_THROW(interpolator.interpolate(a, b, 0.3), InvalidArgument);
}

TEST(FlowGuided, KaimingInitKeepsTheFeaturesThatReachTheHeadAlive) {
  // With LibTorch's default initialisation each convolution shrinks its activations, so the
  // features reaching the (zero) head, and with them the head's first gradients, nearly vanish.
  // The gradient of the head's weights is sum(features x output gradient): compare its norm.
  const auto a = torch::rand({2, 3, 64, 64}), b = torch::rand({2, 3, 64, 64}), truth = torch::rand({2, 3, 64, 64});
  auto head_gradient = [&](bool kaiming) {
    models::FlowGuidedOptions o;
    o.kaiming_init = kaiming;
    torch::manual_seed(0);
    models::FlowGuidedNet net(o);
    (net->forward_at(a, b, 0.5) - truth).abs().mean().backward();
    return net->named_parameters().find("head.weight")->grad().norm().item<double>();
  };
  const double plain = head_gradient(false), kaiming = head_gradient(true);
  EXPECT_GT(kaiming, 5 * plain) << "default " << plain << ", kaiming " << kaiming;
  // Both start as warping: the head is zero either way.
  models::FlowGuidedOptions o;
  o.kaiming_init = true;
  o.motion_inputs = true;
  models::FlowGuidedNet net(o);
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::allclose(net->forward_at(a, b, 0.5),
                              flow::warp_interpolate(a, b, 0.5, {}, flow::Sampling::Bicubic), 1e-5, 1e-5));
  // motion_inputs adds four input channels; checkpoints without the key keep 19.
  EXPECT_EQ(net->named_parameters().find("encoder.0.0.weight")->size(1), 23);
  EXPECT_EQ(models::create_model("fregan-flow").generator->named_parameters().find("encoder.0.0.weight")->size(1), 19);
}

TEST(FlowGuided, TilingIsRefusedAndFramesBeyondMemoryAreRefusedBeforeTheWork) {
  auto model = models::create_model("fregan-flow");
  infer::Interpolator interp(model.generator, torch::kCPU, model.name);
  const std::string tile = test::invalid_argument_message([&] { interp.set_tiling({512, 128}); });
  EXPECT_NE(tile.find("--tile does not work with fregan-flow: its optical flow needs the whole frame"),
            std::string::npos)
      << tile;
  EXPECT_EQ(interp.tiling().tile, 0);
  EXPECT_EQ(interp.estimated_bytes(30000, 30000), int64_t{60} * 30000 * 30000);  // 54 GB: the 2.6 MB PNG pair
  // A flow model cannot tile its way out: refused, naming the size, the figures and the fix.
  setenv("FREGAN_MEMORY_LIMIT_BYTES", "2000000", 1);  // 2 MB; a 256x256 pair needs 60 * 65536 = 3.9 MB
  const cv::Mat f0 = test::moving_square(256, 256, 40), f1 = test::moving_square(256, 256, 56);
  const std::string memory = test::invalid_argument_message([&] { interp.interpolate(f0, f1); });
  unsetenv("FREGAN_MEMORY_LIMIT_BYTES");
  EXPECT_NE(
      memory.find("interpolating 256x256 frames with fregan-flow needs about 4 MB of memory and this machine has 2 MB "
                  "available: downscale the input first"),
      std::string::npos)
      << memory;
  EXPECT_NO_THROW(interp.interpolate(f0, f1));  // within memory again
}

namespace {

// A pan over a smooth random texture (the background moves `pan` px to the left between the
// frames) under a still overlay: white bars 3 px wide with a 1 px black outline, like burned-in
// text.  `overlay` is set where the overlay is.
std::pair<torch::Tensor, torch::Tensor> pan_under_overlay(int64_t width, int64_t height, int64_t pan,
                                                          torch::Tensor* overlay) {
  torch::manual_seed(11);
  namespace F = torch::nn::functional;
  const auto texture = F::interpolate(torch::rand({1, 3, height / 6, (width + pan) / 6}),
                                      F::InterpolateFuncOptions()
                                          .size(std::vector<int64_t>{height, width + pan})
                                          .mode(torch::kBicubic)
                                          .align_corners(false))
                           .clamp(0, 1);
  using torch::indexing::Slice;
  auto f0 = texture.index({Slice(), Slice(), Slice(), Slice(0, width)}).clone();
  auto f2 = texture.index({Slice(), Slice(), Slice(), Slice(pan, width + pan)}).clone();
  auto mask = torch::zeros({1, 1, height, width});
  for (int64_t k = 0; k < 6; ++k) {
    const int64_t x = 30 + 9 * k;
    mask.index_put_({Slice(), Slice(), Slice(height - 30, height - 8), Slice(x - 1, x + 4)}, 1.0);
  }
  for (auto* f : {&f0, &f2}) {
    *f = torch::where(mask.to(torch::kBool), torch::zeros_like(*f), *f);  // the outline
    for (int64_t k = 0; k < 6; ++k) {
      const int64_t x = 30 + 9 * k;
      f->index_put_({Slice(), Slice(), Slice(height - 29, height - 9), Slice(x, x + 3)}, 1.0);
    }
  }
  *overlay = mask[0][0].to(torch::kBool);
  return {f0, f2};
}

}  // namespace

TEST(FlowGuided, StillOverlaysStayExactlyWhileTheBackgroundMoves) {
  // A pan under burned-in "text": DIS gives the text the background's motion, and warping by it
  // smears the text (the shimmer of static overlays).  Still pixels keep the text exactly and
  // leave the moving background as the flows render it.
  torch::Tensor overlay;
  const auto [a, b] = pan_under_overlay(160, 96, 6, &overlay);
  auto with_still = models::create_model("fregan-flow");
  auto without = models::create_model("fregan-flow", {{"still_tolerance", 0}});
  torch::NoGradGuard no_grad;
  for (double t : {0.5, 0.25}) {
    const auto kept = with_still.generator->forward_at(a, b, t)[0];
    const auto warped = without.generator->forward_at(a, b, t)[0];
    const auto exact = ((1 - t) * a + t * b)[0];  // = a = b on the overlay
    const auto on_overlay = [&](const torch::Tensor& x) { return (x - exact).abs().amax(0).masked_select(overlay); };
    // The premise: without still pixels the overlay is visibly off.
    EXPECT_GT(on_overlay(warped).mean().item<double>(), 0.02) << "t = " << t;
    // With them, all but a few outline pixels (where the flow there happens to explain them) are exact.
    const auto errors = on_overlay(kept);
    EXPECT_GT(errors.le(1e-6).to(torch::kFloat).mean().item<double>(), 0.95) << "t = " << t;
    EXPECT_LT(errors.mean().item<double>(), 0.1 * on_overlay(warped).mean().item<double>()) << "t = " << t;
    // Away from the overlay the moving background is left to the flows: identical output.
    namespace F = torch::nn::functional;
    const auto near_overlay = F::max_pool2d(overlay.to(torch::kFloat).view({1, 1, 96, 160}),
                                            F::MaxPool2dFuncOptions(17).stride(1).padding(8))[0][0]
                                  .to(torch::kBool);
    const auto far = (kept - warped).abs().amax(0).masked_select(near_overlay.logical_not());
    EXPECT_GT(far.le(1e-6).to(torch::kFloat).mean().item<double>(), 0.995) << "t = " << t;
  }
  // The fused CPU renderer and the tensor path (autograd) decide the same pixels.
  const auto fused = with_still.generator->forward_at(a, b, 0.5);
  torch::Tensor reference;
  {
    torch::AutoGradMode grad(true);
    reference = with_still.generator->forward_at(a.clone().requires_grad_(true), b, 0.5).detach();
  }
  const auto differs = (fused - reference).abs().amax(1).gt(1e-4).to(torch::kFloat).mean().item<double>();
  EXPECT_LT(differs, 5e-4);
}

TEST(FlowGuided, StillPixelsDoNotEraseAFastObjectPassingOverAStillBackground) {
  // A square jumping 1.5 times its size per frame over a still textured background: at t = 0.5
  // its middle third is where both frames show the background.  Those pixels agree, yet the
  // square passes over them: they must not be taken for still ones.
  const cv::Mat f0 = test::moving_square(160, 64, 30), f1 = test::moving_square(160, 64, 54);
  auto with_still = models::create_model("fregan-flow");
  auto without = models::create_model("fregan-flow", {{"still_tolerance", 0}});
  infer::Interpolator kept(with_still.generator, torch::kCPU, with_still.name);
  infer::Interpolator warped(without.generator, torch::kCPU, without.name);
  const cv::Mat a = kept.interpolate(f0, f1, 0.5), b = warped.interpolate(f0, f1, 0.5);
  ASSERT_NEAR(square_centre_x(b), 30 + 12 + 7.5, 2.0)
      << "the flows must place the square for this test to mean anything";
  EXPECT_NEAR(square_centre_x(a), square_centre_x(b), 0.25);
  const cv::Rect gap(46, 24, 8, 16);  // background in both frames, the square's middle at t = 0.5
  EXPECT_LT(cv::norm(a(gap), b(gap), cv::NORM_L1) / gap.area() / 3, 1.0);
}

TEST(FlowGuided, AlphaMovesWithTheColour) {
  // A sprite: an opaque square on a transparent background, moving 12 px.  Warped with the
  // colour's flows its alpha is one opaque square at the middle position; a blend at t would leave
  // two half-opaque copies (127 where only one frame has the square).
  auto sprite = [](int x0) {
    cv::Mat alpha(64, 96, CV_8UC1, cv::Scalar(0));
    alpha(cv::Rect(x0, 24, 16, 16)).setTo(255);
    return io::with_alpha(test::moving_square(96, 64, x0), alpha);
  };
  auto model = models::create_model("fregan-flow");
  infer::Interpolator interpolator(model.generator, torch::kCPU, model.name);
  ASSERT_TRUE(interpolator.warps_alpha());
  const cv::Mat mid = interpolator.interpolate(sprite(20), sprite(32), 0.5);
  ASSERT_EQ(mid.type(), CV_8UC4);
  const cv::Mat colour = io::colour_of(mid), alpha = io::alpha_of(mid);
  ASSERT_NEAR(square_centre_x(colour), 26 + 7.5, 1.0)
      << "the flows must place the square for this test to mean anything";
  // The colour is what the colour alone gives.
  EXPECT_EQ(cv::norm(colour, interpolator.interpolate(io::colour_of(sprite(20)), io::colour_of(sprite(32)), 0.5),
                     cv::NORM_INF),
            0);
  double sum = 0, weighted = 0;
  for (int y = 0; y < alpha.rows; ++y) {
    for (int x = 0; x < alpha.cols; ++x) {
      sum += alpha.at<uint8_t>(y, x);
      weighted += x * static_cast<double>(alpha.at<uint8_t>(y, x));
    }
  }
  EXPECT_NEAR(weighted / sum, 26 + 7.5, 1.0);                    // the alpha's centre is the colour's
  EXPECT_NEAR(sum / 255, 16 * 16, 16 * 16 / 8);                  // one square's worth of opacity, not two halves of two
  EXPECT_GT(cv::mean(alpha(cv::Rect(28, 26, 12, 12)))[0], 240);  // the square at t is opaque
  // Where only one frame had the square and the square at t is not: transparent (the blend: 127).
  EXPECT_LT(cv::mean(alpha(cv::Rect(20, 26, 4, 12)))[0], 30);
  EXPECT_LT(cv::mean(alpha(cv::Rect(44, 26, 4, 12)))[0], 30);
}
