#include <cmath>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>

#include "fregan/error.h"
#include "fregan/losses/losses.h"
#include "fregan/metrics/metrics.h"

using namespace fregan;

TEST(Losses, SmoothL1MatchesHandComputedValues) {
  // Errors on [0, 1]: 0.1 and 0.5 -> on the [-1, 1] scale 0.2 and 1.0.  beta = 0.5:
  // 0.2 < beta -> 0.5 * 0.04 / 0.5 = 0.04 ; 1.0 >= beta -> 1.0 - 0.25 = 0.75 ; mean = 0.395.
  const auto pred = torch::tensor({0.6f, 1.0f}), target = torch::tensor({0.5f, 0.5f});
  EXPECT_NEAR(losses::smooth_l1(pred, target, 0.5).item<double>(), 0.395, 1e-6);
  EXPECT_NEAR(losses::smooth_l1(target, target, 0.5).item<double>(), 0.0, 1e-12);
  EXPECT_THROW(losses::smooth_l1(pred, torch::zeros({3}), 0.5), c10::Error);
}

TEST(Losses, BinaryCrossEntropyWithSoftTargets) {
  // x = 0: -(y log .5 + (1-y) log .5) = log 2 for any y.  x = 2, y = 1.1:
  // 1.1 * log(1 + e^-2) + (-0.1) * (2 + log(1 + e^-2)) = log(1 + e^-2) - 0.2.
  EXPECT_NEAR(losses::bce_with_logits(torch::zeros({4}), torch::full({4}, 0.9)).item<double>(), std::log(2.0), 1e-6);
  const double expected = std::log1p(std::exp(-2.0)) - 0.2;
  EXPECT_NEAR(losses::bce_with_logits(torch::full({1}, 2.0), torch::full({1}, 1.1)).item<double>(), expected, 1e-6);
  // Generator term: -log sigmoid(x).
  EXPECT_NEAR(losses::generator_adversarial_loss(torch::full({2}, 1.0)).item<double>(), std::log1p(std::exp(-1.0)),
              1e-6);
}

TEST(Losses, DiscriminatorLabelSmoothingStaysInItsRanges) {
  // With degenerate ranges the loss is exact: targets 0.8 (real) and 0.2 (fake) at logits 0 and 0.
  losses::LabelSmoothing fixed{0.8, 0.8, 0.2, 0.2};
  EXPECT_NEAR(losses::discriminator_loss(torch::zeros({5}), torch::zeros({5}), fixed).item<double>(), std::log(2.0),
              1e-6);
  // Real logits of 3: the loss is linear in the target, so its mean over U[0.7, 1.1] lies between
  // the losses at the range ends.
  const auto logits = torch::full({20000}, 3.0);
  const auto lo = losses::bce_with_logits(logits, torch::full({1}, 1.1)).item<double>();
  const auto hi = losses::bce_with_logits(logits, torch::full({1}, 0.7)).item<double>();
  torch::manual_seed(1);
  const double d = losses::discriminator_loss(logits, torch::full({20000}, -3.0)).item<double>();
  // fake part at logit -3 with targets in [0, 0.3]: symmetric to the real part at +3 with [0.7, 1.0].
  const double fake_lo = losses::bce_with_logits(torch::full({1}, -3.0), torch::full({1}, 0.0)).item<double>();
  const double fake_hi = losses::bce_with_logits(torch::full({1}, -3.0), torch::full({1}, 0.3)).item<double>();
  EXPECT_GT(d, (lo + fake_lo) / 2);
  EXPECT_LT(d, (hi + fake_hi) / 2);
  EXPECT_NEAR(d, ((lo + hi) / 2 + (fake_lo + fake_hi) / 2) / 2, 2e-3);  // uniform targets: the midpoints
}

TEST(Metrics, PsnrOfAKnownError) {
  const auto a = torch::zeros({1, 3, 16, 16}), b = torch::full({1, 3, 16, 16}, 0.1);
  EXPECT_NEAR(metrics::psnr(a, b).item<double>(), 20.0, 1e-5);  // 10 log10(1 / 0.01); inputs are float32
  cv::Mat x(16, 16, CV_8UC3, cv::Scalar(100, 100, 100)), y(16, 16, CV_8UC3, cv::Scalar(110, 110, 110));
  EXPECT_NEAR(metrics::psnr(x, y), 10 * std::log10(255.0 * 255.0 / 100.0), 1e-5);
  EXPECT_TRUE(std::isinf(metrics::psnr(a, a).item<double>()));
}

