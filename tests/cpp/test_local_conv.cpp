#include <gtest/gtest.h>
#include <torch/torch.h>

#include <vector>

#include "fregan/error.h"
#include "fregan/ops/local_conv.h"

using namespace fregan;
using ops::LocalConvBackend;
using torch::indexing::Slice;

namespace {

const std::vector<LocalConvBackend> kBackends = {LocalConvBackend::kLoop, LocalConvBackend::kSlices};

// Central finite differences of sum(op(x) * probe) with respect to every element of `x`, compared
// with the analytic gradient autograd returns for the same scalar.
void expect_gradient_matches_finite_differences(const std::function<torch::Tensor()>& loss, torch::Tensor& x,
                                                const char* what) {
  x.mutable_grad() = torch::Tensor();
  loss().backward();
  const auto analytic = x.grad().clone();
  const double eps = 1e-6;
  auto numeric = torch::zeros_like(x);
  torch::NoGradGuard no_grad;
  auto flat = x.view(-1);
  auto nflat = numeric.view(-1);
  for (int64_t i = 0; i < flat.numel(); ++i) {
    const double orig = flat[i].item<double>();
    flat[i] = orig + eps;
    const double up = loss().item<double>();
    flat[i] = orig - eps;
    const double down = loss().item<double>();
    flat[i] = orig;
    nflat[i] = (up - down) / (2 * eps);
  }
  EXPECT_TRUE(torch::allclose(analytic, numeric, 1e-6, 1e-7))
      << what << ": max |analytic - numeric| = " << (analytic - numeric).abs().max().item<double>();
}

}  // namespace

TEST(LocalConv, SeparableGradientsMatchFiniteDifferencesOnBothBackends) {
  torch::manual_seed(1);
  const int64_t B = 2, C = 2, H = 3, W = 4, K = 3;
  const auto opts = torch::TensorOptions().dtype(torch::kFloat64);
  for (const auto backend : kBackends) {
    auto in = torch::rand({B, C, H + K - 1, W + K - 1}, opts).requires_grad_();
    auto v = torch::randn({B, K, H, W}, opts).requires_grad_();
    auto h = torch::randn({B, K, H, W}, opts).requires_grad_();
    const auto probe = torch::randn({B, C, H, W}, opts);  // a generic upstream gradient
    auto loss = [&] { return (ops::local_separable_conv(in, v, h, backend) * probe).sum(); };
    expect_gradient_matches_finite_differences(loss, in, "input");
    expect_gradient_matches_finite_differences(loss, v, "vertical");
    expect_gradient_matches_finite_differences(loss, h, "horizontal");
  }
}

TEST(LocalConv, Conv2dGradientsMatchFiniteDifferencesOnBothBackends) {
  torch::manual_seed(2);
  const int64_t B = 1, C = 3, H = 4, W = 3, K = 3;
  const auto opts = torch::TensorOptions().dtype(torch::kFloat64);
  for (const auto backend : kBackends) {
    auto in = torch::rand({B, C, H + K - 1, W + K - 1}, opts).requires_grad_();
    auto k = torch::randn({B, K * K, H, W}, opts).requires_grad_();
    const auto probe = torch::randn({B, C, H, W}, opts);
    auto loss = [&] { return (ops::local_conv2d(in, k, backend) * probe).sum(); };
    expect_gradient_matches_finite_differences(loss, in, "input");
    expect_gradient_matches_finite_differences(loss, k, "kernels");
  }
}

TEST(LocalConv, BackendsAndTheUnfoldReferenceAgreeInValueAndGradient) {
  torch::manual_seed(3);
  const int64_t B = 2, C = 3, H = 7, W = 9, K = 5;
  auto in = torch::rand({B, C, H + K - 1, W + K - 1}).requires_grad_();
  auto v = torch::randn({B, K, H, W}).requires_grad_();
  auto h = torch::randn({B, K, H, W}).requires_grad_();
  const auto probe = torch::randn({B, C, H, W});
  std::vector<std::vector<torch::Tensor>> results;
  for (int mode = 0; mode < 3; ++mode) {
    for (auto* t : {&in, &v, &h}) t->mutable_grad() = torch::Tensor();
    const auto out =
        mode == 2 ? ops::local_separable_conv_unfold(in, v, h) : ops::local_separable_conv(in, v, h, kBackends[mode]);
    (out * probe).sum().backward();
    results.push_back({out.detach(), in.grad().clone(), v.grad().clone(), h.grad().clone()});
  }
  for (int mode = 1; mode < 3; ++mode) {
    for (size_t i = 0; i < results[0].size(); ++i) {
      EXPECT_TRUE(torch::allclose(results[0][i], results[mode][i], 1e-4, 1e-5)) << "mode " << mode << " tensor " << i;
    }
  }
}

