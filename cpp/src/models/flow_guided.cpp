#include "fregan/models/flow_guided.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <mutex>
#include <future>
#include <optional>
#include <string_view>

#include <ATen/Parallel.h>

#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>
#include <torch/torch.h>

#include "../flow/sampling.h"
#include "fregan/error.h"
#include "fregan/options_json.h"

namespace fregan::models {
namespace nn = torch::nn;
namespace F = torch::nn::functional;

FREGAN_DEFINE_OPTIONS_JSON(FlowGuidedOptions, "fregan-flow", flow, net_max_pixels, base_channels, levels, leaky_slope,
                           flow_unit, refine_flow, sampling, acceleration, motion_inputs, kaiming_init, still_tolerance,
                           still_margin)

namespace {

nn::Sequential conv_pair(int in, int out, int first_stride, double slope) {
  return nn::Sequential(nn::Conv2d(nn::Conv2dOptions(in, out, 3).stride(first_stride).padding(1)),
                        nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(slope)),
                        nn::Conv2d(nn::Conv2dOptions(out, out, 3).padding(1)),
                        nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(slope)));
}

torch::Tensor resize(const torch::Tensor& x, int64_t h, int64_t w, bool area) {
  if (x.size(2) == h && x.size(3) == w) return x;
  auto o = F::InterpolateFuncOptions().size(std::vector<int64_t>{h, w});
  if (area) return F::interpolate(x, o.mode(torch::kArea));
  return F::interpolate(x, o.mode(torch::kBilinear).align_corners(false));
}

}  // namespace

FlowGuidedNetImpl::FlowGuidedNetImpl(const FlowGuidedOptions& o) : options_(o) {
  require(o.levels >= 1 && o.levels <= 6, "fregan-flow: levels must be in 1..6");
  require(o.base_channels >= 4, "fregan-flow: base_channels must be >= 4");
  require(o.net_max_pixels >= 64 * 64, "fregan-flow: net_max_pixels must be >= 4096");
  require(o.flow_unit > 0, "fregan-flow: flow_unit must be > 0");
  require(o.still_tolerance >= 0 && o.still_margin >= 0, "fregan-flow: still_tolerance and still_margin must be >= 0");
  sampling_ = flow::sampling_from_name(o.sampling);
  require(o.acceleration.damping >= 0 && o.acceleration.consistency_sigma >= 0 && o.acceleration.agreement_sigma >= 0 &&
              o.acceleration.reversal_fill > 0,
          "fregan-flow: acceleration damping and consistency_sigma must be >= 0, reversal_fill > 0");
  require(o.acceleration.to_t == "reversal" || o.acceleration.to_t == "slomo",
          "fregan-flow: acceleration to_t must be 'reversal' or 'slomo', got '" + o.acceleration.to_t + "'");
  memo_ = std::make_shared<FrameMemo>();
  flow_memo_ = std::make_shared<FlowMemo>();
  encoder_ = register_module("encoder", nn::ModuleList());
  decoder_ = register_module("decoder", nn::ModuleList());
  int in = kInputChannels + (o.motion_inputs ? kMotionChannels : 0);
  for (int l = 0; l < o.levels; ++l) {
    const int out = o.base_channels << l;
    encoder_->push_back(conv_pair(in, out, l == 0 ? 1 : 2, o.leaky_slope));
    in = out;
  }
  // Decoder block l (from the bottom up) takes level l+1's features upsampled and concatenated
  // with the encoder's level l output.
  for (int l = o.levels - 2; l >= 0; --l) {
    const int skip = o.base_channels << l;
    decoder_->push_back(conv_pair(in + skip, skip, 1, o.leaky_slope));
    in = skip;
  }
  // Mask (1) and residual (3), then the corrections of F_t0 and F_t2 (2 + 2) with refine_flow.
  head_ = register_module("head", nn::Conv2d(nn::Conv2dOptions(in, o.refine_flow ? 8 : 4, 3).padding(1)));
  torch::NoGradGuard no_grad;
  if (o.kaiming_init) {
    for (auto& module : modules(/*include_self=*/false)) {
      if (auto* conv = module->as<nn::Conv2d>()) {
        nn::init::kaiming_normal_(conv->weight, o.leaky_slope, torch::kFanIn, torch::kLeakyReLU);
        conv->bias.zero_();
      }
    }
  }
  head_->weight.zero_();
  head_->bias.zero_();
}