TEST(Metrics, SsimIsOneForIdenticalImagesAndFallsWithNoise) {
  torch::manual_seed(0);
  const auto img = torch::rand({1, 3, 40, 40}) * 0.5 + torch::linspace(0, 0.5, 40).view({1, 1, 1, 40});
  EXPECT_NEAR(metrics::ssim(img, img).item<double>(), 1.0, 1e-12);
  double previous = 1.0;
  for (double sigma : {0.02, 0.05, 0.1, 0.2}) {
    const double s = metrics::ssim(img, (img + sigma * torch::randn_like(img)).clamp(0, 1)).item<double>();
    EXPECT_LT(s, previous) << sigma;
    previous = s;
  }
  // A constant image against a constant offset: only the luminance term is < 1:
  // (2 mu_x mu_y + C1) / (mu_x^2 + mu_y^2 + C1).
  const auto c1 = std::pow(0.01, 2);
  const auto p = torch::full({1, 1, 11, 11}, 0.5), q = torch::full({1, 1, 11, 11}, 0.7);
  EXPECT_NEAR(metrics::ssim(p, q).item<double>(), (2 * 0.5 * 0.7 + c1) / (0.25 + 0.49 + c1), 1e-7);
  EXPECT_THROW(metrics::ssim(torch::rand({1, 3, 8, 8}), torch::rand({1, 3, 8, 8})), c10::Error);
}

TEST(Metrics, MsSsimIsOneForIdenticalImagesAndFallsMonotonicallyWithNoise) {
  torch::manual_seed(0);
  // 200x200 has 5 scales (the coarsest 12x12).
  const auto img = torch::rand({2, 3, 200, 200}) * 0.5 + torch::linspace(0, 0.5, 200).view({1, 1, 1, 200});
  const auto same = metrics::ms_ssim(img, img);
  EXPECT_EQ(same.sizes(), torch::IntArrayRef({2}));
  EXPECT_NEAR(same[0].item<double>(), 1.0, 1e-6);
  double previous = 1.0;
  for (double sigma : {0.01, 0.03, 0.1, 0.3}) {
    const double s = metrics::ms_ssim(img, (img + sigma * torch::randn_like(img)).clamp(0, 1))[0].item<double>();
    EXPECT_LT(s, previous) << sigma;
    EXPECT_GT(s, 0.0) << sigma;
    previous = s;
  }
}

TEST(Metrics, MsSsimOfSmallImagesUsesFewerScales) {
  // 11..21 pixels: one scale, so MS-SSIM is plain SSIM (weight renormalised to 1).
  torch::manual_seed(1);
  const auto a = torch::rand({1, 1, 15, 17}, torch::kFloat64), b = (a + 0.05 * torch::randn_like(a)).clamp(0, 1);
  EXPECT_NEAR(metrics::ms_ssim(a, b).item<double>(), metrics::ssim(a, b).item<double>(), 1e-12);
  // 97x131 (3 scales: 97 -> 48 -> 24) does not crash and stays in (0, 1].
  const auto c = torch::rand({1, 3, 97, 131}), d = (c + 0.1 * torch::randn_like(c)).clamp(0, 1);
  const double s = metrics::ms_ssim(c, d).item<double>();
  EXPECT_GT(s, 0.0);
  EXPECT_LT(s, 1.0);
  EXPECT_THROW(metrics::ms_ssim(torch::rand({1, 1, 10, 40}), torch::rand({1, 1, 10, 40})), c10::Error);
}

