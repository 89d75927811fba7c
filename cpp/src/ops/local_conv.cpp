#include "fregan/ops/local_conv.h"

#include <algorithm>
#include <string>
#include <vector>

#include <ATen/Parallel.h>
#include <torch/csrc/jit/frontend/tracer.h>
#include <torch/torch.h>

#include "fregan/error.h"

namespace fregan::ops {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;
using torch::indexing::Slice;

std::string shape(const torch::Tensor& t) {
  std::string s = "[";
  for (int64_t d = 0; d < t.dim(); ++d) s += (d ? ", " : "") + std::to_string(t.size(d));
  return s + "]";
}

// Checks the shapes of (input, kernels...) and returns K.  `taps` is K for the separable op's 1D
// kernels and K*K for the 2D op's kernels.
int64_t check_shapes(const char* op, const torch::Tensor& input, const std::vector<torch::Tensor>& kernels,
                     bool separable) {
  const std::string name(op);
  require(input.dim() == 4, name + ": input must be [B, C, H+K-1, W+K-1], got " + shape(input));
  require(input.scalar_type() == torch::kFloat32 || input.scalar_type() == torch::kFloat64,
          name + ": input must be float32 or float64");
  const auto& k0 = kernels.front();
  require(k0.dim() == 4, name + ": kernels must be [B, taps, H, W], got " + shape(k0));
  int64_t k = 0;
  if (separable) {
    k = k0.size(1);
  } else {
    const int64_t taps = k0.size(1);
    while (k * k < taps) ++k;
    require(k * k == taps, name + ": the kernels' channel count must be K*K, got " + std::to_string(taps));
  }
  require(k >= 1, name + ": kernel size must be >= 1");
  for (const auto& t : kernels) {
    require(t.sizes() == k0.sizes(), name + ": kernel maps differ in shape: " + shape(t) + " vs " + shape(k0));
    require(t.scalar_type() == input.scalar_type(), name + ": kernels and input must have the same dtype");
    require(t.device() == input.device(), name + ": kernels and input must be on the same device");
  }
  require(input.size(0) == k0.size(0) && input.size(2) == k0.size(2) + k - 1 && input.size(3) == k0.size(3) + k - 1,
          name + ": input " + shape(input) + " must be [B, C, H+K-1, W+K-1] for kernels " + shape(k0) +
              " (K = " + std::to_string(k) + ")");
  return k;
}

LocalConvBackend resolve(LocalConvBackend backend, const torch::Tensor& input) {
  if (backend == LocalConvBackend::kAuto) return input.is_cpu() ? LocalConvBackend::kLoop : LocalConvBackend::kSlices;
  require(backend != LocalConvBackend::kLoop || input.is_cpu(), "local conv: the kLoop backend is CPU-only");
  return backend;
}

// ---------------------------------------------------------------------------------------------
// kLoop: contiguous tensors, one task per (b, y) output row (or input row for the input gradient,
// so that every task writes only its own rows).  The innermost loops run along x over contiguous
// memory and vectorise.

struct Dims {
  int64_t B, C, H, W, K, Hp, Wp;
};

Dims dims_of(const torch::Tensor& input, const torch::Tensor& kernel_map, int64_t k) {
  return {input.size(0), input.size(1), kernel_map.size(2), kernel_map.size(3), k, input.size(2), input.size(3)};
}

template <typename T>
void sep_forward_loop(const T* in, const T* v, const T* h, T* out, const Dims& d) {
  const int64_t B = d.B, C = d.C, H = d.H, W = d.W, K = d.K, Hp = d.Hp, Wp = d.Wp;
  at::parallel_for(0, B * H, 1, [&](int64_t begin, int64_t end) {
    std::vector<T> row(W);
    for (int64_t idx = begin; idx < end; ++idx) {
      const int64_t b = idx / H, y = idx % H;
      for (int64_t c = 0; c < C; ++c) std::fill_n(out + ((b * C + c) * H + y) * W, W, T(0));
      for (int64_t i = 0; i < K; ++i) {
        const T* vi = v + ((b * K + i) * H + y) * W;
        for (int64_t c = 0; c < C; ++c) {
          std::fill(row.begin(), row.end(), T(0));
          const T* src_row = in + ((b * C + c) * Hp + y + i) * Wp;
          for (int64_t j = 0; j < K; ++j) {
            const T* hj = h + ((b * K + j) * H + y) * W;
            const T* src = src_row + j;
            T* r = row.data();
            for (int64_t x = 0; x < W; ++x) r[x] += hj[x] * src[x];
          }
          T* o = out + ((b * C + c) * H + y) * W;
          const T* r = row.data();
          for (int64_t x = 0; x < W; ++x) o[x] += vi[x] * r[x];
        }
      }
    }
  });
}

// grad_v[b,i,y,x] = sum_c g * (sum_j h_j * in(y+i, x+j));  grad_h[b,j,y,x] = sum_c sum_i g * v_i * in(y+i, x+j).
template <typename T>
void sep_backward_kernels_loop(const T* in, const T* v, const T* h, const T* g, T* gv, T* gh, const Dims& d) {
  const int64_t B = d.B, C = d.C, H = d.H, W = d.W, K = d.K, Hp = d.Hp, Wp = d.Wp;
  at::parallel_for(0, B * H, 1, [&](int64_t begin, int64_t end) {
    std::vector<T> row(W), gvrow(W);
    for (int64_t idx = begin; idx < end; ++idx) {
      const int64_t b = idx / H, y = idx % H;
      for (int64_t j = 0; j < K; ++j) std::fill_n(gh + ((b * K + j) * H + y) * W, W, T(0));
      for (int64_t i = 0; i < K; ++i) {
        const T* vi = v + ((b * K + i) * H + y) * W;
        T* gvi = gv + ((b * K + i) * H + y) * W;
        std::fill_n(gvi, W, T(0));
        for (int64_t c = 0; c < C; ++c) {
          const T* gc = g + ((b * C + c) * H + y) * W;
          std::fill(row.begin(), row.end(), T(0));
          for (int64_t x = 0; x < W; ++x) gvrow[x] = gc[x] * vi[x];
          const T* src_row = in + ((b * C + c) * Hp + y + i) * Wp;
          for (int64_t j = 0; j < K; ++j) {
            const T* hj = h + ((b * K + j) * H + y) * W;
            T* ghj = gh + ((b * K + j) * H + y) * W;
            const T* src = src_row + j;
            T* r = row.data();
            const T* q = gvrow.data();
            for (int64_t x = 0; x < W; ++x) {
              r[x] += hj[x] * src[x];
              ghj[x] += q[x] * src[x];
            }
          }
          for (int64_t x = 0; x < W; ++x) gvi[x] += gc[x] * row[x];
        }
      }
    }
  });
}

// grad_in[b,c,r,s] = sum over the output pixels (y, x) = (r-i, s-j) that read it: one task per
// input row r, so the writes never overlap.
template <typename T>
void sep_backward_input_loop(const T* v, const T* h, const T* g, T* gin, const Dims& d) {
  const int64_t B = d.B, C = d.C, H = d.H, W = d.W, K = d.K, Hp = d.Hp, Wp = d.Wp;
  at::parallel_for(0, B * Hp, 1, [&](int64_t begin, int64_t end) {
    std::vector<T> q(W);
    for (int64_t idx = begin; idx < end; ++idx) {
      const int64_t b = idx / Hp, r = idx % Hp;
      for (int64_t c = 0; c < C; ++c) std::fill_n(gin + ((b * C + c) * Hp + r) * Wp, Wp, T(0));
      for (int64_t i = std::max<int64_t>(0, r - H + 1); i <= std::min<int64_t>(K - 1, r); ++i) {
        const int64_t y = r - i;
        const T* vi = v + ((b * K + i) * H + y) * W;
        for (int64_t c = 0; c < C; ++c) {
          const T* gc = g + ((b * C + c) * H + y) * W;
          for (int64_t x = 0; x < W; ++x) q[x] = gc[x] * vi[x];
          T* dst_row = gin + ((b * C + c) * Hp + r) * Wp;
          for (int64_t j = 0; j < K; ++j) {
            const T* hj = h + ((b * K + j) * H + y) * W;
            T* dst = dst_row + j;
            for (int64_t x = 0; x < W; ++x) dst[x] += q[x] * hj[x];
          }
        }
      }
    }
  });
}

template <typename T>
void conv2d_forward_loop(const T* in, const T* k, T* out, const Dims& d) {
  const int64_t B = d.B, C = d.C, H = d.H, W = d.W, K = d.K, Hp = d.Hp, Wp = d.Wp;
  at::parallel_for(0, B * H, 1, [&](int64_t begin, int64_t end) {
    for (int64_t idx = begin; idx < end; ++idx) {
      const int64_t b = idx / H, y = idx % H;
      for (int64_t c = 0; c < C; ++c) {
        T* o = out + ((b * C + c) * H + y) * W;
        std::fill_n(o, W, T(0));
        for (int64_t i = 0; i < K; ++i) {
          const T* src_row = in + ((b * C + c) * Hp + y + i) * Wp;
          for (int64_t j = 0; j < K; ++j) {
            const T* kij = k + ((b * K * K + i * K + j) * H + y) * W;
            const T* src = src_row + j;
            for (int64_t x = 0; x < W; ++x) o[x] += kij[x] * src[x];
          }
        }
      }
    }
  });
}

template <typename T>
void conv2d_backward_kernels_loop(const T* in, const T* g, T* gk, const Dims& d) {
  const int64_t B = d.B, C = d.C, H = d.H, W = d.W, K = d.K, Hp = d.Hp, Wp = d.Wp;
  at::parallel_for(0, B * H, 1, [&](int64_t begin, int64_t end) {
    for (int64_t idx = begin; idx < end; ++idx) {
      const int64_t b = idx / H, y = idx % H;
      for (int64_t t = 0; t < K * K; ++t) std::fill_n(gk + ((b * K * K + t) * H + y) * W, W, T(0));
      for (int64_t c = 0; c < C; ++c) {
        const T* gc = g + ((b * C + c) * H + y) * W;
        for (int64_t i = 0; i < K; ++i) {
          const T* src_row = in + ((b * C + c) * Hp + y + i) * Wp;
          for (int64_t j = 0; j < K; ++j) {
            T* gkij = gk + ((b * K * K + i * K + j) * H + y) * W;
            const T* src = src_row + j;
            for (int64_t x = 0; x < W; ++x) gkij[x] += gc[x] * src[x];
          }
        }
      }
    }
  });
}

template <typename T>
void conv2d_backward_input_loop(const T* k, const T* g, T* gin, const Dims& d) {
  const int64_t B = d.B, C = d.C, H = d.H, W = d.W, K = d.K, Hp = d.Hp, Wp = d.Wp;
  at::parallel_for(0, B * Hp, 1, [&](int64_t begin, int64_t end) {
    for (int64_t idx = begin; idx < end; ++idx) {
      const int64_t b = idx / Hp, r = idx % Hp;
      for (int64_t c = 0; c < C; ++c) {
        T* dst_row = gin + ((b * C + c) * Hp + r) * Wp;
        std::fill_n(dst_row, Wp, T(0));
        for (int64_t i = std::max<int64_t>(0, r - H + 1); i <= std::min<int64_t>(K - 1, r); ++i) {
          const int64_t y = r - i;
          const T* gc = g + ((b * C + c) * H + y) * W;
          for (int64_t j = 0; j < K; ++j) {
            const T* kij = k + ((b * K * K + i * K + j) * H + y) * W;
            T* dst = dst_row + j;
            for (int64_t x = 0; x < W; ++x) dst[x] += gc[x] * kij[x];
          }
        }
      }
    }
  });
}

// ---------------------------------------------------------------------------------------------
// kSlices: the same sums as whole-tensor LibTorch ops over shifted views of the padded input
// (K or K*K ops of [B, C, H, W] each, no K*K memory).  This is the path on CUDA.

torch::Tensor window(const torch::Tensor& input, int64_t i, int64_t j, int64_t H, int64_t W) {
  return input.index({Slice(), Slice(), Slice(i, i + H), Slice(j, j + W)});
}

torch::Tensor sep_forward_slices(const torch::Tensor& in, const torch::Tensor& v, const torch::Tensor& h) {
  const int64_t K = v.size(1), H = v.size(2), W = v.size(3);
  auto out = torch::zeros({in.size(0), in.size(1), H, W}, in.options());
  auto row = torch::empty_like(out);
  for (int64_t i = 0; i < K; ++i) {
    row.zero_();
    for (int64_t j = 0; j < K; ++j) row.addcmul_(h.narrow(1, j, 1), window(in, i, j, H, W));
    out.addcmul_(v.narrow(1, i, 1), row);
  }
  return out;
}

torch::Tensor conv2d_forward_slices(const torch::Tensor& in, const torch::Tensor& k, int64_t K) {
  const int64_t H = k.size(2), W = k.size(3);
  auto out = torch::zeros({in.size(0), in.size(1), H, W}, in.options());
  for (int64_t i = 0; i < K; ++i)
    for (int64_t j = 0; j < K; ++j) out.addcmul_(k.narrow(1, i * K + j, 1), window(in, i, j, H, W));
  return out;
}

// ---------------------------------------------------------------------------------------------

class LocalSeparableConvFunction : public torch::autograd::Function<LocalSeparableConvFunction> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, torch::Tensor input, torch::Tensor vertical,
                               torch::Tensor horizontal, int64_t backend) {
    input = input.contiguous();
    vertical = vertical.contiguous();
    horizontal = horizontal.contiguous();
    ctx->save_for_backward({input, vertical, horizontal});
    ctx->saved_data["backend"] = backend;
    if (static_cast<LocalConvBackend>(backend) == LocalConvBackend::kSlices)
      return sep_forward_slices(input, vertical, horizontal);
    auto out = torch::empty({input.size(0), input.size(1), vertical.size(2), vertical.size(3)}, input.options());
    AT_DISPATCH_FLOATING_TYPES(input.scalar_type(), "local_separable_conv", [&] {
      sep_forward_loop<scalar_t>(input.data_ptr<scalar_t>(), vertical.data_ptr<scalar_t>(),
                                 horizontal.data_ptr<scalar_t>(), out.data_ptr<scalar_t>(),
                                 dims_of(input, vertical, vertical.size(1)));
    });
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const auto& in = saved[0];
    const auto& v = saved[1];
    const auto& h = saved[2];
    const auto g = grad_outputs[0].contiguous();
    const auto backend = static_cast<LocalConvBackend>(ctx->saved_data["backend"].toInt());
    const int64_t K = v.size(1), H = v.size(2), W = v.size(3);
    torch::Tensor gin, gv, gh;
    if (backend == LocalConvBackend::kSlices) {
      gin = torch::zeros_like(in);
      gv = torch::empty_like(v);
      gh = torch::zeros_like(h);
      auto row = torch::empty_like(g);
      for (int64_t i = 0; i < K; ++i) {
        const auto g_vi = g * v.narrow(1, i, 1);
        row.zero_();
        for (int64_t j = 0; j < K; ++j) {
          const auto src = window(in, i, j, H, W);
          const auto hj = h.narrow(1, j, 1);
          row.addcmul_(hj, src);
          gh.narrow(1, j, 1).add_((g_vi * src).sum(1, /*keepdim=*/true));
          window(gin, i, j, H, W).addcmul_(g_vi, hj);
        }
        gv.narrow(1, i, 1).copy_((g * row).sum(1, /*keepdim=*/true));
      }
    } else {
      gin = torch::empty_like(in);
      gv = torch::empty_like(v);
      gh = torch::empty_like(h);
      AT_DISPATCH_FLOATING_TYPES(in.scalar_type(), "local_separable_conv_backward", [&] {
        const auto d = dims_of(in, v, K);
        sep_backward_kernels_loop<scalar_t>(in.data_ptr<scalar_t>(), v.data_ptr<scalar_t>(), h.data_ptr<scalar_t>(),
                                            g.data_ptr<scalar_t>(), gv.data_ptr<scalar_t>(), gh.data_ptr<scalar_t>(),
                                            d);
        sep_backward_input_loop<scalar_t>(v.data_ptr<scalar_t>(), h.data_ptr<scalar_t>(), g.data_ptr<scalar_t>(),
                                          gin.data_ptr<scalar_t>(), d);
      });
    }
    return {gin, gv, gh, torch::Tensor()};
  }
};

