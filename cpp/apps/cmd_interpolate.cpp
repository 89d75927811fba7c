#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "commands.h"
#include "fregan/error.h"
#include "fregan/infer/interpolator.h"
#include "fregan/infer/video_job.h"
#include "fregan/io/atomic_file.h"
#include "fregan/io/image.h"
#include "fregan/io/video.h"
#include "fregan/log.h"

namespace fregan::cli {

void add_interpolate(CLI::App& app) {
  struct Args {
    std::vector<std::string> inputs;
    std::string output, weights, device = "auto", codec = "libx264";
    int factor = 2, crf = 18;
    infer::TilingOptions tiling;
    double t = 0.5;
    bool overwrite = false, no_audio = false;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("interpolate",
                                 "Make the frame between two images (a.png b.png -o mid.png) or raise a video's frame rate "
                                 "(in.mp4 -o out.mp4 --factor 2)");
  cmd->add_option("inputs", a->inputs, "Two images, or one video")->required()->expected(1, 2);
  cmd->add_option("-o,--output", a->output, "Output image or video")->required();
  cmd->add_option("--weights", a->weights, "Checkpoint (default: the shipped model)");
  cmd->add_option("--factor", a->factor, "Video: frame-rate multiplier (power of two)")->capture_default_str();
  cmd->add_option("-t,--time", a->t, "Images: time of the new frame in (0, 1)")->capture_default_str();
  cmd->add_option("--device", a->device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_option("--codec", a->codec, "Video encoder (ffmpeg name)")->capture_default_str();
  cmd->add_option("--crf", a->crf, "Video quality (x264/x265/vp9 CRF)")->capture_default_str();
  cmd->add_option("--tile", a->tiling.tile, "Run the model on overlapping tiles of this size (pixels; 0 = whole frames) "
                  "to bound memory on large frames")->capture_default_str();
  cmd->add_option("--tile-overlap", a->tiling.overlap, "Pixels shared by neighbouring tiles")->capture_default_str();
  cmd->add_flag("--no-audio", a->no_audio, "Do not copy the input's audio");
  cmd->add_flag("--overwrite", a->overwrite, "Replace an existing output");
  cmd->callback([a] {
    if (a->inputs.size() == 2) {
      // Read both inputs before loading the model: bad input fails fast.
      const cv::Mat f0 = io::read_image(a->inputs[0]);
      const cv::Mat f1 = io::read_image(a->inputs[1]);
      require(f0.size() == f1.size(), "'" + a->inputs[0] + "' is " + std::to_string(f0.cols) + "x" + std::to_string(f0.rows) +
                                          " but '" + a->inputs[1] + "' is " + std::to_string(f1.cols) + "x" +
                                          std::to_string(f1.rows) + ": the two frames must have the same size");
      io::check_output_path(a->output, a->overwrite);
      infer::Interpolator interpolator(a->weights, a->device);
      interpolator.set_tiling(a->tiling);
      io::write_image(a->output, interpolator.interpolate(f0, f1, a->t), a->overwrite);
      log::info("wrote " + a->output);
      return;
    }
    const std::string& input = a->inputs[0];
    if (io::is_image_file(input)) throw InvalidArgument("one image given: pass two images, or a video");
    infer::VideoJobOptions job;
    job.input = input;
    job.output = a->output;
    job.factor = a->factor;
    job.overwrite = a->overwrite;
    job.codec = a->codec;
    job.crf = a->crf;
    job.keep_audio = !a->no_audio;
    job.progress = [](int64_t done, int64_t total) {
      if (done % 10 == 0 || done == total) {
        std::fprintf(stderr, "\rframe %lld/%lld", (long long)done, (long long)total);
        std::fflush(stderr);
      }
    };
    io::VideoReader probe(input);  // fails on a bad input before the model loads
    io::check_output_path(a->output, a->overwrite);
    infer::Interpolator interpolator(a->weights, a->device);
    interpolator.set_tiling(a->tiling);
    const auto r = infer::interpolate_video(interpolator, job);
    std::fprintf(stderr, "\n");
    char line[256];
    std::snprintf(line, sizeof line, "wrote %s: %lld frames at %.3f fps from %lld at %.3f fps (%dx%d), audio %s, %.1f s",
                  a->output.c_str(), (long long)r.output_frames, r.output_fps, (long long)r.input_frames, r.input_fps,
                  r.width, r.height, r.audio_kept ? "kept" : "none", r.seconds);
    log::info(line);
  });
}

}  // namespace fregan::cli
