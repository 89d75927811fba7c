#pragma once
// Differentiable augmentation (DiffAugment, Zhao et al. 2020, "Differentiable Augmentation for
// Data-Efficient GAN Training"): the same kinds of random transforms applied to the real and to the
// generated frames D sees (each sample its own draw), so D cannot memorise a small training set;
// the transforms are differentiable, so G still gets its gradient through them.
#include <string>

#include <torch/types.h>

namespace fregan::train {

struct DiffAugmentPolicy {
  bool color = false;        // brightness + U(-0.5, 0.5), saturation x U(0, 2), contrast x U(0.5, 1.5)
  bool translation = false;  // shift by up to 1/8 of the height / width, zeros shifted in
  bool cutout = false;       // a zeroed rectangle of half the height and width, centred anywhere
  bool flip = false;         // horizontal flip with probability 1/2
  bool any() const { return color || translation || cutout || flip; }
};

// "color,translation,cutout,flip" (any subset, any order; "" = none).  Throws InvalidArgument
// naming an unknown word.
DiffAugmentPolicy parse_diff_augment(const std::string& policy);

// frames [B, C, H, W] on the generators' [-1, 1] scale (0 = grey, what translation and cutout fill
// in); the random parameters come from torch's default generator, in the order color, translation,
// cutout, flip.
torch::Tensor diff_augment(const torch::Tensor& frames, const DiffAugmentPolicy& policy);

}  // namespace fregan::train