namespace {

// Bilinear upscaling (align_corners = false, as F::interpolate and cv::INTER_LINEAR) of a small
// interleaved map to `out_size` along one axis: for each output index the two source indices and
// the weight of the second.
struct LinearTaps {
  std::vector<int64_t> first, second;
  std::vector<float> weight;
};

LinearTaps linear_taps(int64_t in_size, int64_t out_size) {
  LinearTaps taps;
  taps.first.resize(static_cast<size_t>(out_size));
  taps.second.resize(static_cast<size_t>(out_size));
  taps.weight.resize(static_cast<size_t>(out_size));
  const double scale = static_cast<double>(in_size) / static_cast<double>(out_size);
  for (int64_t o = 0; o < out_size; ++o) {
    const double source = std::max((static_cast<double>(o) + 0.5) * scale - 0.5, 0.0);
    const int64_t i0 = std::min(static_cast<int64_t>(source), in_size - 1);
    const size_t k = static_cast<size_t>(o);
    taps.first[k] = i0;
    taps.second[k] = std::min(i0 + 1, in_size - 1);
    taps.weight[k] = static_cast<float>(source - static_cast<double>(i0));
  }
  return taps;
}

// A [C, h, w] float tensor as h rows of w interleaved C-channel pixels, upscaled one output row at
// a time into a buffer that stays in cache: a vertical blend of two source rows, then a horizontal
// blend per output pixel.  The fused renderer reads its flows, mask, residual and corrections this
// way instead of from six full-resolution images made first (~100 MB of memory traffic and fresh
// pages per 1080p frame).
class RowUpscaler {
 public:
  RowUpscaler(const torch::Tensor& planes, int64_t out_height, int64_t out_width)
      : hwc_(planes.permute({1, 2, 0}).contiguous()),
        channels_(planes.size(0)),
        rows_(linear_taps(planes.size(1), out_height)),
        columns_(linear_taps(planes.size(2), out_width)) {}

  int64_t channels() const { return channels_; }
  size_t source_row_floats() const { return static_cast<size_t>(hwc_.size(1) * channels_); }
  size_t row_floats() const { return columns_.weight.size() * static_cast<size_t>(channels_); }

  // Output row y into row[0 .. row_floats()); `blended` is scratch of source_row_floats().
  void row(int64_t y, float* blended, float* row) const {
    const size_t k = static_cast<size_t>(y);
    const int64_t stride = static_cast<int64_t>(source_row_floats()), c = channels_;
    const float* top = hwc_.data_ptr<float>() + rows_.first[k] * stride;
    const float* bottom = hwc_.data_ptr<float>() + rows_.second[k] * stride;
    const float wb = rows_.weight[k], wt = 1.0f - wb;
    for (int64_t j = 0; j < stride; ++j) blended[j] = wt * top[j] + wb * bottom[j];
    const int64_t* first = columns_.first.data();
    const int64_t* second = columns_.second.data();
    const float* weight = columns_.weight.data();
    const int64_t width = static_cast<int64_t>(columns_.weight.size());
    for (int64_t x = 0; x < width; ++x) {
      const float wr = weight[x], wl = 1.0f - wr;
      const float* left = blended + first[x] * c;
      const float* right = blended + second[x] * c;
      for (int64_t j = 0; j < c; ++j) row[x * c + j] = wl * left[j] + wr * right[j];
    }
  }

