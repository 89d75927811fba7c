#include "fregan/infer/upscaler.h"

#include <algorithm>
#include <chrono>
#include <deque>
#include <filesystem>

#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>
#include <torch/torch.h>

#include "fregan/device.h"
#include "fregan/infer/frame_input.h"
#include "fregan/error.h"
#include "fregan/io/atomic_file.h"
#include "fregan/io/output_guard.h"
#include "fregan/io/image.h"
#include "fregan/io/video.h"
#include "fregan/log.h"
#include "fregan/metrics/metrics.h"
#include "fregan/models/checkpoint.h"
#include "fregan/zoo/zoo.h"

namespace fs = std::filesystem;

namespace fregan::infer {
namespace {

constexpr const char* kDefaultUpscalerFile = "spectraframe.pt";

// The largest top-left part of `image` whose sides are multiples of `scale`.
cv::Mat cut_to_multiple(const cv::Mat& image, int scale) {
  const int w = image.cols - image.cols % scale, h = image.rows - image.rows % scale;
  require(w >= scale && h >= scale, "frames of " + std::to_string(image.cols) + "x" + std::to_string(image.rows) +
                                        " are too small to downscale by " + std::to_string(scale));
  return image(cv::Rect(0, 0, w, h));
}

// Running means of the model's and bicubic's scores against HR frames.
struct ScoreSums {
  SrEvaluation e;
  void add(const cv::Mat& sr, const cv::Mat& bicubic, const cv::Mat& hr) {
    for (auto [s, out] : {std::pair{&e.model, &sr}, std::pair{&e.bicubic, &bicubic}}) {
      s->psnr += metrics::psnr(*out, hr);
      s->ssim += metrics::ssim(*out, hr);
      s->psnr_y += metrics::psnr_y(*out, hr);
      s->ssim_y += metrics::ssim_y(*out, hr);
      s->sharpness_y += metrics::sharpness_y(*out, hr);
    }
    ++e.frames;
  }
  SrEvaluation mean() const {
    SrEvaluation m = e;
    const double n = static_cast<double>(std::max<int64_t>(e.frames, 1));
    for (SrScores* s : {&m.model, &m.bicubic}) {
      s->psnr /= n;
      s->ssim /= n;
      s->psnr_y /= n;
      s->ssim_y /= n;
      s->sharpness_y /= n;
    }
    return m;
  }
};

}  // namespace

std::string default_upscaler_weights_path() { return zoo::default_weights(kDefaultUpscalerFile, "FREGAN_SR_WEIGHTS"); }

cv::Mat bicubic_upscale(const cv::Mat& lr, int scale) {
  cv::Mat out;
  cv::resize(lr, out, cv::Size(lr.cols * scale, lr.rows * scale), 0, 0, cv::INTER_CUBIC);
  return out;
}

Upscaler::Upscaler(const std::string& weights, const std::string& device) : device_(select_device(device)) {
  set_num_threads(0);
  const std::string path = weights.empty() ? default_upscaler_weights_path() : zoo::resolve_weights(weights);
  models::CheckpointMeta meta;
  generator_ = models::load_spectraframe(path, device_, &meta, /*with_discriminator=*/false).generator;
  step_ = meta.step;
  generator_->eval();
}

Upscaler::Upscaler(models::SpectraFrameGenerator generator, torch::Device device)
    : device_(device), generator_(std::move(generator)) {}

void validate(const SrTilingOptions& o) {
  require(o.tile >= 0, "sr tiling: tile must be >= 0 (0 = off), got " + std::to_string(o.tile));
  require(o.tile == 0 || o.tile >= 16, "sr tiling: tile must be 0 or >= 16 LR pixels, got " + std::to_string(o.tile));
  require(o.overlap >= 0, "sr tiling: overlap must be >= 0, got " + std::to_string(o.overlap));
}

void Upscaler::set_tiling(const SrTilingOptions& tiling) {
  validate(tiling);
  tiling_ = tiling;
}

namespace {

// The parts an axis of `length` LR pixels is cut into: [begin, end) each, equal within a pixel.
std::vector<std::pair<int64_t, int64_t>> tile_cells(int64_t length, const SrTilingOptions& o) {
  const int64_t parts =
      o.tile == 0 || length <= o.tile + 2 * static_cast<int64_t>(o.overlap) ? 1 : (length + o.tile - 1) / o.tile;
  std::vector<std::pair<int64_t, int64_t>> cells;
  for (int64_t i = 0; i < parts; ++i) cells.emplace_back(i * length / parts, (i + 1) * length / parts);
  return cells;
}

}  // namespace

torch::Tensor Upscaler::upscale(const torch::Tensor& lr, const torch::Tensor& neighbours) {
  torch::NoGradGuard no_grad;
  const bool was_training = generator_->is_training();
  generator_->eval();
  const auto x = lr.to(device_, torch::kFloat32), nb = neighbours.to(device_, torch::kFloat32);
  const auto flows = models::spectraframe_flows(x, nb);
  const int64_t h = x.size(2), w = x.size(3), s = scale(), overlap = tiling_.overlap;
  const auto rows = tile_cells(h, tiling_), cols = tile_cells(w, tiling_);
  torch::Tensor out;
  if (rows.size() == 1 && cols.size() == 1) {
    out = generator_->forward(x, nb, flows);
  } else {
    out = torch::empty({x.size(0), 3, s * h, s * w}, x.options());
    for (const auto& [y0, y1] : rows) {
      for (const auto& [x0, x1] : cols) {
        // The cell with its context, clamped to the frame.
        const int64_t cy0 = std::max<int64_t>(y0 - overlap, 0), cy1 = std::min(y1 + overlap, h);
        const int64_t cx0 = std::max<int64_t>(x0 - overlap, 0), cx1 = std::min(x1 + overlap, w);
        auto region = [&](const torch::Tensor& t) { return t.narrow(-2, cy0, cy1 - cy0).narrow(-1, cx0, cx1 - cx0); };
        const auto tile =
            generator_->forward(region(x).contiguous(), region(nb).contiguous(), region(flows).contiguous());
        out.narrow(2, s * y0, s * (y1 - y0))
            .narrow(3, s * x0, s * (x1 - x0))
            .copy_(tile.narrow(2, s * (y0 - cy0), s * (y1 - y0)).narrow(3, s * (x0 - cx0), s * (x1 - x0)));
      }
    }
  }
  out.clamp_(0.0, 1.0);
  if (was_training) generator_->train();
  return out.to(lr.device());
}

cv::Mat Upscaler::upscale(const cv::Mat& lr, const std::vector<cv::Mat>& neighbours) {
  require(static_cast<int>(neighbours.size()) == this->neighbours(),
          "upscale: the model fuses " + std::to_string(this->neighbours()) + " neighbours, got " +
              std::to_string(neighbours.size()));
  std::vector<torch::Tensor> nb;
  for (const auto& n : neighbours) {
    require(n.size() == lr.size(), "upscale: neighbours must have the size of the frame");
    nb.push_back(io::image_to_tensor(n));
  }
  return io::tensor_to_image(upscale(io::image_to_tensor(lr).unsqueeze(0), torch::stack(nb).unsqueeze(0)));
}

std::vector<int64_t> Upscaler::neighbour_indices(int64_t t, int64_t count) const {
  const int64_t n = neighbours(), before = n / 2;
  std::vector<int64_t> out;
  for (int64_t d = -before; static_cast<int64_t>(out.size()) < n; ++d) {
    if (d == 0) continue;
    int64_t j = std::max<int64_t>(t + d, 0);
    if (count >= 0) j = std::min(j, count - 1);
    out.push_back(j);
  }
  return out;
}

nlohmann::json to_json(const SrEvaluation& e) {
  auto s = [](const SrScores& x) {
    return nlohmann::json{{"psnr", x.psnr}, {"ssim", x.ssim}, {"psnr_y", x.psnr_y}, {"ssim_y", x.ssim_y}, {"sharpness_y", x.sharpness_y}};
  };
  return {{"frames", e.frames}, {"model", s(e.model)}, {"bicubic", s(e.bicubic)}};
}

nlohmann::json to_json(const UpscaleVideoResult& r) {
  nlohmann::json j{{"frames", r.frames},
                   {"lr_width", r.lr_width},
                   {"lr_height", r.lr_height},
                   {"width", r.width},
                   {"height", r.height},
                   {"fps", r.fps},
                   {"evaluated", r.evaluated},
                   {"audio_kept", r.audio_kept},
                   {"seconds", r.seconds},
                   {"upscale_seconds", r.upscale_seconds},
                   {"score_seconds", r.score_seconds}};
  if (r.evaluated) j["scores"] = to_json(r.scores);
  return j;
}

SrEvaluation evaluate_sr(Upscaler& upscaler, const data::SrDataset& dataset, int64_t max_frames, int crop) {
  const int s = upscaler.scale();
  require(crop == 0 || (crop >= 16 && crop % s == 0), "evaluate_sr: crop must be 0 or a multiple of the scale >= 16");
  const int64_t total = static_cast<int64_t>(dataset.size());
  const int64_t count = max_frames > 0 ? std::min(max_frames, total) : total;
  ScoreSums sums;
  for (int64_t k = 0; k < count; ++k) {
    // Evenly spaced over all clips' frames.
    const auto [c, t] = dataset.locate(static_cast<size_t>(count > 1 ? k * (total - 1) / (count - 1) : 0));
    const auto& clip = dataset.clip(c);
    const cv::Mat& frame = clip[static_cast<size_t>(t)];
    cv::Rect region(0, 0, frame.cols - frame.cols % s, frame.rows - frame.rows % s);
    if (crop > 0 && frame.cols >= crop && frame.rows >= crop) {
      // Centre crop, origin on the LR grid.
      region = cv::Rect((frame.cols - crop) / 2 / s * s, (frame.rows - crop) / 2 / s * s, crop, crop);
    }
    const cv::Mat hr = frame(region);
    const cv::Mat lr = data::bicubic_downsample(hr, s);
    std::vector<cv::Mat> neighbours;
    for (const int64_t j : upscaler.neighbour_indices(t, static_cast<int64_t>(clip.size()))) {
      neighbours.push_back(data::bicubic_downsample(clip[static_cast<size_t>(j)](region), s));
    }
    sums.add(upscaler.upscale(lr, neighbours), bicubic_upscale(lr, s), hr);
  }
  return sums.mean();
}

UpscaleVideoResult upscale_video(Upscaler& upscaler, const UpscaleVideoOptions& o) {
  require(!o.input.empty(), "upscale needs an input video or frame folder");
  require(o.max_frames >= 0, "max_frames must be >= 0");
  if (!fs::exists(o.input)) throw FileError("input '" + o.input + "' does not exist");
  const auto start = std::chrono::steady_clock::now();
  const int s = upscaler.scale();
  FrameInput in = open_frame_input(o.input, 0, InputTiming::kContainerRate);
  UpscaleVideoResult result;
  result.fps = in.fps;
  result.evaluated = !o.upscale_only;

  std::unique_ptr<io::AtomicOutput> output;
  std::unique_ptr<io::VideoWriter> writer;
  if (!o.output.empty()) {
    require(io::is_video_file(o.output),
            "upscale output '" + o.output + "' is not a video file name (.mp4, .mkv, ...)");
    io::check_output_is_not_an_input(o.output, {o.input});
    output = std::make_unique<io::AtomicOutput>(o.output, o.overwrite);
  }

  // The window: LR frames (and in evaluation mode their HR originals) window_start, ...
  struct Item {
    cv::Mat lr, hr;
  };
  std::deque<Item> window;
  int64_t window_start = 0, read = 0;
  bool ended = false;
  auto read_until = [&](int64_t index) {  // frames up to `index` in the window, or the end
    while (!ended && read <= index) {
      cv::Mat frame;
      if ((o.max_frames > 0 && read >= o.max_frames) || !in.read(frame)) {
        ended = true;
        break;
      }
      // The model takes 8-bit BGR: a folder's frames as read_image gives them (alpha dropped, 16
      // bits scaled).
      if (in.is_folder) frame = io::to_bgr8(frame, "frame " + std::to_string(read) + " of '" + o.input + "'");
      Item item;
      if (o.upscale_only) {
        item.lr = frame;
      } else {
        item.hr = cut_to_multiple(frame, s).clone();
        item.lr = data::bicubic_downsample(item.hr, s);
      }
      if (read == 0) {
        result.lr_width = item.lr.cols;
        result.lr_height = item.lr.rows;
        result.width = item.lr.cols * s;
        result.height = item.lr.rows * s;
      } else if (item.lr.cols != result.lr_width || item.lr.rows != result.lr_height) {
        throw FileError("'" + o.input + "': frame " + std::to_string(read) + " differs in size from the first");
      }
      window.push_back(std::move(item));
      ++read;
    }
  };

  const int64_t after = upscaler.neighbours() - upscaler.neighbours() / 2;
  ScoreSums sums;
  for (int64_t t = 0;; ++t) {
    read_until(t + after);
    if (t >= read) break;
    std::vector<cv::Mat> neighbours;
    for (const int64_t j : upscaler.neighbour_indices(t, ended ? read : -1)) {
      neighbours.push_back(window[static_cast<size_t>(j - window_start)].lr);
    }
    const Item& current = window[static_cast<size_t>(t - window_start)];
    const auto before_upscale = std::chrono::steady_clock::now();
    const cv::Mat sr = upscaler.upscale(current.lr, neighbours);
    const auto after_upscale = std::chrono::steady_clock::now();
    result.upscale_seconds += std::chrono::duration<double>(after_upscale - before_upscale).count();
    if (!o.upscale_only) {
      sums.add(sr, bicubic_upscale(current.lr, s), current.hr);
      result.score_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - after_upscale).count();
    }
    if (output && !writer) {
      io::VideoWriterOptions wo;
      wo.fps = result.fps;
      wo.codec = o.codec;
      wo.crf = o.crf;
      if (o.keep_audio && !in.is_folder) wo.audio_from = o.input;
      writer = std::make_unique<io::VideoWriter>(output->temp_path(), sr.cols, sr.rows, wo);
    }
    if (writer) writer->write(sr);
    result.frames = t + 1;
    // Frames before t + 1 - n/2 are nobody's neighbour any more.
    while (window_start < t + 1 - upscaler.neighbours() / 2) {
      window.pop_front();
      ++window_start;
    }
    if (o.progress) {
      const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (!o.progress({result.frames, in.frame_count, result.frames / std::max(elapsed, 1e-9)})) {
        log::info("upscale stopped by the caller after " + std::to_string(result.frames) + " frames");
        break;
      }
    }
  }
  if (result.frames == 0) throw FileError("'" + o.input + "' has no frames to upscale");
  if (writer) {
    writer->close();
    result.audio_kept = writer->keeps_audio();
    output->commit();
  }
  if (!o.upscale_only) result.scores = sums.mean();
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace fregan::infer
