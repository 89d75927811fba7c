#include "fregan/infer/video_job.h"

#include <sys/stat.h>

#include <chrono>
#include <cmath>
#include <deque>
#include <filesystem>
#include <functional>
#include <future>

#include <ATen/Parallel.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "fregan/data/frame_source.h"
#include "fregan/device.h"
#include "fregan/error.h"
#include "fregan/infer/frame_input.h"
#include "fregan/infer/pipeline.h"
#include "fregan/infer/retiming.h"
#include "fregan/infer/segmented_output.h"
#include "fregan/io/atomic_file.h"
#include "fregan/io/image.h"
#include "fregan/io/output_guard.h"
#include "fregan/io/video.h"
#include "fregan/log.h"

namespace fs = std::filesystem;

namespace fregan::infer {
namespace {

using ReadFrame = std::function<bool(cv::Mat&)>;

// Nanoseconds since 1970 (std::filesystem's clock counts from another epoch, giving negative numbers).
int64_t modification_time_ns(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

// How many of the first pairs of `read`'s frames (at most `pairs`) are held frames, and how many
// pairs were seen.
std::pair<int, int> count_held_pairs(const ReadFrame& read, int pairs, double threshold) {
  cv::Mat frame, last;
  int held = 0, seen = 0;
  while (seen < pairs && read(frame)) {
    cv::Mat probe = data::held_probe(frame);
    if (!last.empty()) {
      ++seen;
      if (data::held_difference(last, probe) < threshold) ++held;
    }
    last = probe;
  }
  return {held, seen};
}

}  // namespace

VideoJobResult interpolate_video(Interpolator& interpolator, const VideoJobOptions& o) {
  require(!o.input.empty() && !o.output.empty(), "video job needs an input and an output path");
  require(o.output.find_first_of("\n\r") == std::string::npos,
          "the output path has a line break, which ffmpeg's list of parts cannot hold: choose a name without one");
  require(o.target_fps > 0 || o.factor >= 2,
          "factor must be >= 2 (or give a target fps), got " + std::to_string(o.factor));
  require(std::isfinite(o.target_fps) && std::isfinite(o.input_fps) && o.target_fps >= 0 && o.input_fps >= 0,
          "frame rates must be positive numbers");
  require(o.target_fps == 0 || (o.target_fps >= kMinTargetFps && o.target_fps <= kMaxTargetFps),
          "the target frame rate must be between 0.1 and 1000 fps, got " + std::to_string(o.target_fps));
  require(o.segment_seconds > 0, "segment_seconds must be > 0");
  if (!o.codec.empty()) io::check_encoder_preset(o.codec, o.preset);  // the chosen codec's: check_encoder_settings
  if (!interpolator.supports_any_time()) {
    require(o.target_fps == 0 && o.factor >= 2 && (o.factor & (o.factor - 1)) == 0,
            "model '" + interpolator.model_name() +
                "' predicts middle frames only: use --factor 2, 4, 8, ..., or a "
                "flow-guided model (fregan-flow) for --fps and other factors");
  }
  const auto start = std::chrono::steady_clock::now();
  // Neither the output nor the job's work folder (removed at the end) may be or hold the input.
  io::check_output_is_not_an_input(o.output, {o.input});
  io::check_output_is_not_an_input(video_job_work_dir(o.output), {o.input});
  const bool video_out = io::is_video_file(o.output);
  if (!video_out && fs::path(o.output).has_extension() && !fs::is_directory(o.output)) {
    throw InvalidArgument("output '" + o.output + "' is neither a video (.mp4, .mkv, ...) nor a folder for frames");
  }
  FrameInput in = open_frame_input(o.input, o.input_fps);
  if (in.width < kMinFrameSide || in.height < kMinFrameSide) {
    throw InvalidArgument("'" + o.input + "' is " + std::to_string(in.width) + "x" + std::to_string(in.height) +
                          " (WxH): fregan needs frames of at least " + std::to_string(kMinFrameSide) + "x" +
                          std::to_string(kMinFrameSide) + " pixels");
  }
  if (!in.timestamps.empty() && !interpolator.supports_any_time()) {
    char msg[512];
    std::snprintf(
        msg, sizeof msg,
        "'%s' has a variable frame rate (frame durations from %.1f to %.1f ms) and model '%s' predicts middle "
        "frames only: use a flow-guided model (fregan-flow, the default), which interpolates each frame at its "
        "own time, or convert it first: ffmpeg -i '%s' -fps_mode cfr -r %g constant.mp4",
        o.input.c_str(), in.min_frame_duration * 1000, in.max_frame_duration * 1000, interpolator.model_name().c_str(),
        o.input.c_str(), in.fps);
    throw InvalidArgument(msg);
  }
  // Held frames: dropped where asked, or (auto) where a third of the first pairs are held; only a
  // model that takes any t can interpolate across the gaps they leave.
  require(o.dedup == "auto" || o.dedup == "on" || o.dedup == "off",
          "dedup must be 'auto', 'on' or 'off', got '" + o.dedup + "'");
  require(o.scene.held_threshold >= 0 && o.scene.held_threshold <= 255,
          "the held-frame threshold must be between 0 and 255, got " + std::to_string(o.scene.held_threshold));
  require(o.dedup_max_run >= 1, "dedup_max_run must be >= 1, got " + std::to_string(o.dedup_max_run));
  if (o.dedup == "on" && !interpolator.supports_any_time()) {
    throw InvalidArgument(
        "removing held frames (--dedup on) needs a model that interpolates at any t (fregan-flow); "
        "model '" +
        interpolator.model_name() + "' predicts middle frames only");
  }
  bool dedup = o.dedup == "on";
  if (o.dedup == "auto" && interpolator.supports_any_time()) {
    // A fresh pass over the first frames, one frame in memory at a time (a video's shrunk by ffmpeg
    // to the width the measure looks at: no full-size frames converted and piped for this look).
    ReadFrame first_frames = in.is_folder ? open_frame_input(o.input, o.input_fps).read : ReadFrame();
    if (!in.is_folder) {
      auto reader = std::make_shared<io::VideoReader>(o.input, data::kHeldProbeWidth);
      first_frames = [reader](cv::Mat& frame) { return reader->read(frame); };
    }
    const auto [held, pairs] = count_held_pairs(first_frames, kDedupProbePairs, o.scene.held_threshold);
    dedup = pairs > 0 && 3 * held >= pairs;
    if (dedup) {
      log::info(std::to_string(held) + " of the first " + std::to_string(pairs) +
                " frame pairs are held frames: removing held frames (--dedup off to keep them)");
    }
  }
  // The encoder is asked before any work: an unknown codec, a codec the container cannot hold or a
  // --crf out of range fails here, not after the whole job.
  std::string codec = video_out ? io::codec_for_container(o.output, o.codec) : o.codec;
  if (video_out && o.codec.empty() && in.alpha && !io::alpha_codec_for_container(o.output).empty()) {
    // The container holds alpha with one of these: keep it (ProRes 4444 in .mov, FFV1 in .mkv).
    codec = io::alpha_codec_for_container(o.output);
    if (codec != io::codec_for_container(o.output, "")) {
      log::info("'" + o.input + "' has alpha: encoding with " + codec + " to keep it");
    }
  } else if (video_out && o.codec.empty() && in.bits > 8 && codec == "libx264") {
    // Players decode 10-bit HEVC (and its HDR10 metadata) far more widely than 10-bit H.264.
    codec = "libx265";
    log::info("'" + o.input + "' has " + std::to_string(in.bits) + "-bit colour: encoding with libx265 to keep it");
  }
  io::VideoWriterOptions wo;
  wo.fps = o.target_fps > 0 ? o.target_fps : in.fps * o.factor;
  wo.codec = codec;
  wo.crf = o.crf;
  wo.preset = o.preset;
  wo.extra_args = in.color_args;
  wo.full_range = in.full_range;
  wo.matrix = in.matrix;
  wo.bits = in.bits;
  wo.alpha = in.alpha && video_out && io::codec_keeps_alpha(codec);
  if (video_out) {
    // What the codec cannot keep is said once, before the work.
    if (in.bits > 8 && !io::codec_keeps_bit_depth(codec)) {
      log::warn("'" + o.input + "' has " + std::to_string(in.bits) + "-bit colour but codec '" + codec +
                "' writes 8 bits: use --codec libx265, libx264, libvpx-vp9 or ffv1 to keep it");
    }
    const bool hdr10 = !in.mastering_display.empty() || !in.content_light.empty();
    if (hdr10 && codec == "libx265") {
      std::string params = "hdr10=1";
      if (!in.mastering_display.empty()) params += ":master-display=" + in.mastering_display;
      if (!in.content_light.empty()) params += ":max-cll=" + in.content_light;
      wo.extra_args.insert(wo.extra_args.end(), {"-x265-params", params});
    } else if (hdr10) {
      log::warn("'" + o.input + "' carries HDR10 mastering-display / content-light metadata, which codec '" + codec +
                "' does not write: use --codec libx265 to keep it");
    }
    io::check_encoder_settings(wo, in.width, in.height, {".mkv", fs::path(o.output).extension().string()});
  }
  if (in.alpha && video_out && !wo.alpha) {
    log::warn("'" + o.input + "' has alpha, which codec '" + codec + "' does not keep: the video '" + o.output +
              "' is written without it (.mkv with --codec ffv1, .mov with prores_ks or .webm with libvpx-vp9 keep it)");
  }
  // Checks the output early (exists without overwrite, folder missing or unwritable).
  if (video_out) io::check_output_path(o.output, o.overwrite);
  else {
    io::check_output_folder(o.output, o.overwrite);  // only a folder fregan made is replaced
    const fs::path parent = fs::absolute(o.output).parent_path();
    if (!fs::is_directory(parent)) throw FileError("the folder of the output '" + o.output + "' does not exist");
  }

  VideoJobResult result;
  result.input_fps = in.fps;
  result.deinterlaced = in.deinterlaced;
  result.output_fps = o.target_fps > 0 ? o.target_fps : in.fps * o.factor;
  result.width = in.width;
  result.height = in.height;
  const double ratio = result.output_fps / result.input_fps;  // output frames per input frame
  const int64_t segment_frames = std::max<int64_t>(2, std::llround(o.segment_seconds * in.fps));

  // The work folder: parts of a previous run are reused only if they were made the same way.
  nlohmann::json fingerprint = {{"input", fs::absolute(o.input).string()},
                                {"input_bytes", in.is_folder ? 0 : static_cast<int64_t>(fs::file_size(o.input))},
                                {"input_mtime", modification_time_ns(o.input)},
                                {"model", interpolator.model_name()},
                                {"output_fps", result.output_fps},
                                {"input_fps", in.fps},
                                {"codec", codec},
                                {"crf", o.crf},
                                {"preset", o.preset},
                                {"video_out", video_out},
                                {"segment_frames", segment_frames},
                                {"detect_cuts", o.detect_cuts},
                                {"cut_threshold", o.scene.cut_threshold},
                                {"cut_ratio", o.scene.cut_ratio},
                                {"neighbours", o.neighbours && interpolator.uses_neighbours()},
                                {"static_threshold", o.scene.static_threshold},
                                {"size", {in.width, in.height}},
                                {"dedup", dedup},
                                {"held_threshold", o.scene.held_threshold},
                                {"dedup_max_run", o.dedup_max_run},
                                {"timestamps", !in.timestamps.empty()}};
  // One job per output, for the whole job (released however this process ends); a job refused
  // before it finished a part leaves no work folder behind.
  SegmentedOutput parts(o.output, video_out, fingerprint, o.resume);
  const int64_t segments_done = parts.parts_done();
  if (segments_done > 0) {
    log::info("resuming '" + o.output + "': " + std::to_string(segments_done) + " finished part(s) of " +
              std::to_string(segment_frames) + " input frames reused");
  }
  result.resumed_segments = segments_done;
  wo.fps = result.output_fps;

  ReadAhead<cv::Mat> queue(in.read, 8, [](const cv::Mat& frame) { return frame.clone(); });
  const bool four_frame = o.neighbours && interpolator.uses_neighbours();
  // A window of decoded frames: pair i needs frames i and i + 1 (and i - 1, i + 2 as its
  // neighbours), and its cut decision the thumbnail differences of `neighbourhood` pairs on each
  // side (for the neighbour after it, those of pair i + 1).
  std::deque<cv::Mat> window;  // frames window_start, window_start + 1, ...
  int64_t window_start = 0, decoded = 0;
  bool ended = false;
  std::vector<double> differences;  // thumbnail difference of pair (j, j + 1), all j so far
  cv::Mat last_thumb;
  // Where each kept frame stands on the input's timeline, in input frames (frame n of a constant-
  // rate input at n; held frames removed leave gaps; a variable-rate input's frames at their
  // timestamps), and where the input ends (the last frame holds until then).
  std::vector<double> positions;
  std::vector<int64_t> source_index;  // each kept frame's index among all decoded frames
  int64_t source_frames = 0;          // frames decoded, held ones included
  double end_position = 0;
  auto position_of = [&](int64_t n) { return input_position(n, in.timestamps, in.fps); };
  HeldFrameRemover held_frames(o.scene.held_threshold, o.dedup_max_run);
  auto keep = [&](cv::Mat frame, int64_t n) {
    if (o.detect_cuts || four_frame) {
      cv::Mat thumb = data::thumbnail(frame);
      if (!last_thumb.empty()) differences.push_back(data::thumbnail_difference(last_thumb, thumb));
      last_thumb = thumb;
    }
    positions.push_back(position_of(n));
    source_index.push_back(n);
    window.push_back(std::move(frame));
    ++decoded;
  };
  auto decode_one = [&]() {
    while (!ended) {
      auto f = queue.pop();
      if (!f) {
        ended = true;
        end_position = position_of(source_frames);
        return;
      }
      const int64_t n = source_frames++;
      if (f->cols != in.width || f->rows != in.height) {
        throw InvalidArgument("'" + o.input + "' changes frame size at frame " + std::to_string(n) + " (" +
                              std::to_string(f->cols) + "x" + std::to_string(f->rows) + " after " +
                              std::to_string(in.width) + "x" + std::to_string(in.height) + ")");
      }
      if (dedup) {
        auto kept = held_frames.push(std::move(*f), n);
        if (kept.empty()) continue;  // a repeat: the next distinct frame decides where the motion goes
        for (auto& [frame, index] : kept) keep(std::move(frame), index);
        return;
      }
      keep(std::move(*f), n);
      return;
    }
  };

  decode_one();
  if (decoded == 0) throw FileError("'" + o.input + "' has no decodable frames");
  decode_one();
  if (source_frames < 2)
    throw InvalidArgument("'" + o.input + "' has only 1 frame: at least 2 are needed to interpolate");

  // Declared after the parts (and their encoder) so that it stops (and finishes its tasks) first.
  const size_t pairs_in_flight = interpolator.supports_concurrent_calls() ? 2 : 1;
  SerialWorker output_worker(4);
  int64_t current_segment = -1, output_frames = parts.output_frames_done(), work_started_at = -1;
  result.interpolated_frames = parts.interpolated_frames_done();  // a resumed run reports the whole job
  auto work_start = std::chrono::steady_clock::now();
  auto finish_segment = [&]() {
    if (!parts.part_open()) return;
    output_worker.drain();
    parts.finish_part(output_frames, result.interpolated_frames);
  };
  // Output frame k: an input frame or an interpolated one (converted on the worker thread).
  auto write = [&](cv::Mat frame, torch::Tensor made, cv::Mat alpha, int64_t k) {
    io::VideoWriter* sink = parts.writer();
    const int depth = in.bits > 8 ? CV_16U : CV_8U;
    output_worker.submit([path = sink ? std::string() : parts.frame_path(k), sink, frame = std::move(frame),
                          made = std::move(made), alpha = std::move(alpha), pairs_in_flight, depth]() {
      // Beside two pairs in flight on one thread each, a parallel conversion only oversubscribes.
      if (pairs_in_flight > 1) set_loop_threads_of_this_thread(1);
      const cv::Mat image = made.defined() ? io::with_alpha(io::tensor_to_image(made, depth), alpha) : frame;
      if (sink) sink->write(image);  // the writer keeps the alpha if it can, else drops it
      else io::write_image(path, image, true);
    });
    ++output_frames;
  };
  // Pairs being interpolated, oldest first: two at once where the model allows it (fregan-flow's
  // optical flow, net and renderer leave cores idle in turns, which the other pair fills), their
  // output frames written in order.
  struct PendingPair {
    int64_t k_begin = 0;
    std::vector<cv::Mat> frames;  // output frames k_begin, ...: input frames, or empty where ...
    std::vector<int64_t> slots;   // ... these come from `made`, in order
    std::vector<cv::Mat> alphas;  // the alpha of each of `made`'s frames (frames with alpha)
    std::future<std::vector<torch::Tensor>> made;
  };
  // The workers lower torch's thread count, whose default is shared: put it back however the job ends.
  struct RestoreThreads {
    int threads = at::get_num_threads();
    ~RestoreThreads() { at::set_num_threads(threads); }  // also this thread's loop threads
  } restore_threads;
  // This thread converts each input frame while the pairs run: one thread, as the writer's.
  if (pairs_in_flight > 1) set_loop_threads_of_this_thread(1);
  std::deque<PendingPair> pending;  // declared after the writer and its worker: waits for its tasks first
  auto write_oldest_pair = [&]() {
    PendingPair pair = std::move(pending.front());
    pending.pop_front();
    std::vector<torch::Tensor> made_frames(pair.frames.size());
    std::vector<cv::Mat> made_alphas(pair.frames.size());
    if (pair.made.valid()) {
      const auto made = pair.made.get();
      for (size_t j = 0; j < made.size(); ++j) {
        made_frames[static_cast<size_t>(pair.slots[j])] = made[j];
        if (j < pair.alphas.size()) made_alphas[static_cast<size_t>(pair.slots[j])] = pair.alphas[j];
      }
      result.interpolated_frames += static_cast<int64_t>(made.size());
    }
    for (size_t slot = 0; slot < pair.frames.size(); ++slot) {
      write(pair.frames[slot], made_frames[slot], made_alphas[slot], pair.k_begin + static_cast<int64_t>(slot));
    }
  };
  auto write_pending_pairs = [&]() {
    while (!pending.empty()) write_oldest_pair();
  };
  auto progress_after = [&](int64_t i) {  // the report after input frame i
    VideoJobProgress p;
    p.input_frames_done = source_index[static_cast<size_t>(i)] + 1;
    p.input_frames_total = std::max(in.frame_count, source_frames);
    p.output_frames = output_frames;
    if (work_started_at >= 0) {
      const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - work_start).count();
      p.frames_per_second = static_cast<double>(i + 1 - work_started_at) / std::max(elapsed, 1e-9);
      p.eta_seconds =
          static_cast<double>(std::max<int64_t>(0, p.input_frames_total - i - 1)) / std::max(p.frames_per_second, 1e-9);
    }
    return p;
  };
  // With alpha, a model that moves it with the colour gets RGBA frames; for the others it is blended at t.
  const bool alpha_through_model = in.alpha && interpolator.warps_alpha();
  // Each frame's tensor is made once for the (up to four) pairs it is in: the model recognises a
  // frame it has prepared by its tensor.
  std::deque<std::pair<int64_t, torch::Tensor>> tensors;  // the last few frames' tensors, by index
  constexpr size_t kKeptTensors = 4;                      // frames i - 1 .. i + 2
  auto tensor_of = [&](int64_t index) {
    for (const auto& [j, tensor] : tensors) {
      if (j == index) return tensor;
    }
    const cv::Mat& frame = window[static_cast<size_t>(index - window_start)];
    tensors.emplace_back(index, io::image_to_tensor(alpha_through_model ? frame : io::colour_of(frame)));
    while (tensors.size() > kKeptTensors) tensors.pop_front();
    return tensors.back().second;
  };
  // Whether a cut lies between frames j and j + 1, decided once per pair (the first time it is
  // asked, with the same frames decoded ahead as when pair j itself is reached: resumed and
  // uninterrupted runs decide alike).
  std::vector<int8_t> cut_known;
  auto cut_between = [&](int64_t j) {
    if (!o.detect_cuts) return false;
    const size_t k = static_cast<size_t>(j);
    if (cut_known.size() <= k) cut_known.resize(k + 1, -1);
    if (cut_known[k] < 0) cut_known[k] = data::is_cut(differences, k, o.scene) ? 1 : 0;
    return cut_known[k] == 1;
  };
  // Frame j + 1 (or j) usable as the neighbour of a pair ending (or starting) at it: no cut and no
  // held frame between them.
  auto moves_on_to = [&](int64_t j) {
    return !cut_between(j) && differences[static_cast<size_t>(j)] >= o.scene.static_threshold;
  };