 private:
  torch::Tensor hwc_;
  int64_t channels_;
  LinearTaps rows_, columns_;
};

// Still things, found per pair at DIS resolution: the pixels where the two lumas agree and whose
// region of agreeing pixels (8-connected) the flows between the frames mostly mis-move.  The flow
// of a burned-in caption or logo is the moving background's, and warping by it misses the caption
// itself (the flow's error is at least `margin` above zero motion's); the still background behind
// a moving object is mis-moved only in the object's halo, a small part of its region, and a thing
// passing over it stays.  Regions under kMinStillArea pixels are a chance match of two moving
// textures.  Returns [B, hd, wd] uint8 (1: still), or an undefined tensor when there is none.
constexpr int kMinStillArea = 6;

torch::Tensor still_things(const torch::Tensor& luma0, const torch::Tensor& luma2, const torch::Tensor& flow02,
                           const torch::Tensor& flow20, double tolerance, double margin) {
  const int64_t batch = luma0.size(0), hd = luma0.size(1), wd = luma0.size(2);
  const auto l0 = luma0.cpu().contiguous(), l2 = luma2.cpu().contiguous();
  const auto f02 = flow02.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  const auto f20 = flow20.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  const float tol = static_cast<float>(tolerance * 255), mar = static_cast<float>(margin * 255);
  auto out = torch::zeros({batch, hd, wd}, torch::kUInt8);
  bool any = false;
  auto inside = [hd, wd](float x, float y) {
    return x >= 0 && y >= 0 && x <= static_cast<float>(wd - 1) && y <= static_cast<float>(hd - 1);
  };
  auto sample = [hd, wd](const uint8_t* luma, float x, float y) {
    float value;
    flow::detail::sample_bilinear(luma, 1, hd, wd, x, y, &value);
    return value;
  };
  for (int64_t i = 0; i < batch; ++i) {
    const uint8_t* a = l0[i].data_ptr<uint8_t>();
    const uint8_t* b = l2[i].data_ptr<uint8_t>();
    const float* u02 = f02[i][0].data_ptr<float>();
    const float* v02 = f02[i][1].data_ptr<float>();
    const float* u20 = f20[i][0].data_ptr<float>();
    const float* v20 = f20[i][1].data_ptr<float>();
    cv::Mat agree(static_cast<int>(hd), static_cast<int>(wd), CV_8U), mis_moved(agree.size(), CV_8U);
    for (int64_t y = 0; y < hd; ++y) {
      for (int64_t x = 0; x < wd; ++x) {
        const int64_t at = y * wd + x;
        const float difference = std::abs(static_cast<float>(a[at]) - static_cast<float>(b[at]));
        const bool agrees = difference <= tol;
        agree.data[at] = agrees ? 1 : 0;
        mis_moved.data[at] = 0;
        if (!agrees) continue;
        const float x02 = static_cast<float>(x) + u02[at], y02 = static_cast<float>(y) + v02[at];
        const float x20 = static_cast<float>(x) + u20[at], y20 = static_cast<float>(y) + v20[at];
        // A flow leaving the frame cannot be checked (what it points at is not in the other frame).
        if (!inside(x02, y02) || !inside(x20, y20)) continue;
        const float miss = std::max(std::abs(a[at] - sample(b, x02, y02)), std::abs(b[at] - sample(a, x20, y20)));
        mis_moved.data[at] = miss >= difference + mar ? 1 : 0;
      }
    }
    cv::Mat labels, stats, centroids;
    const int regions = cv::connectedComponentsWithStats(agree, labels, stats, centroids, 8, CV_32S);
    std::vector<int64_t> mis_moved_in(static_cast<size_t>(regions), 0);
    const int32_t* label = labels.ptr<int32_t>();
    for (int64_t at = 0; at < hd * wd; ++at) mis_moved_in[static_cast<size_t>(label[at])] += mis_moved.data[at];
    std::vector<uint8_t> still(static_cast<size_t>(regions), 0);
    for (int r = 1; r < regions; ++r) {  // region 0: the pixels that disagree
      const int64_t area = stats.at<int32_t>(r, cv::CC_STAT_AREA);
      still[static_cast<size_t>(r)] = area >= kMinStillArea && 2 * mis_moved_in[static_cast<size_t>(r)] >= area;
    }
    uint8_t* o = out[i].data_ptr<uint8_t>();
    for (int64_t at = 0; at < hd * wd; ++at) {
      o[at] = still[static_cast<size_t>(label[at])];
      any = any || o[at];
    }
  }
  return any ? out : torch::Tensor();
}

// What the renderer keeps still: the still things at DIS resolution (undefined: none), the
// tolerance a pixel's three channels must agree within at full resolution, and the blend's t.
struct StillPixels {
  torch::Tensor things;
  double tolerance = 0, t = 0.5;
};

// Full-resolution row or column `o` of `out` pixels -> its nearest row or column of `in`: the
// same integer mapping in the fused renderer and the tensor path.
inline int64_t nearest_source(int64_t o, int64_t in, int64_t out) { return std::min(o * in / out, in - 1); }

// The tensor path's still pixels (autograd, GPUs): where a pixel is still, the blend replaces `out`.
torch::Tensor keep_still_pixels(const torch::Tensor& out, const torch::Tensor& f0, const torch::Tensor& f2,
                                const StillPixels& still) {
  if (!still.things.defined()) return out;
  const int64_t h = f0.size(2), w = f0.size(3), hd = still.things.size(1), wd = still.things.size(2);
  torch::Tensor is_still;
  {
    torch::NoGradGuard no_grad;  // the decision is not learned; gradients flow through what it picks
    // nearest_source for every row and column at once.
    const auto rows = torch::arange(h, torch::kLong).mul(hd).div(h, "floor").clamp_max(hd - 1);
    const auto cols = torch::arange(w, torch::kLong).mul(wd).div(w, "floor").clamp_max(wd - 1);
    const auto things = still.things.index_select(1, rows).index_select(2, cols).unsqueeze(1).to(f0.device());
    is_still = things.to(torch::kBool).logical_and((f0 - f2).abs().amax(1, true).le(still.tolerance));
  }
  return torch::where(is_still, (1 - still.t) * f0 + still.t * f2, out);
}

// fregan-flow's last stage on the CPU without autograd, fused into one pass over the output: the
// flows to t (at DIS resolution), the mask and the head's other outputs (at the net's) are
// bilinearly upscaled row by row, then each output pixel samples both frames at its corrected
// flows (bilinear or bicubic, borders replicated: grid_sample's border mode with align_corners =
// true), blends them by the mask and adds the residual.  The same arithmetic as the tensor path
// below, which makes ~20 full-resolution tensors; a test holds the two within 1e-4.
//
// Still pixels (StillPixels) are kept on the way: a pixel of a still thing whose three channels
// agree is given the blend without sampling anything.
torch::Tensor render_on_cpu(const torch::Tensor& f0, const torch::Tensor& f2, const torch::Tensor& ft0s,
                            const torch::Tensor& ft2s, const torch::Tensor& head, const torch::Tensor& mask,
                            double correction_x, double correction_y, bool refine_flow, flow::Sampling sampling,
                            const StillPixels& still) {
  const int64_t batch = f0.size(0), h = f0.size(2), w = f0.size(3);
  const auto a = f0.contiguous(), b = f2.contiguous();
  auto out = torch::empty_like(a);
  const float tolerance = static_cast<float>(still.tolerance), t = static_cast<float>(still.t);
  for (int64_t i = 0; i < batch; ++i) {
    const uint8_t* things = still.things.defined() ? still.things[i].data_ptr<uint8_t>() : nullptr;
    const int64_t hd = things ? still.things.size(1) : 1, wd = things ? still.things.size(2) : 1;
    std::vector<int64_t> thing_column(static_cast<size_t>(things ? w : 0));
    for (size_t x = 0; x < thing_column.size(); ++x) thing_column[x] = nearest_source(static_cast<int64_t>(x), wd, w);
    // Flows to t at DIS resolution: u0, v0, u2, v2.  The net's outputs at its resolution: mask,
    // residual (3), and with refine_flow the corrections of the two flows (4).
    const RowUpscaler flows(torch::cat({ft0s[i], ft2s[i]}, 0).to(torch::kFloat32), h, w);
    std::vector<torch::Tensor> net_planes{mask[i], head[i].narrow(0, 1, 3)};
    if (refine_flow) net_planes.push_back(head[i].narrow(0, 4, 4));
    const RowUpscaler net(torch::cat(net_planes, 0).to(torch::kFloat32), h, w);
    const float fx = static_cast<float>(static_cast<double>(w) / ft0s.size(3));
    const float fy = static_cast<float>(static_cast<double>(h) / ft0s.size(2));
    const float cx = static_cast<float>(correction_x), cy = static_cast<float>(correction_y);
    const float* p0 = a[i].data_ptr<float>();
    const float* p2 = b[i].data_ptr<float>();
    float* po = out[i].data_ptr<float>();
    const int64_t plane = h * w;
    // The sampler is an argument of the row loop's type, so it is inlined into it.
    auto render_rows = [&](auto sample) {
      at::parallel_for(0, h, 16, [&](int64_t begin, int64_t end) {
        std::vector<float> scratch(std::max(flows.source_row_floats(), net.source_row_floats()));
        std::vector<float> flow_row(flows.row_floats()), net_row(net.row_floats());
        const int64_t nc = net.channels();
        for (int64_t y = begin; y < end; ++y) {
          flows.row(y, scratch.data(), flow_row.data());
          net.row(y, scratch.data(), net_row.data());
          const uint8_t* thing_row = things ? things + nearest_source(y, hd, h) * wd : nullptr;
          for (int64_t x = 0; x < w; ++x) {
            if (thing_row && thing_row[thing_column[static_cast<size_t>(x)]]) {
              const int64_t at = y * w + x;
              float difference = 0;
              for (int c = 0; c < 3; ++c)
                difference = std::max(difference, std::abs(p0[c * plane + at] - p2[c * plane + at]));
              if (difference <= tolerance) {
                for (int c = 0; c < 3; ++c)
                  po[c * plane + at] = (1.0f - t) * p0[c * plane + at] + t * p2[c * plane + at];
                continue;
              }
            }
            const float* fl = flow_row.data() + 4 * x;
            const float* nt = net_row.data() + nc * x;
            float u0 = fl[0] * fx, v0 = fl[1] * fy, u2 = fl[2] * fx, v2 = fl[3] * fy;
            if (refine_flow) {
              u0 += nt[4] * cx;
              v0 += nt[5] * cy;
              u2 += nt[6] * cx;
              v2 += nt[7] * cy;
            }
            float s0[3], s2[3];
            sample(p0, 3, h, w, static_cast<float>(x) + u0, static_cast<float>(y) + v0, s0);
            sample(p2, 3, h, w, static_cast<float>(x) + u2, static_cast<float>(y) + v2, s2);
            const float m = nt[0];
            for (int c = 0; c < 3; ++c) po[c * plane + y * w + x] = m * s0[c] + (1.0f - m) * s2[c] + nt[1 + c];
          }
        }
      });
    };
    if (sampling == flow::Sampling::Bicubic) render_rows([](auto... args) { flow::detail::sample_bicubic(args...); });
    else render_rows([](auto... args) { flow::detail::sample_bilinear(args...); });
  }
  return out;
}

}  // namespace

