#include "fregan/train/diff_augment.h"

#include <sstream>

#include <torch/torch.h>

#include "fregan/error.h"

namespace fregan::train {

DiffAugmentPolicy parse_diff_augment(const std::string& policy) {
  DiffAugmentPolicy p;
  std::stringstream in(policy);
  std::string word;
  while (std::getline(in, word, ',')) {
    if (word.empty()) continue;
    if (word == "color") p.color = true;
    else if (word == "translation") p.translation = true;
    else if (word == "cutout") p.cutout = true;
    else if (word == "flip") p.flip = true;
    else
      throw InvalidArgument("diff_augment: unknown transform '" + word +
                            "' (use any of color, translation, cutout, flip, comma-separated)");
  }
  return p;
}

namespace {

// U[0, 1) per sample, shaped to broadcast over [B, C, H, W].
torch::Tensor per_sample(const torch::Tensor& x) { return torch::rand({x.size(0), 1, 1, 1}, x.options()); }

torch::Tensor color(torch::Tensor x) {
  x = x + (per_sample(x) - 0.5);
  auto mean = x.mean(1, /*keepdim=*/true);
  x = (x - mean) * (per_sample(x) * 2.0) + mean;
  mean = x.mean({1, 2, 3}, /*keepdim=*/true);
  return (x - mean) * (per_sample(x) + 0.5) + mean;
}

torch::Tensor translation(const torch::Tensor& x) {
  const int64_t h = x.size(2), w = x.size(3);
  const int64_t sy = (h + 4) / 8, sx = (w + 4) / 8;  // 1/8 of the size, rounded
  const auto ty = torch::randint(-sy, sy + 1, {x.size(0)}), tx = torch::randint(-sx, sx + 1, {x.size(0)});
  const auto padded = torch::constant_pad_nd(x, {sx, sx, sy, sy});
  std::vector<torch::Tensor> out;
  for (int64_t b = 0; b < x.size(0); ++b) {
    // Content moves down / right by (ty, tx): the window starts (sy - ty, sx - tx) into the padding.
    out.push_back(padded[b].narrow(1, sy - ty[b].item<int64_t>(), h).narrow(2, sx - tx[b].item<int64_t>(), w));
  }
  return torch::stack(out);
}

torch::Tensor cutout(const torch::Tensor& x) {
  const int64_t b = x.size(0), h = x.size(2), w = x.size(3);
  const int64_t ch = (h + 1) / 2, cw = (w + 1) / 2;
  const auto cy = torch::randint(0, h, {b, 1, 1}), cx = torch::randint(0, w, {b, 1, 1});
  const auto rows = torch::arange(h).view({1, h, 1}), cols = torch::arange(w).view({1, 1, w});
  const auto top = cy - ch / 2, left = cx - cw / 2;
  const auto inside =
      rows.ge(top).logical_and(rows.lt(top + ch)).logical_and(cols.ge(left)).logical_and(cols.lt(left + cw));
  return x * inside.logical_not().unsqueeze(1).to(x.options());
}

torch::Tensor flip(const torch::Tensor& x) {
  const auto which = torch::rand({x.size(0), 1, 1, 1}).lt(0.5).to(x.device());
  return torch::where(which, x.flip(3), x);
}

}  // namespace

torch::Tensor diff_augment(const torch::Tensor& frames, const DiffAugmentPolicy& p) {
  FREGAN_CHECK(frames.dim() == 4, "diff_augment expects frames [B, C, H, W], got ", frames.sizes());
  torch::Tensor x = frames;
  if (p.color) x = color(x);
  if (p.translation) x = translation(x);
  if (p.cutout) x = cutout(x);
  if (p.flip) x = flip(x);
  return x;
}

}  // namespace fregan::train