TEST(Losses, MsSsimLossHasAFiniteGradientAtIdenticalInputs) {
  torch::manual_seed(2);
  const auto target = torch::rand({1, 3, 64, 64});
  auto prediction = target.clone().requires_grad_(true);
  const auto loss = losses::ms_ssim_loss(prediction, target);
  EXPECT_NEAR(loss.item<double>(), 0.0, 1e-5);
  loss.backward();
  EXPECT_TRUE(torch::isfinite(prediction.grad()).all().item<bool>());
  // Away from the optimum the gradient is finite, non-zero, and a small step along it lowers the loss.
  auto noisy = (target + 0.1 * torch::randn_like(target)).clamp(0.01, 0.99).detach().requires_grad_(true);
  const auto l0 = losses::ms_ssim_loss(noisy, target);
  l0.backward();
  const auto g = noisy.grad();
  EXPECT_TRUE(torch::isfinite(g).all().item<bool>());
  EXPECT_GT(g.abs().sum().item<double>(), 0.0);
  torch::NoGradGuard no_grad;
  const auto stepped = noisy - 1e-2 * g / g.abs().max();
  EXPECT_LT(losses::ms_ssim_loss(stepped, target).item<double>(), l0.item<double>());
}

TEST(Losses, L1AndClippingMatchHandComputedValues) {
  // |0.6-0.5| and |1.0-0.5| -> mean 0.3 (= mean |p - t| / 255 on the 0-255 scale).
  const auto pred = torch::tensor({0.6f, 1.0f}), target = torch::tensor({0.5f, 0.5f});
  EXPECT_NEAR(losses::l1(pred, target).item<double>(), 0.3, 1e-6);
  // Values -0.2, 0.5, 1.3: clipped 0, 0.5, 1 -> squared differences 0.04, 0, 0.09 -> mean 13/300.
  EXPECT_NEAR(losses::clipping_loss(torch::tensor({-0.2f, 0.5f, 1.3f})).item<double>(), 0.13 / 3, 1e-6);
  // The weighted sum lists each unweighted term.
  losses::GeneratorLossWeights w;
  w.l1 = 2.0;
  w.clipping = 10.0;
  const auto terms =
      losses::reconstruction_loss(torch::tensor({-0.2f, 0.5f, 1.3f}), torch::tensor({0.0f, 0.5f, 1.0f}), w);
  ASSERT_EQ(terms.terms.size(), 2u);
  EXPECT_EQ(terms.terms[0].first, "l1");
  EXPECT_NEAR(terms.total.item<double>(), 2.0 * (0.5 / 3) + 10.0 * (0.13 / 3), 1e-6);
}

TEST(Losses, LossWeightsReadStrictlyFromJson) {
  const auto w = nlohmann::json{{"l1", 1.0}, {"ms_ssim", 0.5}}.get<losses::GeneratorLossWeights>();
  EXPECT_EQ(w.l1, 1.0);
  EXPECT_EQ(w.ms_ssim, 0.5);
  EXPECT_EQ(w.adversarial, 0.0);
  EXPECT_THROW((nlohmann::json{{"ms-ssim", 1.0}}.get<losses::GeneratorLossWeights>()), InvalidArgument);
}

TEST(Losses, HingeLossesMatchHandComputedValues) {
  const auto real = torch::tensor({2.0, 0.5, -1.0}), fake = torch::tensor({-2.0, 0.0, 1.0});
  // relu(1 - real) = 0, 0.5, 2 -> 5/6; relu(1 + fake) = 0, 1, 2 -> 1.
  EXPECT_NEAR(losses::hinge_discriminator_loss(real, fake).item<double>(), 5.0 / 6.0 + 1.0, 1e-6);
  EXPECT_NEAR(losses::hinge_generator_loss(fake).item<double>(), 1.0 / 3.0, 1e-6);
}