// The last few frames' PreparedFrame, each found again by the storage, offset, shape and version
// of the tensor it came from.  The storage is held by a weak pointer: it keeps the address from
// being reused by another frame, without keeping the frame's memory.  Two pairs in flight may
// prepare one frame at once; the second result simply replaces the first.
class FlowGuidedNetImpl::FrameMemo {
 public:
  static constexpr size_t kFrames = 6;  // two pairs in flight and their neighbours touch at most 5 frames

  static bool applies(const torch::Tensor& frame) {
    // Inference tensors track no version, so an in-place change could not be seen.
    return !torch::GradMode::is_enabled() && frame.is_cpu() && frame.size(0) == 1 && !frame.is_inference() &&
           frame.has_storage();
  }

  std::optional<PreparedFrame> find(const torch::Tensor& frame, int64_t net_height, int64_t net_width) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& e : entries_) {
      if (matches(e, frame) && e.net_height == net_height && e.net_width == net_width) return e.value;
    }
    return std::nullopt;
  }

  void add(const torch::Tensor& frame, int64_t net_height, int64_t net_width, PreparedFrame value) {
    Entry e{frame.storage().getWeakStorageImpl(),
            frame.storage_offset(),
            frame.sizes().vec(),
            frame.strides().vec(),
            frame._version(),
            net_height,
            net_width,
            std::move(value)};
    std::lock_guard<std::mutex> lock(mutex_);
    entries_.push_back(std::move(e));
    while (entries_.size() > kFrames) entries_.pop_front();
  }

 private:
  struct Entry {
    c10::weak_intrusive_ptr<c10::StorageImpl> storage;
    int64_t offset;
    std::vector<int64_t> sizes, strides;
    int64_t version;
    int64_t net_height, net_width;
    PreparedFrame value;
  };

  static bool matches(const Entry& e, const torch::Tensor& frame) {
    return !e.storage.expired() && e.storage._unsafe_get_target() == frame.storage().unsafeGetStorageImpl() &&
           e.offset == frame.storage_offset() && frame.sizes() == c10::IntArrayRef(e.sizes) &&
           frame.strides() == c10::IntArrayRef(e.strides) && e.version == frame._version();
  }

  std::mutex mutex_;
  std::deque<Entry> entries_;
};