TEST(LocalConv, SeparableEqualsConv2dWithTheOuterProductKernel) {
  torch::manual_seed(4);
  const int64_t B = 2, C = 3, H = 6, W = 5, K = 5;
  const auto in = torch::rand({B, C, H + K - 1, W + K - 1}, torch::kFloat64);
  const auto v = torch::randn({B, K, H, W}, torch::kFloat64), h = torch::randn({B, K, H, W}, torch::kFloat64);
  const auto outer = (v.unsqueeze(2) * h.unsqueeze(1)).reshape({B, K * K, H, W});
  for (const auto backend : kBackends) {
    const auto sep = ops::local_separable_conv(in, v, h, backend);
    const auto full = ops::local_conv2d(in, outer, backend);
    EXPECT_TRUE(torch::allclose(sep, full, 1e-12, 1e-12));
    // And one output pixel by hand: out[1, 2, 3, 4] = sum_ij v_i h_j in[1, 2, 3+i, 4+j].
    double expected = 0;
    for (int64_t i = 0; i < K; ++i)
      for (int64_t j = 0; j < K; ++j)
        expected += v[1][i][3][4].item<double>() * h[1][j][3][4].item<double>() * in[1][2][3 + i][4 + j].item<double>();
    EXPECT_NEAR(sep[1][2][3][4].item<double>(), expected, 1e-12);
  }
}

TEST(LocalConv, CentredDeltaKernelReproducesTheInputExactly) {
  torch::manual_seed(5);
  const int64_t H = 9, W = 11, K = 7, p = K / 2;
  const auto frame = torch::rand({1, 3, H, W});
  namespace F = torch::nn::functional;
  const auto padded = F::pad(frame, F::PadFuncOptions({p, p, p, p}).mode(torch::kReplicate));
  auto delta = torch::zeros({1, K, H, W});
  delta.index_put_({Slice(), p}, 1.0);
  auto delta2d = torch::zeros({1, K * K, H, W});
  delta2d.index_put_({Slice(), p * K + p}, 1.0);
  for (const auto backend : kBackends) {
    EXPECT_TRUE(torch::equal(ops::local_separable_conv(padded, delta, delta, backend), frame));
    EXPECT_TRUE(torch::equal(ops::local_conv2d(padded, delta2d, backend), frame));
  }
}

TEST(LocalConv, ShiftKernelReproducesAShiftedFrame) {
  torch::manual_seed(6);
  const int64_t H = 10, W = 12, K = 5, p = K / 2;
  const auto frame = torch::rand({1, 3, H, W});
  namespace F = torch::nn::functional;
  const auto padded = F::pad(frame, F::PadFuncOptions({p, p, p, p}).mode(torch::kReplicate));
  // Tap i = p + dy reads the input row y + dy: out(y, x) = frame(y + 1, x - 2).
  const int64_t dy = 1, dx = -2;
  auto v = torch::zeros({1, K, H, W}), h = torch::zeros({1, K, H, W});
  v.index_put_({Slice(), p + dy}, 1.0);
  h.index_put_({Slice(), p + dx}, 1.0);
  auto k2 = torch::zeros({1, K * K, H, W});
  k2.index_put_({Slice(), (p + dy) * K + p + dx}, 1.0);
  // Where (y + dy, x + dx) is inside the frame (elsewhere the replicated border is read).
  const auto expected = frame.index({Slice(), Slice(), Slice(dy, H), Slice(0, W + dx)});
  for (const auto backend : kBackends) {
    const auto sep = ops::local_separable_conv(padded, v, h, backend);
    EXPECT_TRUE(torch::equal(sep.index({Slice(), Slice(), Slice(0, H - dy), Slice(-dx, W)}), expected));
    // At the border the shift reads the replicated edge: out(H-1, x) = frame(H-1, x+dx).
    EXPECT_TRUE(torch::equal(sep.index({Slice(), Slice(), H - 1, Slice(-dx, W)}),
                             frame.index({Slice(), Slice(), H - 1, Slice(0, W + dx)})));
    const auto full = ops::local_conv2d(padded, k2, backend);
    EXPECT_TRUE(torch::equal(full, sep));
  }
}

TEST(LocalConv, BadShapesDtypesAndDevicesAreRefusedWithClearErrors) {
  const auto in = torch::rand({1, 3, 8, 8});
  const auto v = torch::rand({1, 3, 6, 6});
  EXPECT_NO_THROW(ops::local_separable_conv(in, v, v));
  EXPECT_THROW(ops::local_separable_conv(in, torch::rand({1, 3, 5, 6}), v), InvalidArgument);  // maps differ
  EXPECT_THROW(ops::local_separable_conv(in, torch::rand({1, 5, 6, 6}), torch::rand({1, 5, 6, 6})), InvalidArgument);
  EXPECT_THROW(ops::local_separable_conv(in.to(torch::kInt32), v, v), InvalidArgument);
  EXPECT_THROW(ops::local_separable_conv(in, v.to(torch::kFloat64), v.to(torch::kFloat64)), InvalidArgument);
  EXPECT_THROW(ops::local_conv2d(in, torch::rand({1, 8, 6, 6})), InvalidArgument);  // 8 is not K*K
  EXPECT_THROW(ops::local_conv2d(in[0], torch::rand({1, 9, 6, 6})), InvalidArgument);
  try {
    ops::local_separable_conv(in, torch::rand({1, 5, 6, 6}), torch::rand({1, 5, 6, 6}));
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("H+K-1"), std::string::npos) << e.what();
  }
}
