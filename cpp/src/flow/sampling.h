#pragma once
// Sampling of planar float images at fractional positions, borders replicated, exactly as
// grid_sample does with padding_mode = border and align_corners = true (without autograd):
// bilinear, and bicubic (cubic convolution, A = -0.75, each of the 16 taps clamped into the frame).
// Shared by backward_warp's CPU path and fregan-flow's fused renderer, so they agree with each
// other to the last bit and with grid_sample to float rounding.
#include <algorithm>
#include <cmath>
#include <cstdint>

#if defined(__SSE2__)
#include <immintrin.h>
#endif

namespace fregan::flow::detail {

// `channels` planes of h x w pixels (float, or uint8 such as DIS's luma), one after the other,
// sampled at (x, y) into out[0..channels).
template <typename Pixel>
inline void sample_bilinear(const Pixel* planes, int64_t channels, int64_t h, int64_t w, float x, float y, float* out) {
  x = std::min(std::max(x, 0.0f), static_cast<float>(w - 1));
  y = std::min(std::max(y, 0.0f), static_cast<float>(h - 1));
  const int64_t x0 = static_cast<int64_t>(x), y0 = static_cast<int64_t>(y);
  const int64_t x1 = std::min(x0 + 1, w - 1), y1 = std::min(y0 + 1, h - 1);
  const float ax = x - static_cast<float>(x0), ay = y - static_cast<float>(y0);
  const int64_t plane = h * w, i00 = y0 * w + x0, i01 = y0 * w + x1, i10 = y1 * w + x0, i11 = y1 * w + x1;
  for (int64_t c = 0; c < channels; ++c) {
    const Pixel* p = planes + c * plane;
    const float p00 = static_cast<float>(p[i00]), p01 = static_cast<float>(p[i01]);
    const float p10 = static_cast<float>(p[i10]), p11 = static_cast<float>(p[i11]);
    const float top = p00 + ax * (p01 - p00);
    const float bottom = p10 + ax * (p11 - p10);
    out[c] = top + ay * (bottom - top);
  }
}

// Cubic convolution weights of the taps at -1, 0, 1, 2 for a fraction t in [0, 1) (Keys, A = -0.75
// as in PyTorch and OpenCV).
inline void cubic_weights(float t, float* weights) {
  constexpr float a = -0.75f;
  auto near = [](float d) { return ((a + 2) * d - (a + 3)) * d * d + 1; };       // |d| <= 1
  auto far = [](float d) { return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a; };  // 1 < |d| < 2
  weights[0] = far(t + 1);
  weights[1] = near(t);
  weights[2] = near(1 - t);
  weights[3] = far(2 - t);
}

// Cubic convolution weights for a fraction t in [0, 1), the 4 taps in one vector: each weight is a
// cubic in its tap's distance d (t + 1, t, 1 - t, 2 - t), evaluated by Horner's rule with the
// coefficients of `far` for the outer taps and of `near` for the inner ones, the same operations in
// the same order as cubic_weights (the near polynomial's linear term is 0: adding it is exact).
#if defined(__SSE2__)
inline __m128 cubic_weights_sse(float t) {
  constexpr float a = -0.75f;
  const __m128 d = _mm_add_ps(_mm_mul_ps(_mm_set1_ps(t), _mm_setr_ps(1, 1, -1, -1)), _mm_setr_ps(1, 0, 1, 2));
  const __m128 c3 = _mm_setr_ps(a, a + 2, a + 2, a), c2 = _mm_setr_ps(-5 * a, -(a + 3), -(a + 3), -5 * a);
  const __m128 c1 = _mm_setr_ps(8 * a, 0, 0, 8 * a), c0 = _mm_setr_ps(-4 * a, 1, 1, -4 * a);
  return _mm_add_ps(_mm_mul_ps(_mm_add_ps(_mm_mul_ps(_mm_add_ps(_mm_mul_ps(c3, d), c2), d), c1), d), c0);
}
#endif

#if defined(__GNUC__)
#define FREGAN_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define FREGAN_ALWAYS_INLINE inline
#endif

// Inlined into the callers' pixel loops: called twice per output pixel by fregan-flow's renderer.
FREGAN_ALWAYS_INLINE void sample_bicubic(const float* planes, int64_t channels, int64_t h, int64_t w, float x, float y,
                                         float* out) {
  // Far outside the frame every tap is clamped to the border anyway; bounding the coordinate keeps
  // the integer conversion defined.
  x = std::min(std::max(x, -2.0f), static_cast<float>(w + 1));
  y = std::min(std::max(y, -2.0f), static_cast<float>(h + 1));
  // floor() by truncation of a positive number (x, y >= -2): std::floor is a library call on
  // x86-64 without SSE4.1, and this runs for every output pixel.
  const int64_t ix = static_cast<int64_t>(x + 2.0f) - 2, iy = static_cast<int64_t>(y + 2.0f) - 2;
  const float tx = x - static_cast<float>(ix), ty = y - static_cast<float>(iy);
  const int64_t x0 = ix - 1, y0 = iy - 1;
  const int64_t plane = h * w;
#if defined(__SSE2__)
  if (x0 >= 0 && x0 + 3 < w && y0 >= 0 && y0 + 3 < h) {
    // Inside the frame (nearly every pixel): the four taps of a row are one vector (SSE2 is on
    // every x86-64), and three channels' horizontal sums are done at once by a transpose.
    const __m128 wxv = cubic_weights_sse(tx), wyv = cubic_weights_sse(ty);
    const __m128 wy0 = _mm_shuffle_ps(wyv, wyv, _MM_SHUFFLE(0, 0, 0, 0));
    const __m128 wy1 = _mm_shuffle_ps(wyv, wyv, _MM_SHUFFLE(1, 1, 1, 1));
    const __m128 wy2 = _mm_shuffle_ps(wyv, wyv, _MM_SHUFFLE(2, 2, 2, 2));
    const __m128 wy3 = _mm_shuffle_ps(wyv, wyv, _MM_SHUFFLE(3, 3, 3, 3));
    auto weighted = [&](const float* p) {  // the 4 x 4 taps from p, weighted and summed down the columns
      __m128 columns = _mm_mul_ps(wy0, _mm_loadu_ps(p));
      columns = _mm_add_ps(columns, _mm_mul_ps(wy1, _mm_loadu_ps(p + w)));
      columns = _mm_add_ps(columns, _mm_mul_ps(wy2, _mm_loadu_ps(p + 2 * w)));
      columns = _mm_add_ps(columns, _mm_mul_ps(wy3, _mm_loadu_ps(p + 3 * w)));
      return _mm_mul_ps(columns, wxv);
    };
    const float* p = planes + y0 * w + x0;
    int64_t c = 0;
    for (; c + 3 <= channels; c += 3, p += 3 * plane) {
      __m128 r0 = weighted(p), r1 = weighted(p + plane), r2 = weighted(p + 2 * plane), r3 = _mm_setzero_ps();
      _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
      float sums[4];
      _mm_storeu_ps(sums, _mm_add_ps(_mm_add_ps(r0, r1), _mm_add_ps(r2, r3)));
      out[c] = sums[0];
      out[c + 1] = sums[1];
      out[c + 2] = sums[2];
    }
    for (; c < channels; ++c, p += plane) {
      __m128 v = weighted(p);
      v = _mm_add_ps(v, _mm_movehl_ps(v, v));
      v = _mm_add_ss(v, _mm_shuffle_ps(v, v, _MM_SHUFFLE(1, 1, 1, 1)));
      out[c] = _mm_cvtss_f32(v);
    }
    return;
  }
#endif
  float wx[4], wy[4];
  cubic_weights(tx, wx);
  cubic_weights(ty, wy);
  int64_t xs[4], rows[4];
  for (int k = 0; k < 4; ++k) {
    xs[k] = std::min(std::max(x0 + k, int64_t{0}), w - 1);
    rows[k] = std::min(std::max(y0 + k, int64_t{0}), h - 1) * w;
  }
  for (int64_t c = 0; c < channels; ++c) {
    const float* p = planes + c * plane;
    float sum = 0;
    for (int r = 0; r < 4; ++r) {
      const float* row = p + rows[r];
      sum += wy[r] * (wx[0] * row[xs[0]] + wx[1] * row[xs[1]] + wx[2] * row[xs[2]] + wx[3] * row[xs[3]]);
    }
    out[c] = sum;
  }
}

}  // namespace fregan::flow::detail