// The flows of the last few frame pairs at DIS resolution, found again by the two frames' luma
// (hash, then exact bytes), so a frame met again in a new tensor (Python's arrays) still matches.
// A video's pair i needs the flows of pairs i - 1 and i + 1 for its neighbours; as two pairs are
// in flight, an entry is a shared_future: the second pair asking for flows being computed by the
// first waits for them instead of computing them again.
class FlowGuidedNetImpl::FlowMemo {
 public:
  using Flows = std::pair<torch::Tensor, torch::Tensor>;
  static constexpr size_t kPairs = 6;  // pairs i - 1 .. i + 2 of two pairs in flight, and slack

  // The flows a -> b and b -> a, from an entry for (a, b) or (b, a), else from compute(), which
  // runs without the lock.
  template <typename Compute>
  Flows get(const torch::Tensor& a, size_t hash_a, const torch::Tensor& b, size_t hash_b, Compute compute) {
    std::promise<Flows> promise;
    std::shared_future<Flows> future;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      for (const auto& e : entries_) {
        const bool forward = same(e.a, e.hash_a, a, hash_a) && same(e.b, e.hash_b, b, hash_b);
        if (forward || (same(e.a, e.hash_a, b, hash_b) && same(e.b, e.hash_b, a, hash_a))) {
          const auto found = e.flows;
          lock.unlock();  // wait for flows still being computed without the lock
          const auto& flows = found.get();
          return forward ? flows : Flows{flows.second, flows.first};
        }
      }
      future = promise.get_future().share();
      entries_.push_back({a, hash_a, b, hash_b, future});
      while (entries_.size() > kPairs) entries_.pop_front();
    }
    try {
      promise.set_value(compute());
    } catch (...) {
      promise.set_exception(std::current_exception());
      std::lock_guard<std::mutex> lock(mutex_);
      for (auto it = entries_.begin(); it != entries_.end(); ++it) {
        if (it->a.is_same(a) && it->b.is_same(b)) {
          entries_.erase(it);
          break;
        }
      }
    }
    return future.get();
  }

 private:
  struct Entry {
    torch::Tensor a;
    size_t hash_a;
    torch::Tensor b;
    size_t hash_b;
    std::shared_future<Flows> flows;
  };
  static bool same(const torch::Tensor& x, size_t hash_x, const torch::Tensor& y, size_t hash_y) {
    return x.is_same(y) || (hash_x == hash_y && x.sizes() == y.sizes() && torch::equal(x, y));
  }

  std::mutex mutex_;
  std::deque<Entry> entries_;
};

