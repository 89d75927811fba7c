#pragma once
// Bilinear sampling of planar float images with the coordinate clamped into the frame: what
// grid_sample does with padding_mode = border and align_corners = true, without autograd.  Shared
// by backward_warp's CPU path and fregan-flow's fused renderer, so the two agree to the last bit
// with each other and to float rounding with grid_sample (OpenCV's remap would quantise the
// weights to 1/32 pixel).
#include <algorithm>
#include <cstdint>

namespace fregan::flow::detail {

// `channels` planes of h x w floats, one after the other, sampled at (x, y) into out[0..channels).
inline void sample_clamped(const float* planes, int64_t channels, int64_t h, int64_t w, float x, float y, float* out) {
  x = std::min(std::max(x, 0.0f), static_cast<float>(w - 1));
  y = std::min(std::max(y, 0.0f), static_cast<float>(h - 1));
  const int64_t x0 = static_cast<int64_t>(x), y0 = static_cast<int64_t>(y);
  const int64_t x1 = std::min(x0 + 1, w - 1), y1 = std::min(y0 + 1, h - 1);
  const float ax = x - static_cast<float>(x0), ay = y - static_cast<float>(y0);
  const int64_t plane = h * w, i00 = y0 * w + x0, i01 = y0 * w + x1, i10 = y1 * w + x0, i11 = y1 * w + x1;
  for (int64_t c = 0; c < channels; ++c) {
    const float* p = planes + c * plane;
    const float top = p[i00] + ax * (p[i01] - p[i00]);
    const float bottom = p[i10] + ax * (p[i11] - p[i10]);
    out[c] = top + ay * (bottom - top);
  }
}

}  // namespace fregan::flow::detail