TEST(Losses, R1PenaltyOfLinearAndQuadraticCriticsAndItsGradient) {
  // D(x) = w . x: the gradient at every sample is w, so the penalty is |w|^2 = 14.
  const auto w = torch::tensor({1.0, 2.0, 3.0}, torch::kFloat64);
  auto x = torch::tensor({{0.5, -1.0, 2.0}, {3.0, 0.0, 1.0}}, torch::kFloat64).requires_grad_(true);
  EXPECT_NEAR(losses::r1_penalty((x * w).sum(1), x).item<double>(), 14.0, 1e-12);
  // D(x) = a |x|^2: the gradient is 2 a x; with a = 1.5 the penalty is 9 |x|^2 averaged over the
  // batch, (9 * 5 + 9 * 9) / 2 = 63, and its derivative in a is 8 a * mean |x|^2 = 84.
  auto a = torch::tensor(1.5, torch::kFloat64).requires_grad_(true);
  auto y = torch::tensor({{1.0, 2.0, 0.0}, {0.0, 0.0, 3.0}}, torch::kFloat64).requires_grad_(true);
  const auto penalty = losses::r1_penalty(a * y.pow(2).sum(1), y);
  EXPECT_NEAR(penalty.item<double>(), 63.0, 1e-12);
  penalty.backward();
  EXPECT_NEAR(a.grad().item<double>(), 84.0, 1e-12);
  EXPECT_THROW(losses::r1_penalty(torch::ones({2}), torch::ones({2})), InvalidArgument);
}

TEST(Metrics, YChannelScoresCropTheBorderAndUseBt601) {
  // White -> Y 235, black -> 16 (MATLAB's rgb2ycbcr), pure red -> 16 + 65.481.
  const auto rgb = torch::tensor({1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0}, torch::kFloat64).view({3, 3, 1, 1});
  const auto y = metrics::rgb_to_y601(rgb);
  EXPECT_NEAR(y[0].item<double>(), 235.0, 1e-9);
  EXPECT_NEAR(y[1].item<double>(), 16.0, 1e-9);
  EXPECT_NEAR(y[2].item<double>(), 16.0 + 65.481, 1e-9);
  // Black against red inside the 4-pixel border: Y differs by 65.481 everywhere scored, so
  // PSNR = 20 log10(255 / 65.481) = 11.808 dB (RGB PSNR would be 10 log10(3) = 4.77 dB).
  const cv::Mat black(24, 32, CV_8UC3, cv::Scalar(0, 0, 0));
  cv::Mat red = black.clone();
  red(cv::Rect(4, 4, 24, 16)).setTo(cv::Scalar(0, 0, 255));
  EXPECT_NEAR(metrics::psnr_y(black, red), 20 * std::log10(255.0 / 65.481), 1e-6);
  // The same difference only in the border: cropped away.
  cv::Mat edge = black.clone();
  edge(cv::Rect(0, 0, 32, 4)).setTo(cv::Scalar(0, 0, 255));
  EXPECT_TRUE(std::isinf(metrics::psnr_y(black, edge)));
  EXPECT_FALSE(std::isinf(metrics::psnr_y(black, edge, 0)));
  EXPECT_NEAR(metrics::ssim_y(red, red), 1.0, 1e-9);
  EXPECT_LT(metrics::ssim_y(black, red), 0.5);
  EXPECT_THROW(metrics::psnr_y(black, red, 12), InvalidArgument);
}

TEST(Metrics, SharpnessIsTheLumaGradientOverTheTruths) {
  // Grey ramps: every pixel's luma gradient is the ramp's slope times 219/255, so a ramp half as
  // steep as the truth's has exactly half its sharpness, and a frame with the truth's own edges 1.
  cv::Mat steep(20, 40, CV_8UC3), gentle(20, 40, CV_8UC3);
  for (int x = 0; x < 40; ++x) {
    steep.col(x).setTo(cv::Scalar::all(4 * x));
    gentle.col(x).setTo(cv::Scalar::all(2 * x));
  }
  EXPECT_NEAR(metrics::sharpness_y(gentle, steep), 0.5, 1e-9);
  EXPECT_NEAR(metrics::sharpness_y(steep, steep), 1.0, 1e-12);
  // A blurred copy of a striped frame has less detail than the stripes.
  cv::Mat stripes(32, 32, CV_8UC3, cv::Scalar::all(40)), blurred;
  for (int x = 0; x < 32; x += 4) stripes.colRange(x, x + 2).setTo(cv::Scalar::all(200));
  cv::GaussianBlur(stripes, blurred, cv::Size(5, 5), 1.5);
  EXPECT_LT(metrics::sharpness_y(blurred, stripes), 0.7);
  EXPECT_THROW(metrics::sharpness_y(steep, cv::Mat(20, 40, CV_8UC3, cv::Scalar::all(9))), InvalidArgument);
}