std::pair<int64_t, int64_t> FlowGuidedNetImpl::net_size(int64_t h, int64_t w) const {
  const double scale =
      std::min(1.0, std::sqrt(static_cast<double>(options_.net_max_pixels) / static_cast<double>(h * w)));
  return {std::max<int64_t>(8, std::llround(h * scale)), std::max<int64_t>(8, std::llround(w * scale))};
}

FlowGuidedNetImpl::PreparedFrame FlowGuidedNetImpl::prepare(const torch::Tensor& frame, int64_t hn, int64_t wn) {
  const bool memo = FrameMemo::applies(frame);
  if (memo) {
    if (auto found = memo_->find(frame, hn, wn)) return *found;
  }
  PreparedFrame p;
  {
    torch::NoGradGuard no_grad;
    p.luma = flow::dis_luma(frame, options_.flow);
  }
  p.at_net = resize(frame, hn, wn, true);
  p.luma_hash = std::hash<std::string_view>{}(
      std::string_view(reinterpret_cast<const char*>(p.luma.data_ptr<uint8_t>()), static_cast<size_t>(p.luma.numel())));
  if (memo) memo_->add(frame, hn, wn, p);
  return p;
}

std::pair<torch::Tensor, torch::Tensor> FlowGuidedNetImpl::pair_flows(const PreparedFrame& a, const PreparedFrame& b) {
  auto compute = [&] {
    torch::NoGradGuard no_grad;
    return flow::bidirectional_flow_from_luma(a.luma, b.luma, options_.flow);
  };
  // Training sees fresh random crops: nothing to find again.
  if (torch::GradMode::is_enabled() || a.luma.size(0) != 1) return compute();
  return flow_memo_->get(a.luma, a.luma_hash, b.luma, b.luma_hash, compute);
}

torch::Tensor FlowGuidedNetImpl::forward_at(const torch::Tensor& f0, const torch::Tensor& f2, double t) {
  return forward_times(f0, f2, {t}).front();
}

std::vector<torch::Tensor> FlowGuidedNetImpl::forward_times(const torch::Tensor& f0, const torch::Tensor& f2,
                                                            const std::vector<double>& times) {
  return forward_times(FrameWindow{{}, f0, f2, {}}, times);
}

std::vector<torch::Tensor> FlowGuidedNetImpl::forward_times(const FrameWindow& window,
                                                            const std::vector<double>& times) {
  TORCH_CHECK(window.f0.dim() == 4 && (window.f0.size(1) == 3 || window.f0.size(1) == 4) &&
                  window.f0.sizes() == window.f1.sizes(),
              "fregan-flow expects two [B, 3, H, W] (or RGBA [B, 4, H, W]) frames of the same size, got ",
              window.f0.sizes(), " and ", window.f1.sizes());
  // RGBA frames: the motion is the colour's, and the alpha moves with it.
  auto colour = [](const torch::Tensor& x) { return x.defined() && x.size(1) == 4 ? x.narrow(1, 0, 3) : x; };
  auto alpha = [](const torch::Tensor& x) { return x.size(1) == 4 ? x.narrow(1, 3, 1) : torch::Tensor(); };
  const auto f0 = colour(window.f0), f2 = colour(window.f1);
  const auto before_frame = colour(window.before), after_frame = colour(window.after);
  for (const auto* neighbour : {&before_frame, &after_frame}) {
    TORCH_CHECK(!neighbour->defined() || neighbour->sizes() == f0.sizes(), "fregan-flow: a neighbour frame ",
                neighbour->sizes(), " differs in size from the pair's ", f0.sizes());
  }
  for (double t : times) TORCH_CHECK(t > 0 && t < 1, "fregan-flow: t must be in (0, 1), got ", t);
  TORCH_CHECK(f0.size(2) >= 8 && f0.size(3) >= 8, "fregan-flow: frames must be at least 8x8, got ", f0.size(2), "x",
              f0.size(3));
  const auto [hn, wn] = net_size(f0.size(2), f0.size(3));
  const auto p0 = prepare(f0, hn, wn), p2 = prepare(f2, hn, wn);
  const bool four_frame = options_.acceleration.damping > 0;
  // Motion, once for every t, at the resolution DIS ran at (reduced for big frames).  In a video
  // the pair after this one is new and this pair's own flows were that pair's of the last call:
  // asking for the new ones first lets the other pair in flight finish these meanwhile.
  flow::NeighbourFlows after, before;
  if (four_frame && after_frame.defined()) {
    std::tie(after.to_neighbour, after.from_neighbour) = pair_flows(p2, prepare(after_frame, hn, wn));
  }
  auto [flow02, flow20] = pair_flows(p0, p2);
  if (four_frame && before_frame.defined()) {
    std::tie(before.to_neighbour, before.from_neighbour) = pair_flows(p0, prepare(before_frame, hn, wn));
  }
  torch::Tensor acceleration0, acceleration2;
  {
    torch::NoGradGuard no_grad;
    std::tie(acceleration0, acceleration2) = flow::accelerations(flow02, flow20, before, after, options_.acceleration);
  }
  // Still things, once per pair (the pixels are the same for every t).
  const torch::Tensor things =
      options_.still_tolerance > 0
          ? still_things(p0.luma, p2.luma, flow02, flow20, options_.still_tolerance, options_.still_margin)
          : torch::Tensor();
  auto on_device = [&](const torch::Tensor& x) { return x.defined() ? x.to(f0.device()) : x; };
  flow02 = on_device(flow02);
  flow20 = on_device(flow20);
  acceleration0 = on_device(acceleration0);
  acceleration2 = on_device(acceleration2);
  std::vector<torch::Tensor> out;
  for (double t : times) {
    out.push_back(synthesize(f0, f2, alpha(window.f0), alpha(window.f1), p0.at_net, p2.at_net, flow02, flow20,
                             acceleration0, acceleration2, things, t));
  }
  return out;
}

