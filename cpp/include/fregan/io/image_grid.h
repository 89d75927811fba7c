#pragma once
// Many images of one size tiled into one (sample grids of generative models, contact sheets).
#include <vector>

#include <opencv2/core.hpp>

namespace fregan::io {

struct GridLayout {
  int rows = 0, cols = 0;
};

// n images in rows of `cols` (0 = ceil(sqrt(n))), as many rows as needed (ceil(n / cols)).  n >= 1.
GridLayout grid_layout(int n, int cols = 0);

struct GridOptions {
  int cols = 0;     // 0 = ceil(sqrt(n))
  int padding = 2;  // pixels around and between the images
  cv::Scalar background{0, 0, 0};
};

// Image i (row-major) is placed at x = padding + (i % cols) * (w + padding),
// y = padding + (i / cols) * (h + padding); the grid is cols * w + (cols + 1) * padding wide and
// rows * h + (rows + 1) * padding high; unused cells stay background.  All images must have the
// same size and type (InvalidArgument otherwise).
cv::Mat make_grid(const std::vector<cv::Mat>& images, const GridOptions& options = {});

}  // namespace fregan::io
