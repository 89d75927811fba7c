#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <ATen/Parallel.h>

#include "commands.h"
#include "fregan/error.h"
#include "fregan/infer/interpolator.h"
#include "fregan/infer/video_job.h"
#include "fregan/io/atomic_file.h"
#include "fregan/io/image.h"
#include "fregan/io/output_guard.h"
#include "fregan/io/video.h"
#include "fregan/log.h"

namespace fregan::cli {
namespace {

std::atomic<bool> g_interrupted{false};

std::string clock_text(double seconds) {
  const auto s = static_cast<long long>(seconds);
  char buf[32];
  if (s >= 3600) std::snprintf(buf, sizeof buf, "%lldh%02lldm", s / 3600, s % 3600 / 60);
  else std::snprintf(buf, sizeof buf, "%lldm%02llds", s / 60, s % 60);
  return buf;
}

// A progress bar on a terminal (redrawn in place), a line per 10% otherwise (logs, CI).
void show_progress(const infer::VideoJobProgress& p) {
  static int last_decile = -1;
  const bool tty = ::isatty(STDERR_FILENO);
  const double fraction =
      p.input_frames_total > 0 ? std::min(1.0, double(p.input_frames_done) / p.input_frames_total) : 0;
  if (!tty) {
    const int decile = static_cast<int>(fraction * 10);
    if (decile == last_decile) return;
    last_decile = decile;
  }
  constexpr int kWidth = 30;
  const int filled = static_cast<int>(fraction * kWidth);
  std::string bar(filled, '#');
  bar += std::string(kWidth - filled, '-');
  std::fprintf(stderr, "%s[%s] %3.0f%%  frame %lld/%lld  %.2f fps  ETA %s%s", tty ? "\r" : "", bar.c_str(),
               fraction * 100, (long long)p.input_frames_done, (long long)p.input_frames_total, p.frames_per_second,
               clock_text(p.eta_seconds).c_str(), tty ? "  " : "\n");
  std::fflush(stderr);
}

}  // namespace

void add_interpolate(CLI::App& app) {
  struct Args {
    std::vector<std::string> inputs;
    std::string output, weights, device = "auto";
    int threads = 0;  // 0 = torch's default (all cores)
    infer::TilingOptions tiling;
    double t = 0.5;
    bool quiet = false;
  };
  auto a = std::make_shared<Args>();
  // A video's flags go straight into the job's options (their defaults are VideoJobOptions').
  auto job = std::make_shared<infer::VideoJobOptions>();
  auto* cmd =
      app.add_subcommand("interpolate",
                         "Make the frame between two images (a.png b.png -o mid.png) or raise a video's frame rate "
                         "(in.mp4 -o out.mp4 --factor 2 | --fps 60)");
  cmd->add_option("inputs", a->inputs, "Two images, or one video or folder of frames")->required()->expected(1, 2);
  cmd->add_option("-o,--output", a->output, "Output image, video, or folder for frames")->required();
  cmd->add_option("--weights", a->weights, "Checkpoint (default: the shipped model)");
  cmd->add_option("--factor", job->factor, "Video: frame-rate multiplier")->capture_default_str();
  auto* fps_option = cmd->add_option("--fps", job->target_fps,
                                     "Video: target frame rate instead of --factor (needs a model that "
                                     "takes any t; 0.1 to 1000)");
  cmd->add_option("--input-fps", job->input_fps,
                  "Frame rate of a folder of frames (default 25) or override of the video's");
  cmd->add_option("-t,--time", a->t, "Images: time of the new frame in (0, 1)")->capture_default_str();
  cmd->add_option("--device", a->device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_option("--codec", job->codec,
                  "Video encoder (ffmpeg name, e.g. libx264, libx265, libvpx-vp9; default: the one "
                  "that fits the container: libx264 for .mp4/.mkv/.mov, libvpx-vp9 for .webm, gif for .gif)");
  cmd->add_option("--threads", a->threads, "CPU threads for the model (0 = all cores)")->capture_default_str();
  cmd->add_option("--crf", job->crf, "Video quality (x264/x265/vp9 CRF, lower is better)")->capture_default_str();
  cmd->add_option("--preset", job->preset,
                  "x264/x265 speed preset: ultrafast ... veryslow (default: the encoder's, medium); "
                  "faster presets make bigger files at the same CRF");
  cmd->add_option("--segment-seconds", job->segment_seconds, "Input seconds per resumable part")->capture_default_str();
  cmd->add_option("--tile", a->tiling.tile,
                  "Run the model on overlapping tiles of this size (pixels; 0 = whole frames) "
                  "to bound memory on large frames")
      ->capture_default_str();
  cmd->add_option("--tile-overlap", a->tiling.overlap, "Pixels shared by neighbouring tiles")->capture_default_str();
  cmd->add_option("--dedup", job->dedup,
                  "Video: remove held (repeated) frames and interpolate the motion between the "
                  "distinct ones at their true times: auto (when a third of the first 48 pairs are held), on, off")
      ->check(CLI::IsMember({"auto", "on", "off"}))
      ->capture_default_str();
  cmd->add_option("--dedup-threshold", job->scene.held_threshold,
                  "Video: how different a held frame may be (largest 8x8-block "
                  "mean difference of 160-px-wide copies, 0..255)")
      ->capture_default_str();
  cmd->add_flag(
      "--no-audio", [job](int64_t) { job->keep_audio = false; }, "Do not copy the input's audio");
  cmd->add_flag(
      "--no-cut-detection", [job](int64_t) { job->detect_cuts = false; }, "Interpolate across scene cuts too");
  cmd->add_flag(
      "--two-frame", [job](int64_t) { job->neighbours = false; },
      "Video: flows from each pair alone (linear motion), not from the pair and "
      "the frames before and after it (acceleration-aware, the default for fregan-flow)");
  cmd->add_flag(
      "--restart", [job](int64_t) { job->resume = false; },
      "Ignore the finished parts of an interrupted run of this job");
  cmd->add_flag("--overwrite", job->overwrite, "Replace an existing output");
  cmd->add_flag("-q,--quiet", a->quiet, "No progress bar");
  cmd->callback([a, job, fps_option] {
    // --fps 0 (or below) given on purpose is a mistake, not "use --factor".
    if (fps_option->count() && !(job->target_fps > 0)) {
      throw InvalidArgument("--fps must be a positive frame rate (0.1 to 1000), got " +
                            std::to_string(job->target_fps));
    }
    require(a->threads >= 0, "--threads must be >= 0, got " + std::to_string(a->threads));
    if (a->threads > 0) at::set_num_threads(a->threads);
    if (a->inputs.size() == 2) {
      // Read both inputs before loading the model: bad input fails fast.
      // As stored: 16-bit PNGs stay 16-bit, alpha is kept (blended between the two).
      const cv::Mat f0 = io::read_frame(a->inputs[0]);
      const cv::Mat f1 = io::read_frame(a->inputs[1]);
      require(f0.size() == f1.size(), "'" + a->inputs[0] + "' is " + std::to_string(f0.cols) + "x" +
                                          std::to_string(f0.rows) + " but '" + a->inputs[1] + "' is " +
                                          std::to_string(f1.cols) + "x" + std::to_string(f1.rows) +
                                          ": the two frames must have the same size");
      io::check_output_is_not_an_input(a->output, a->inputs);  // --overwrite never replaces a source frame
      io::check_output_path(a->output, job->overwrite);
      infer::Interpolator interpolator(a->weights, a->device);
      interpolator.set_tiling(a->tiling);
      io::write_image(a->output, interpolator.interpolate(f0, f1, a->t), job->overwrite);
      log::info("wrote " + a->output);
      return;
    }
    const std::string& input = a->inputs[0];
    if (io::is_image_file(input)) throw InvalidArgument("one image given: pass two images, or a video");
    job->input = input;
    job->output = a->output;
    const bool quiet = a->quiet;
    job->progress = [quiet](const infer::VideoJobProgress& p) {
      if (!quiet) show_progress(p);
      return !g_interrupted.load();
    };
    infer::Interpolator interpolator(a->weights, a->device);
    interpolator.set_tiling(a->tiling);
    // Ctrl-C: finish the current frame, keep the finished parts, exit non-zero.
    std::signal(SIGINT, [](int) { g_interrupted = true; });
    const auto r = infer::interpolate_video(interpolator, *job);
    std::signal(SIGINT, SIG_DFL);
    if (!quiet && ::isatty(STDERR_FILENO)) std::fprintf(stderr, "\n");
    if (!r.completed) throw Interrupted("interrupted: run the same command again to continue where it stopped");
    char line[512];
    std::snprintf(
        line, sizeof line,
        "wrote %s: %lld frames at %.3f fps from %lld at %.3f fps (%dx%d), %lld interpolated, %lld scene cut(s) "
        "not blended, %lld held frame(s) removed, audio %s, %.1f s%s",
        a->output.c_str(), (long long)r.output_frames, r.output_fps, (long long)r.input_frames, r.input_fps, r.width,
        r.height, (long long)r.interpolated_frames, (long long)r.scene_cuts, (long long)r.duplicates_removed,
        r.audio_kept ? "kept" : "none", r.seconds,
        r.resumed_segments ? (", " + std::to_string(r.resumed_segments) + " part(s) resumed").c_str() : "");
    log::info(line);
  });
}

}  // namespace fregan::cli
