#include "fregan/data/prepared_dataset.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <optional>
#include <random>
#include <set>

#include <opencv2/imgproc.hpp>

#include "fregan/data/frame_source.h"
#include "fregan/data/triplet_dataset.h"
#include "fregan/error.h"
#include "fregan/io/atomic_file.h"
#include "fregan/log.h"

namespace fs = std::filesystem;

namespace fregan::data {
namespace {

constexpr const char* kManifest = "manifest.json";

// A read-only memory mapping, unmapped when the last Mat view of it goes.
struct Mapping {
  void* data = MAP_FAILED;
  size_t size = 0;
  ~Mapping() {
    if (data != MAP_FAILED) ::munmap(data, size);
  }
};

// Identity of a source as it was when its clip file was written: reuse the file only if unchanged.
nlohmann::json source_stamp(const std::string& path, int64_t max_frames) {
  nlohmann::json j{{"source", fs::absolute(path).string()}, {"max_frames", max_frames}};
  std::error_code ec;
  if (fs::is_regular_file(path, ec)) {
    j["size"] = static_cast<int64_t>(fs::file_size(path, ec));
    j["mtime"] = static_cast<int64_t>(fs::last_write_time(path, ec).time_since_epoch().count());
  } else {
    j["files"] = list_frame_files(path).size();
  }
  return j;
}

void write_frames(const std::string& path, const std::vector<cv::Mat>& frames) {
  io::AtomicOutput out(path, /*overwrite=*/true);
  {
    std::ofstream file(out.temp_path(), std::ios::binary);
    for (const auto& f : frames) {
      const cv::Mat m = f.isContinuous() ? f : f.clone();
      file.write(reinterpret_cast<const char*>(m.data), static_cast<std::streamsize>(m.total() * m.elemSize()));
    }
    file.flush();
    if (!file) throw FileError("cannot write '" + path + "' (disk full?)");
  }
  out.commit();
}

void write_json(const std::string& path, const nlohmann::json& j) {
  io::AtomicOutput out(path, /*overwrite=*/true);
  {
    std::ofstream file(out.temp_path());
    file << j.dump(1) << '\n';
    if (!file) throw FileError("cannot write '" + path + "'");
  }
  out.commit();
}

// Decodes a raw clip.  A clip the user named that cannot be read throws; one found in a folder is
// skipped (nullopt).  Every warning (skip, partial decode) is logged and appended to `warnings`.
std::optional<std::vector<cv::Mat>> read_clip_or_skip(const FrameSource& source, int64_t max_frames,
                                                      std::vector<std::string>& warnings) {
  std::string warning;
  std::vector<cv::Mat> frames;
  try {
    frames = read_frames(source, max_frames, &warning);
  } catch (const FileError& e) {
    if (source.named) throw;
    warning = std::string(e.what()) + "; skipped";
    log::warn(warning);
    warnings.push_back(warning);
    return std::nullopt;
  }
  if (!warning.empty()) {
    log::warn(warning);
    warnings.push_back(warning);
  }
  return frames;
}

nlohmann::json clip_to_json(const PreparedClip& c) {
  return {{"source", c.source},     {"split", c.split},
          {"file", c.file},         {"frames", c.frames},
          {"width", c.width},       {"height", c.height},
          {"lr_width", c.lr_width}, {"lr_height", c.lr_height},
          {"cuts", c.cuts},         {"static_pairs", c.static_pairs}};
}

PreparedClip clip_from_json(const nlohmann::json& j) {
  PreparedClip c;
  c.source = j.at("source").get<std::string>();
  c.split = j.at("split").get<std::string>();
  c.file = j.at("file").get<std::string>();
  c.frames = j.at("frames").get<int64_t>();
  c.width = j.at("width").get<int>();
  c.height = j.at("height").get<int>();
  c.lr_width = j.value("lr_width", 0);
  c.lr_height = j.value("lr_height", 0);
  c.cuts = j.value("cuts", std::vector<int64_t>{});
  c.static_pairs = j.value("static_pairs", std::vector<int64_t>{});
  return c;
}

}  // namespace

nlohmann::json to_json(const PrepareReport& r) {
  return {{"clips", r.clips},
          {"frames", r.frames},
          {"samples", r.samples},
          {"dropped_cut", r.dropped_cut},
          {"dropped_static", r.dropped_static},
          {"reused_clips", r.reused_clips},
          {"train_clips", r.train_clips},
          {"val_clips", r.val_clips},
          {"test_clips", r.test_clips},
          {"warnings", r.warnings}};
}

std::vector<std::string> split_clips(size_t n, double val_fraction, double test_fraction, uint64_t seed) {
  require(val_fraction >= 0 && test_fraction >= 0 && val_fraction + test_fraction < 1,
          "val and test fractions must be >= 0 and sum to less than 1");
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(seed);
  std::shuffle(order.begin(), order.end(), rng);
  auto count = [&](double f) { return static_cast<size_t>(std::llround(f * static_cast<double>(n))); };
  size_t n_val = count(val_fraction), n_test = count(test_fraction);
  // Each requested split gets a clip while at least one is left for training.
  if (val_fraction > 0 && n_val == 0 && n >= 2) n_val = 1;
  if (test_fraction > 0 && n_test == 0 && n >= 2 + n_val) n_test = 1;
  while (n_val + n_test >= n && n > 0 && (n_val + n_test) > 0) (n_test > 0 ? n_test : n_val) -= 1;
  std::vector<std::string> labels(n, "train");
  for (size_t i = 0; i < n_val; ++i) labels[order[i]] = "val";
  for (size_t i = n_val; i < n_val + n_test; ++i) labels[order[i]] = "test";
  return labels;
}

bool is_prepared_dataset(const std::string& path) { return fs::is_regular_file(fs::path(path) / kManifest); }

PreparedDataset open_prepared_dataset(const std::string& path) {
  const fs::path root(path);
  if (!fs::is_directory(root)) throw FileError("dataset '" + path + "' does not exist");
  if (!fs::exists(root / kManifest)) {
    throw FileError("'" + path + "' has no manifest.json: its preparation did not finish; run fregan prepare again");
  }
  nlohmann::json j;
  try {
    std::ifstream in(root / kManifest);
    j = nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    throw FileError("'" + (root / kManifest).string() + "' is corrupt: " + e.what());
  }
  if (j.value("format", std::string()) != kDatasetFormat) {
    throw InvalidArgument("'" + path + "' is not a fregan dataset (manifest format '" +
                          j.value("format", std::string()) + "')");
  }
  const int version = j.value("version", 0);
  if (version != kDatasetFormatVersion) {
    throw InvalidArgument("dataset '" + path + "' was written in format version " + std::to_string(version) +
                          "; this fregan reads version " + std::to_string(kDatasetFormatVersion) +
                          ": prepare it again with this fregan (fregan prepare --overwrite)");
  }
  PreparedDataset ds;
  ds.root = root.string();
  ds.task = j.value("task", std::string());
  ds.options = j.value("options", nlohmann::json::object());
  ds.stats = j.value("stats", nlohmann::json::object());
  try {
    for (const auto& c : j.at("clips")) ds.clips.push_back(clip_from_json(c));
  } catch (const nlohmann::json::exception& e) {
    throw FileError("'" + (root / kManifest).string() + "' is malformed: " + e.what());
  }
  return ds;
}

std::vector<cv::Mat> map_frames(const std::string& file, int64_t frames, int width, int height,
                                std::shared_ptr<void>& keep_alive) {
  const size_t frame_bytes = static_cast<size_t>(width) * height * 3;
  const size_t expected = frame_bytes * static_cast<size_t>(frames);
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw FileError("cannot open dataset file '" + file + "'");
  struct stat st {};
  ::fstat(fd, &st);
  if (static_cast<size_t>(st.st_size) != expected) {
    ::close(fd);
    throw FileError("dataset file '" + file + "' has " + std::to_string(st.st_size) + " bytes, the manifest says " +
                    std::to_string(expected) + ": the dataset is damaged; prepare it again");
  }
  auto mapping = std::make_shared<Mapping>();
  mapping->size = expected;
  mapping->data = ::mmap(nullptr, expected, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (mapping->data == MAP_FAILED) throw FileError("cannot map dataset file '" + file + "'");
  std::vector<cv::Mat> out;
  out.reserve(static_cast<size_t>(frames));
  auto* base = static_cast<uint8_t*>(mapping->data);
  // Read-only pages: the Mats must never be written (the datasets only read and copy out of them).
  for (int64_t i = 0; i < frames; ++i)
    out.emplace_back(height, width, CV_8UC3, base + static_cast<size_t>(i) * frame_bytes);
  keep_alive = mapping;
  return out;
}

std::vector<LoadedClip> load_clips(const std::vector<std::string>& paths, const std::string& split, int64_t max_frames,
                                   std::vector<std::shared_ptr<void>>& mappings, int64_t* skipped) {
  require(split == "train" || split == "val" || split == "test" || split == "all",
          "split must be train, val, test or all, got '" + split + "'");
  std::vector<LoadedClip> out;
  for (const auto& source : expand_sources(paths)) {
    if (source.prepared) {
      const PreparedDataset ds = open_prepared_dataset(source.path);
      for (const auto& clip : ds.clips) {
        if (split != "all" && clip.split != split) continue;
        LoadedClip loaded;
        loaded.source = {clip.source, false, false, false};
        std::shared_ptr<void> keep_alive;
        loaded.frames =
            map_frames((fs::path(ds.root) / clip.file).string(), clip.frames, clip.width, clip.height, keep_alive);
        mappings.push_back(keep_alive);
        if (max_frames > 0 && static_cast<int64_t>(loaded.frames.size()) > max_frames)
          loaded.frames.resize(static_cast<size_t>(max_frames));
        loaded.cuts.assign(loaded.frames.empty() ? 0 : loaded.frames.size() - 1, false);
        for (const int64_t c : clip.cuts) {
          if (c >= 0 && c < static_cast<int64_t>(loaded.cuts.size())) loaded.cuts[static_cast<size_t>(c)] = true;
        }
        loaded.known_cuts = true;
        out.push_back(std::move(loaded));
      }
      continue;
    }
    std::vector<std::string> warnings;
    auto frames = read_clip_or_skip(source, max_frames, warnings);
    if (!frames) {
      if (skipped) ++*skipped;
      continue;
    }
    LoadedClip loaded;
    loaded.source = source;
    loaded.frames = std::move(*frames);
    out.push_back(std::move(loaded));
  }
  return out;
}

PrepareReport prepare_dataset(const PrepareOptions& o) {
  require(o.task == "triplets" || o.task == "sr" || o.task == "frames",
          "task must be triplets, sr or frames, got '" + o.task + "'");
  require(o.frame_skip >= 1, "frame_skip must be >= 1");
  require(o.sr_scale >= 2, "sr scale must be >= 2");
  require(o.max_side >= 0, "max_side must be >= 0 (0 = native size)");
  require(!o.out.empty(), "prepare needs an output folder (--out)");
  const fs::path root(o.out);
  if (fs::exists(root / kManifest) && !o.overwrite) {
    throw InvalidArgument("'" + o.out + "' already holds a prepared dataset (pass --overwrite to prepare it again)");
  }
  const auto sources = expand_sources(o.videos);
  fs::create_directories(root / "clips");

  PrepareReport report;
  std::vector<PreparedClip> clips;
  size_t done = 0;
  for (const auto& source : sources) {
    if (source.prepared) throw InvalidArgument("'" + source.path + "' is already a prepared dataset");
    const std::string id = [&] {
      char b[16];
      std::snprintf(b, sizeof b, "%04zu", clips.size());
      return std::string(b);
    }();
    const std::string file = "clips/" + id + ".bgr", stamp_file = "clips/" + id + ".json";
    nlohmann::json stamp = source_stamp(source.path, o.max_frames_per_source);
    if (o.max_side > 0) stamp["max_side"] = o.max_side;  // absent for native size: older stamps stay valid

    PreparedClip clip;
    clip.source = fs::absolute(source.path).string();
    clip.file = file;
    bool reused = false;
    // Reuse a complete clip file from an interrupted or earlier run of the same sources.
    if (fs::exists(root / stamp_file)) {
      try {
        std::ifstream in(root / stamp_file);
        const auto saved = nlohmann::json::parse(in);
        if (saved.at("stamp") == stamp && saved.at("version") == kDatasetFormatVersion) {
          const PreparedClip saved_clip = clip_from_json(saved.at("clip"));
          // Mapping checks the file has exactly the frames the stamp records; nothing is read.
          std::shared_ptr<void> keep;
          map_frames((root / file).string(), saved_clip.frames, saved_clip.width, saved_clip.height, keep);
          clip = saved_clip;
          reused = true;
        }
      } catch (const std::exception&) {
        // A damaged stamp or clip file: decode the clip again.
      }
    }
    if (!reused) {
      auto decoded = read_clip_or_skip(source, o.max_frames_per_source, report.warnings);
      if (!decoded) continue;
      std::vector<cv::Mat> frames = std::move(*decoded);
      if (!frames.empty() && o.max_side > 0 && std::max(frames[0].cols, frames[0].rows) > o.max_side) {
        const double scale = static_cast<double>(o.max_side) / std::max(frames[0].cols, frames[0].rows);
        const cv::Size size(std::max(1, static_cast<int>(std::lround(frames[0].cols * scale))),
                            std::max(1, static_cast<int>(std::lround(frames[0].rows * scale))));
        for (auto& f : frames) {
          cv::Mat small;
          cv::resize(f, small, size, 0, 0, cv::INTER_AREA);
          f = small;
        }
      }
      if (frames.empty()) {
        report.warnings.push_back("'" + source.path + "' has no frames; skipped");
        continue;
      }
      clip.frames = static_cast<int64_t>(frames.size());
      clip.width = frames[0].cols;
      clip.height = frames[0].rows;
      std::vector<cv::Mat> thumbs;
      for (const auto& f : frames) thumbs.push_back(thumbnail(f));
      const auto cuts = detect_cuts(thumbs, o.scene);
      for (size_t i = 0; i < cuts.size(); ++i) {
        if (cuts[i]) clip.cuts.push_back(static_cast<int64_t>(i));
      }
      for (int64_t n = 0; n + 2 * o.frame_skip < clip.frames; ++n) {
        if (thumbnail_difference(thumbs[n], thumbs[n + 2 * o.frame_skip]) < o.scene.static_threshold)
          clip.static_pairs.push_back(n);
      }
      write_frames((root / file).string(), frames);
      if (o.task == "sr") {
        require(clip.width >= 4 * o.sr_scale && clip.height >= 4 * o.sr_scale,
                "'" + source.path + "' is too small for x" + std::to_string(o.sr_scale) + " pairs");
        // LR frames are made from the HR crops when loading (bicubic, OpenCV), so only HR is stored.
        clip.lr_width = clip.width / o.sr_scale;
        clip.lr_height = clip.height / o.sr_scale;
      }
      write_json((root / stamp_file).string(),
                 {{"stamp", stamp}, {"version", kDatasetFormatVersion}, {"clip", clip_to_json(clip)}});
    }
    report.reused_clips += reused ? 1 : 0;
    report.frames += clip.frames;
    clips.push_back(clip);
    ++done;
    if (o.progress) o.progress(done, sources.size(), source.path);
  }
  if (clips.empty()) throw InvalidArgument("no clip in the data given could be decoded");

  const auto labels = split_clips(clips.size(), o.val_fraction, o.test_fraction, o.seed);
  for (size_t i = 0; i < clips.size(); ++i) {
    clips[i].split = labels[i];
    (labels[i] == "train" ? report.train_clips : labels[i] == "val" ? report.val_clips : report.test_clips) += 1;
  }
  // Sample counts as the loaders will see them with these options.
  for (const auto& c : clips) {
    if (o.task == "frames") {
      report.samples += (c.frames + o.frame_skip - 1) / o.frame_skip;
      continue;
    }
    TripletStats stats;
    std::vector<bool> cuts(static_cast<size_t>(std::max<int64_t>(c.frames - 1, 0)), false);
    for (const auto x : c.cuts) cuts[static_cast<size_t>(x)] = true;
    const int skip = o.task == "triplets" ? o.frame_skip : 1;
    auto starts = triplet_starts(c.frames, skip, &cuts, nullptr, 0, stats);
    const std::set<int64_t> frozen(c.static_pairs.begin(), c.static_pairs.end());
    int64_t kept = 0;
    for (const auto n : starts) kept += (o.task == "triplets" && frozen.count(n)) ? 0 : 1;
    report.samples += o.task == "triplets" ? kept : c.frames;
    report.dropped_cut += stats.dropped_cut;
    report.dropped_static += static_cast<int64_t>(starts.size()) - kept;
  }
  report.clips = static_cast<int64_t>(clips.size());

  nlohmann::json manifest{{"format", kDatasetFormat},
                          {"version", kDatasetFormatVersion},
                          {"fregan_version", FREGAN_VERSION},
                          {"task", o.task},
                          {"options",
                           {{"frame_skip", o.frame_skip},
                            {"max_frames_per_source", o.max_frames_per_source},
                            {"val_fraction", o.val_fraction},
                            {"test_fraction", o.test_fraction},
                            {"seed", o.seed},
                            {"sr_scale", o.sr_scale},
                            {"cut_threshold", o.scene.cut_threshold},
                            {"cut_ratio", o.scene.cut_ratio},
                            {"static_threshold", o.scene.static_threshold},
                            {"target_frames", o.target_frames},
                            {"max_side", o.max_side}}},
                          {"stats", to_json(report)},
                          {"clips", nlohmann::json::array()}};
  for (const auto& c : clips) manifest["clips"].push_back(clip_to_json(c));
  write_json((root / kManifest).string(), manifest);
  return report;
}

}  // namespace fregan::data