  for (int64_t i = 0;; ++i) {
    // Decode far enough ahead for the cut decisions of pair i and of pair i + 1 (its neighbour).
    while (!ended && decoded < i + 3 + o.scene.neighbourhood) decode_one();
    if (i >= decoded) break;
    const cv::Mat& frame = window[static_cast<size_t>(i - window_start)];
    const bool has_next = i + 1 < decoded;
    const int64_t segment = i / segment_frames;
    const double position = positions[static_cast<size_t>(i)];
    const double next_position = has_next ? positions[static_cast<size_t>(i + 1)] : end_position;
    const bool cut = has_next && cut_between(i);
    if (cut) ++result.scene_cuts;
    if (segment >= segments_done) {
      if (segment != current_segment) {
        write_pending_pairs();
        finish_segment();
        current_segment = segment;
        if (work_started_at < 0) {
          work_started_at = i;
          work_start = std::chrono::steady_clock::now();
        }
        parts.open_part(segment, in.width, in.height, wo);
      }
      // (For the last frame: the output frames that hold it to the input's end.)
      const auto sources = output_frames_of_pair(position, next_position, ratio, has_next, cut);
      PendingPair pair;
      pair.k_begin = sources.empty() ? 0 : sources.front().k;
      pair.frames.resize(sources.size());
      std::vector<double> times;
      for (size_t slot = 0; slot < sources.size(); ++slot) {
        const auto& source = sources[slot];
        if (source.kind == OutputFrameSource::Kind::first) pair.frames[slot] = frame;
        else if (source.kind == OutputFrameSource::Kind::second)
          pair.frames[slot] = window[static_cast<size_t>(i + 1 - window_start)];
        else {
          times.push_back(source.t);
          pair.slots.push_back(static_cast<int64_t>(slot));
          if (in.alpha && !alpha_through_model) {
            pair.alphas.push_back(io::alpha_between(
                io::alpha_of(frame), io::alpha_of(window[static_cast<size_t>(i + 1 - window_start)]), source.t));
          }
        }
      }
      if (!times.empty()) {
        models::FrameWindow pair_window{{}, tensor_of(i), tensor_of(i + 1), {}};
        // A pair that hardly changes (a held frame, a screen where one character is typed) has no
        // motion to bend: its neighbours' motion would only move what stands still.
        const bool pair_moves = four_frame && differences[static_cast<size_t>(i)] >= o.scene.static_threshold;
        if (pair_moves && i >= 1 && moves_on_to(i - 1)) pair_window.before = tensor_of(i - 1);
        if (pair_moves && i + 2 < decoded && moves_on_to(i + 1)) pair_window.after = tensor_of(i + 2);
        pair.made = std::async(std::launch::async, [&interpolator, single_threaded = pairs_in_flight > 1,
                                                    pair_window = std::move(pair_window), times = std::move(times)] {
          if (single_threaded) at::set_num_threads(1);  // two of these share the cores
          return interpolator.interpolate_times(pair_window, times);
        });
      }
      pending.push_back(std::move(pair));
      while (pending.size() >= pairs_in_flight) write_oldest_pair();
    }
    // Frames before i are no longer needed (frame i is pair i + 1's neighbour before).
    while (window_start < i) {
      window.pop_front();
      ++window_start;
    }
    // Before the report on the last input frame, the pairs still in flight are written, so that
    // report counts every output frame.
    if (ended && i + 1 >= decoded) write_pending_pairs();
    if (o.progress) {
      if (!o.progress(progress_after(i))) {
        // Keep the finished parts for a later run; drop the part in progress.
        try {
          write_pending_pairs();
          output_worker.drain();
        } catch (const std::exception&) {
          // The part in progress is dropped anyway.
        }
        parts.drop_part();
        result.input_frames = source_index[static_cast<size_t>(i)] + 1;
        result.output_frames = output_frames;
        result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        log::info("stopped: rerun the same command to continue from the finished parts in '" + parts.work_dir() + "'");
        return result;
      }
    }
  }
  write_pending_pairs();
  finish_segment();
  result.input_frames = source_frames;
  result.duplicates_removed = source_frames - decoded;
  result.output_frames = output_frames;

  // Assemble the output.
  const int64_t part_count = (decoded + segment_frames - 1) / segment_frames;
  result.audio_kept =
      parts.assemble(part_count, o.overwrite, o.keep_audio && !in.is_folder ? o.input : "", output_frames);
  result.completed = true;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace fregan::infer