class LocalConv2dFunction : public torch::autograd::Function<LocalConv2dFunction> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, torch::Tensor input, torch::Tensor kernels, int64_t k,
                               int64_t backend) {
    input = input.contiguous();
    kernels = kernels.contiguous();
    ctx->save_for_backward({input, kernels});
    ctx->saved_data["backend"] = backend;
    ctx->saved_data["k"] = k;
    if (static_cast<LocalConvBackend>(backend) == LocalConvBackend::kSlices)
      return conv2d_forward_slices(input, kernels, k);
    auto out = torch::empty({input.size(0), input.size(1), kernels.size(2), kernels.size(3)}, input.options());
    AT_DISPATCH_FLOATING_TYPES(input.scalar_type(), "local_conv2d", [&] {
      conv2d_forward_loop<scalar_t>(input.data_ptr<scalar_t>(), kernels.data_ptr<scalar_t>(), out.data_ptr<scalar_t>(),
                                    dims_of(input, kernels, k));
    });
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const auto& in = saved[0];
    const auto& kern = saved[1];
    const auto g = grad_outputs[0].contiguous();
    const auto backend = static_cast<LocalConvBackend>(ctx->saved_data["backend"].toInt());
    const int64_t K = ctx->saved_data["k"].toInt(), H = kern.size(2), W = kern.size(3);
    torch::Tensor gin, gk;
    if (backend == LocalConvBackend::kSlices) {
      gin = torch::zeros_like(in);
      gk = torch::empty_like(kern);
      for (int64_t i = 0; i < K; ++i) {
        for (int64_t j = 0; j < K; ++j) {
          gk.narrow(1, i * K + j, 1).copy_((g * window(in, i, j, H, W)).sum(1, /*keepdim=*/true));
          window(gin, i, j, H, W).addcmul_(g, kern.narrow(1, i * K + j, 1));
        }
      }
    } else {
      gin = torch::empty_like(in);
      gk = torch::empty_like(kern);
      AT_DISPATCH_FLOATING_TYPES(in.scalar_type(), "local_conv2d_backward", [&] {
        const auto d = dims_of(in, kern, K);
        conv2d_backward_kernels_loop<scalar_t>(in.data_ptr<scalar_t>(), g.data_ptr<scalar_t>(), gk.data_ptr<scalar_t>(),
                                               d);
        conv2d_backward_input_loop<scalar_t>(kern.data_ptr<scalar_t>(), g.data_ptr<scalar_t>(),
                                             gin.data_ptr<scalar_t>(), d);
      });
    }
    return {gin, gk, torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor local_separable_conv(const torch::Tensor& input, const torch::Tensor& vertical,
                                   const torch::Tensor& horizontal, LocalConvBackend backend) {
  check_shapes("local_separable_conv", input, {vertical, horizontal}, /*separable=*/true);
  // A TorchScript trace records only LibTorch ops (the loop would be baked in as a constant), and
  // an exported module needs no backward: trace the shifted-slice formulation itself.
  if (torch::jit::tracer::isTracing()) return sep_forward_slices(input, vertical, horizontal);
  const auto b = resolve(backend, input);
  return LocalSeparableConvFunction::apply(input, vertical, horizontal, static_cast<int64_t>(b));
}

torch::Tensor local_conv2d(const torch::Tensor& input, const torch::Tensor& kernels, LocalConvBackend backend) {
  const int64_t k = check_shapes("local_conv2d", input, {kernels}, /*separable=*/false);
  if (torch::jit::tracer::isTracing()) return conv2d_forward_slices(input, kernels, k);  // as above
  const auto b = resolve(backend, input);
  return LocalConv2dFunction::apply(input, kernels, k, static_cast<int64_t>(b));
}

torch::Tensor local_conv2d_unfold(const torch::Tensor& input, const torch::Tensor& kernels) {
  const int64_t K = check_shapes("local_conv2d_unfold", input, {kernels}, /*separable=*/false);
  const int64_t B = input.size(0), C = input.size(1), H = kernels.size(2), W = kernels.size(3);
  namespace F = torch::nn::functional;
  const auto patches = F::unfold(input, F::UnfoldFuncOptions({K, K})).view({B, C, K * K, H, W});
  return (patches * kernels.unsqueeze(1)).sum(2);
}

torch::Tensor local_separable_conv_unfold(const torch::Tensor& input, const torch::Tensor& vertical,
                                          const torch::Tensor& horizontal) {
  const int64_t K = check_shapes("local_separable_conv_unfold", input, {vertical, horizontal}, /*separable=*/true);
  const int64_t B = vertical.size(0), H = vertical.size(2), W = vertical.size(3);
  // The outer product of the two 1D kernels: [B, K, K, H, W] -> [B, K*K, H, W].
  const auto kernels = (vertical.unsqueeze(2) * horizontal.unsqueeze(1)).view({B, K * K, H, W});
  return local_conv2d_unfold(input, kernels);
}

}  // namespace fregan::ops