bool FlowGuidedNetImpl::head_is_zero() const {
  torch::NoGradGuard no_grad;
  return head_->weight.count_nonzero().item<int64_t>() == 0 && head_->bias.count_nonzero().item<int64_t>() == 0;
}

torch::Tensor FlowGuidedNetImpl::refinement(const torch::Tensor& f0n, const torch::Tensor& f2n,
                                            const torch::Tensor& f02n, const torch::Tensor& f20n,
                                            const torch::Tensor& ft0n, const torch::Tensor& ft2n, bool linear,
                                            double t) {
  const int64_t b = f0n.size(0), hn = f0n.size(2), wn = f0n.size(3);
  // Occlusion cue: where the two flows disagree, seen from time t; log-compressed.
  const auto occ0 = torch::log1p(flow::backward_warp(flow::consistency_error(f02n, f20n), ft0n));
  const auto occ2 = torch::log1p(flow::backward_warp(flow::consistency_error(f20n, f02n), ft2n));
  const auto t_map = torch::full({b, 1, hn, wn}, t, f0n.options());
  const double unit = 1.0 / options_.flow_unit;
  std::vector<torch::Tensor> inputs{flow::backward_warp(f0n, ft0n),
                                    flow::backward_warp(f2n, ft2n),
                                    f0n,
                                    f2n,
                                    ft0n * unit,
                                    ft2n * unit,
                                    occ0,
                                    occ2,
                                    t_map};
  if (options_.motion_inputs) {
    if (linear) {
      inputs.push_back(torch::zeros({b, kMotionChannels, hn, wn}, f0n.options()));
    } else {
      const auto [lt0, lt2] = flow::flows_from_t(f02n, f20n, t);
      inputs.push_back((ft0n - lt0) * unit);
      inputs.push_back((ft2n - lt2) * unit);
    }
  }
  auto x = torch::cat(inputs, 1);
  x = x.sub(torch::cat(
      {torch::full({1, 12, 1, 1}, 0.5, x.options()), torch::zeros({1, x.size(1) - 12, 1, 1}, x.options())}, 1));
  // oneDNN runs these small convolutions faster on channels-last tensors: fewer reorders of every
  // input and output.
  if (!torch::GradMode::is_enabled() && x.is_cpu()) x = x.contiguous(torch::MemoryFormat::ChannelsLast);

  std::vector<torch::Tensor> skips;
  for (const auto& block : *encoder_) {
    x = block->as<nn::Sequential>()->forward(x);
    skips.push_back(x);
  }
  for (size_t i = 0; i < decoder_->size(); ++i) {
    const auto& skip = skips[skips.size() - 2 - i];
    x = torch::cat({resize(x, skip.size(2), skip.size(3), false), skip}, 1);
    x = decoder_[i]->as<nn::Sequential>()->forward(x);
  }
  return head_->forward(x);
}

