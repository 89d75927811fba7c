#include "fregan/io/image_grid.h"

#include <cmath>
#include <string>

#include "fregan/error.h"

namespace fregan::io {

GridLayout grid_layout(int n, int cols) {
  require(n >= 1, "image grid: need at least one image, got " + std::to_string(n));
  require(cols >= 0, "image grid: cols must be >= 0 (0 = automatic), got " + std::to_string(cols));
  GridLayout layout;
  if (cols == 0) {
    cols = static_cast<int>(std::ceil(std::sqrt(static_cast<double>(n))));
    while (cols * cols < n) ++cols;  // guard against sqrt rounding down
    while (cols > 1 && (cols - 1) * (cols - 1) >= n) --cols;
  }
  layout.cols = cols;
  layout.rows = (n + layout.cols - 1) / layout.cols;
  return layout;
}

cv::Mat make_grid(const std::vector<cv::Mat>& images, const GridOptions& o) {
  require(!images.empty(), "image grid: no images");
  require(o.padding >= 0, "image grid: padding must be >= 0");
  const auto layout = grid_layout(static_cast<int>(images.size()), o.cols);
  const cv::Mat& first = images.front();
  require(!first.empty(), "image grid: image 0 is empty");
  const int w = first.cols, h = first.rows, p = o.padding;
  for (size_t i = 1; i < images.size(); ++i) {
    require(images[i].size() == first.size() && images[i].type() == first.type(),
            "image grid: image " + std::to_string(i) + " is " + std::to_string(images[i].cols) + "x" +
                std::to_string(images[i].rows) + ", image 0 is " + std::to_string(w) + "x" + std::to_string(h) +
                " (all images must have the same size and type)");
  }
  cv::Mat grid(layout.rows * h + (layout.rows + 1) * p, layout.cols * w + (layout.cols + 1) * p, first.type(),
               o.background);
  for (size_t i = 0; i < images.size(); ++i) {
    const int r = static_cast<int>(i) / layout.cols, c = static_cast<int>(i) % layout.cols;
    images[i].copyTo(grid(cv::Rect(p + c * (w + p), p + r * (h + p), w, h)));
  }
  return grid;
}

}  // namespace fregan::io