torch::Tensor FlowGuidedNetImpl::synthesize(const torch::Tensor& f0, const torch::Tensor& f2,
                                            const torch::Tensor& alpha0, const torch::Tensor& alpha2,
                                            const torch::Tensor& f0n, const torch::Tensor& f2n,
                                            const torch::Tensor& flow02, const torch::Tensor& flow20,
                                            const torch::Tensor& acceleration0, const torch::Tensor& acceleration2,
                                            const torch::Tensor& things, double t) {
  const int64_t b = f0.size(0), h = f0.size(2), w = f0.size(3);
  // At DIS resolution, before upscaling.
  const auto [ft0s, ft2s] = flow::flows_from_t(flow02, flow20, acceleration0, acceleration2, t, options_.acceleration);
  const bool linear = !acceleration0.defined() && !acceleration2.defined();

  // The net's resolution, and its inputs there (in training, crops are small enough that the net,
  // DIS and the frames share one resolution and every resize below is the identity).
  const int64_t hn = f0n.size(2), wn = f0n.size(3);
  const double sx = static_cast<double>(wn) / w, sy = static_cast<double>(hn) / h;
  const auto f02n = flow::resize_flow(flow02, hn, wn), f20n = flow::resize_flow(flow20, hn, wn);
  // Linear motion: the same as the resized ft0s, ft2s (everything is linear in the flows), as
  // checkpoints were trained with.  Four-frame flows weigh the acceleration per pixel: resized.
  const auto [ft0n, ft2n] = linear ? flow::flows_from_t(f02n, f20n, t)
                                   : std::make_pair(flow::resize_flow(ft0s, hn, wn), flow::resize_flow(ft2s, hn, wn));
  // A head of zeros (the untrained net: the classical four-frame path, as shipped while no trained
  // net beats it) outputs zeros whatever it sees: in inference the net need not run.
  const auto head = !torch::GradMode::is_enabled() && head_is_zero()
                        ? torch::zeros({b, head_->options.out_channels(), hn, wn}, f0.options())
                        : refinement(f0n, f2n, f02n, f20n, ft0n, ft2n, linear, t);  // [B, 4 or 8, hn, wn]

  // The mask's prior is the (1 - t) : t blend (logit log((1 - t) / t)), so a zero head is plain
  // flow warping.  Flow corrections come in units of flow_unit net pixels, like the flows the net
  // sees, and are scaled to full-resolution pixels.
  const double prior = std::log((1 - t) / t);
  // The blending mask at the net's resolution, upscaled bilinearly like the residual: one sigmoid
  // per net pixel, not per output pixel (2 M exp() per 1080p frame were 13% of the renderer).  In
  // training the net runs at the frames' resolution and the upscale is the identity.
  const auto mask = torch::sigmoid(head.narrow(1, 0, 1) + prior);
  const double cx = options_.flow_unit / sx, cy = options_.flow_unit / sy;
  const bool needs_grad =
      torch::GradMode::is_enabled() && (head.requires_grad() || f0.requires_grad() || f2.requires_grad());
  const StillPixels still{things, options_.still_tolerance, t};
  torch::Tensor colour;
  if (!needs_grad && f0.is_cpu() && f0.scalar_type() == torch::kFloat32 && f2.scalar_type() == torch::kFloat32) {
    colour = render_on_cpu(f0, f2, ft0s, ft2s, head, mask, cx, cy, options_.refine_flow, sampling_, still);
    if (!alpha0.defined()) return colour;
  }
  // The flows to t and the mask at full resolution: the tensor path's, and what moves the alpha.
  const auto out = resize(head, h, w, false);
  auto ft0 = flow::resize_flow(ft0s, h, w), ft2 = flow::resize_flow(ft2s, h, w);
  if (options_.refine_flow) {
    const auto to_full = torch::tensor({cx, cy}, out.options()).view({1, 2, 1, 1});
    ft0 = ft0 + out.narrow(1, 4, 2) * to_full;
    ft2 = ft2 + out.narrow(1, 6, 2) * to_full;
  }
  const auto full_mask = resize(mask, h, w, false);
  if (!colour.defined()) {
    colour = keep_still_pixels(full_mask * flow::backward_warp(f0, ft0, sampling_) +
                                   (1 - full_mask) * flow::backward_warp(f2, ft2, sampling_) + out.narrow(1, 1, 3),
                               f0, f2, still);
  }
  if (!alpha0.defined()) return colour;
  // The alpha is warped by the colour's flows and blended by its mask, with no residual: a sprite
  // on a transparent background moves as one, where a blend would leave two half-opaque copies.
  // (Bilinear: no overshoot at a sprite's edge.)  A still thing whose colour and alpha agree in
  // both frames keeps the blend of both.
  const auto moved_alpha = full_mask * flow::backward_warp(alpha0, ft0, flow::Sampling::Bilinear) +
                           (1 - full_mask) * flow::backward_warp(alpha2, ft2, flow::Sampling::Bilinear);
  return keep_still_pixels(torch::cat({colour, moved_alpha}, 1), torch::cat({f0, alpha0}, 1),
                           torch::cat({f2, alpha2}, 1), still);
}

}  // namespace fregan::models
