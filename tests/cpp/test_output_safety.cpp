// Issue 17: never lose, mix or silently spoil a user's data (overwrite rules, the job lock, failed
// writes).  Each test was written to fail on d4ff730.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include "fregan/error.h"
#include "fregan/infer/video_job.h"
#include "fregan/io/atomic_file.h"
#include "fregan/io/job_lock.h"
#include "fregan/io/output_guard.h"
#include "fregan/models/registry.h"
#include "fregan/models/checkpoint.h"
#include "fregan/zoo/zoo.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace fregan;

namespace {

std::shared_ptr<infer::Interpolator> tiny_interpolator() {
  auto model = models::create_model("fregan", {{"base_channels", 4}, {"levels", 2}});
  return std::make_shared<infer::Interpolator>(model.generator, torch::kCPU, "fregan");
}

void write_text(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

int count_png(const std::string& folder) {
  int n = 0;
  for (const auto& e : fs::directory_iterator(folder)) n += e.path().extension() == ".png";
  return n;
}

// The message of what `f` throws as E, or "" if it throws nothing.
template <typename E, typename F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(OutputSafety, AnOutputIsNeverAnInputNorHoldsOne) {
  test::TempDir dir;
  fs::create_directories(dir / "parent/seq");
  write_text(dir / "parent/seq/a.png", "x");
  // The same file, by another spelling.
  EXPECT_NE(message_of<InvalidArgument>([&] {
              io::check_output_is_not_an_input(dir / "parent/seq/../seq/a.png", {dir / "parent/seq/a.png"});
            }).find("is the input"),
            std::string::npos);
  // A folder holding the input, at any depth.
  const std::string msg =
      message_of<InvalidArgument>([&] { io::check_output_is_not_an_input(dir / "parent", {dir / "parent/seq"}); });
  EXPECT_NE(msg.find("contains the input"), std::string::npos) << msg;
  EXPECT_NE(message_of<InvalidArgument>(
                [&] { io::check_output_is_not_an_input(dir.path().string() + "/", {dir / "parent/seq/a.png"}); }),
            "");
  // A sibling with a common prefix is not inside.
  EXPECT_EQ(message_of<InvalidArgument>([&] { io::check_output_is_not_an_input(dir / "par", {dir / "parent/seq"}); }),
            "");
  EXPECT_EQ(
      message_of<InvalidArgument>([&] { io::check_output_is_not_an_input(dir / "parent/seq2", {dir / "parent/seq"}); }),
      "");
  // Through a symbolic link to the input's folder.
  fs::create_directory_symlink(dir / "parent", dir / "link");
  EXPECT_NE(message_of<InvalidArgument>(
                [&] { io::check_output_is_not_an_input(dir / "link/seq/a.png", {dir / "parent/seq/a.png"}); }),
            "");
}

TEST(OutputSafety, OverwriteOfAFolderHoldingTheInputRemovesNothing) {
  // The repro: fregan interpolate parent/seq -o parent --overwrite removed parent/seq and parent/notes.txt.
  test::TempDir dir;
  test::write_moving_clip(dir / "parent/seq", 3, 32, 32);
  write_text(dir / "parent/notes.txt", "mine");
  auto interp = tiny_interpolator();
  infer::VideoJobOptions o;
  o.input = dir / "parent/seq";
  o.output = dir / "parent";
  o.overwrite = true;
  const std::string msg = message_of<InvalidArgument>([&] { infer::interpolate_video(*interp, o); });
  EXPECT_NE(msg.find("contains the input"), std::string::npos) << msg;
  EXPECT_EQ(count_png(dir / "parent/seq"), 3);
  EXPECT_EQ(read_text(dir / "parent/notes.txt"), "mine");
  EXPECT_FALSE(fs::exists(infer::video_job_work_dir(dir / "parent")));
}

TEST(OutputSafety, AFolderFreganDidNotMakeIsRefusedEvenWithOverwrite) {
  test::TempDir dir;
  test::write_moving_clip(dir / "seq", 3, 32, 32);
  fs::create_directories(dir / "photos");
  write_text(dir / "photos/holiday.jpg", "precious");
  auto interp = tiny_interpolator();
  infer::VideoJobOptions o;
  o.input = dir / "seq";
  o.output = dir / "photos";
  o.overwrite = true;
  const std::string msg = message_of<InvalidArgument>([&] { infer::interpolate_video(*interp, o); });
  EXPECT_NE(msg.find("'" + o.output + "' is not empty and fregan did not make it"), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos);  // one line
  EXPECT_EQ(read_text(dir / "photos/holiday.jpg"), "precious");
  EXPECT_EQ(fs::directory_iterator(dir / "photos")->path().filename(), "holiday.jpg");
}

TEST(OutputSafety, OverwriteReplacesOnlyTheFramesFreganWrote) {
  test::TempDir dir;
  test::write_moving_clip(dir / "seq", 4, 32, 32);
  auto interp = tiny_interpolator();
  infer::VideoJobOptions o;
  o.input = dir / "seq";
  o.output = dir / "out";
  o.factor = 4;
  EXPECT_EQ(infer::interpolate_video(*interp, o).output_frames, 16);
  EXPECT_EQ(count_png(dir / "out"), 16);
  EXPECT_TRUE(io::inspect_output_folder(dir / "out").made_by_fregan);
  // The user adds a file of their own; a rerun without --overwrite is refused, with it only fregan's frames go.
  write_text(dir / "out/notes.txt", "mine");
  o.factor = 2;
  EXPECT_NE(message_of<InvalidArgument>([&] { infer::interpolate_video(*interp, o); }).find("pass --overwrite"),
            std::string::npos);
  EXPECT_EQ(count_png(dir / "out"), 16);
  o.overwrite = true;
  EXPECT_EQ(infer::interpolate_video(*interp, o).output_frames, 8);
  EXPECT_EQ(count_png(dir / "out"), 8);  // frames 8..15 of the first run are gone too
  EXPECT_EQ(read_text(dir / "out/notes.txt"), "mine");
  EXPECT_EQ(io::inspect_output_folder(dir / "out").fregan_files.size(), 8u);
  // A file of fregan's naming that fregan did not write is not replaced.
  fs::remove(dir / "out/frame_000007.png");
  write_text(dir / "out/frame_000007.png", "not a frame");
  io::write_output_manifest(dir / "out", {"frame_000000.png"});
  EXPECT_NE(
      message_of<InvalidArgument>([&] { infer::interpolate_video(*interp, o); }).find("which fregan did not write"),
      std::string::npos);
  EXPECT_EQ(read_text(dir / "out/frame_000007.png"), "not a frame");
}

TEST(OutputSafety, AVideoOutputIsNeverTheInput) {
  test::TempDir dir;
  test::write_moving_clip(dir / "seq", 3, 32, 32);
  auto interp = tiny_interpolator();
  infer::VideoJobOptions o;
  o.input = dir / "seq";
  o.output = dir / "seq/../seq";
  o.overwrite = true;
  EXPECT_NE(message_of<InvalidArgument>([&] { infer::interpolate_video(*interp, o); }).find("is the input"),
            std::string::npos);
  EXPECT_EQ(count_png(dir / "seq"), 3);
}

TEST(JobLock, ASecondJobOnTheSameOutputIsRefusedInOneLine) {
  test::TempDir dir;
  test::write_moving_clip(dir / "seq", 3, 32, 32);
  auto interp = tiny_interpolator();
  infer::VideoJobOptions o;
  o.input = dir / "seq";
  o.output = dir / "out";
  // Another job (here: this process, through another lock file descriptor) holds the output.
  auto first = std::make_unique<io::JobLock>(infer::video_job_work_dir(o.output), o.output);
  const std::string msg = message_of<FileError>([&] { infer::interpolate_video(*interp, o); });
  EXPECT_NE(msg.find("another fregan job is writing '" + o.output + "'"), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos);
  EXPECT_FALSE(fs::exists(o.output));
  first.reset();  // the first job ends: the output is free again
  EXPECT_EQ(infer::interpolate_video(*interp, o).output_frames, 6);
  EXPECT_FALSE(fs::exists(infer::video_job_work_dir(o.output)));
}

TEST(JobLock, TheLockIsReleasedWhenItsProcessDies) {
  test::TempDir dir;
  const std::string work = dir / "out.fregan-job";
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  if (child == 0) {
    try {
      io::JobLock lock(work, dir / "out");
      (void)!::write(ready[1], "1", 1);
      ::pause();  // killed while holding the lock
    } catch (...) {
    }
    ::_exit(1);
  }
  char c;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  EXPECT_THROW(io::JobLock(work, dir / "out"), FileError);
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  EXPECT_NO_THROW(io::JobLock(work, dir / "out"));
}

// Resets the injected write failure however a test ends.
struct InjectedWriteFailure {
  explicit InjectedWriteFailure(long long bytes) { io::set_injected_write_failure(bytes); }
  ~InjectedWriteFailure() { io::set_injected_write_failure(-1); }
};

TEST(FailedWrites, AFullDiskFailsTheCheckedWriterAndLeavesTheOldFile) {
  test::TempDir dir;
  io::write_file_atomically(dir / "job.json", "old");
  std::string msg;
  {
    InjectedWriteFailure full(2);
    msg = message_of<FileError>([&] { io::write_file_atomically(dir / "job.json", "new content"); });
  }
  EXPECT_NE(msg.find("no space left on the device holding '"), std::string::npos) << msg;
  EXPECT_NE(msg.find("(writing '" + dir.path().string() + "/.job.partial-"), std::string::npos) << msg;
  EXPECT_EQ(read_text(dir / "job.json"), "old");
  // No temporary file is left beside it.
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir.path())) files += e.is_regular_file();
  EXPECT_EQ(files, 1);
}

TEST(FailedWrites, AJobOnAFullDiskFailsClearlyAndItsRerunGivesTheCleanResult) {
  test::TempDir dir;
  test::write_moving_clip(dir / "seq", 9, 32, 32);
  auto interp = tiny_interpolator();
  infer::VideoJobOptions o;
  o.input = dir / "seq";
  o.output = dir / "clean";
  o.input_fps = 2;
  o.segment_seconds = 2;  // parts of 4 input frames
  ASSERT_EQ(infer::interpolate_video(*interp, o).output_frames, 18);
  o.output = dir / "out";
  const std::string work = infer::video_job_work_dir(o.output);
  // The disk fills: at once, in the first part, and after the first part (8 frames, and job.json
  // twice, < 2 KB each time) is finished.
  long long first_part_bytes = 0;
  for (int k = 0; k < 8; ++k) {
    char name[32];
    std::snprintf(name, sizeof name, "/frame_%06d.png", k);
    first_part_bytes += static_cast<long long>(fs::file_size(dir / "clean" + name));
  }
  for (const long long budget : {0LL, first_part_bytes / 2, first_part_bytes + 4000}) {
    std::string msg;
    {
      InjectedWriteFailure full(budget);
      msg = message_of<FileError>([&] { infer::interpolate_video(*interp, o); });
    }
    EXPECT_NE(msg.find("no space left on the device holding"), std::string::npos) << "budget " << budget << ": " << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos);
    EXPECT_FALSE(fs::exists(o.output)) << "budget " << budget;  // no wrong output in place
  }
  // A finished part survived the last failure: the rerun resumes from it and matches a clean run.
  ASSERT_TRUE(fs::exists(work + "/job.json"));
  const auto r = infer::interpolate_video(*interp, o);
  EXPECT_EQ(r.output_frames, 18);
  EXPECT_GE(r.resumed_segments, 1);
  for (int k = 0; k < 18; ++k) {
    char name[32];
    std::snprintf(name, sizeof name, "/frame_%06d.png", k);
    const cv::Mat a = cv::imread(dir / "clean" + name), b = cv::imread(dir / "out" + name);
    ASSERT_FALSE(a.empty() || b.empty()) << name;
    EXPECT_EQ(cv::norm(a, b, cv::NORM_INF), 0.0) << name;
  }
  EXPECT_FALSE(fs::exists(work));
}

namespace {

// Overwrites, in the file, the first occurrence of four floats equal to `marker` with +inf values.
void damage_floats(const std::string& path, float marker) {
  std::string bytes = read_text(path);
  std::string needle;
  for (int i = 0; i < 4; ++i) needle.append(reinterpret_cast<const char*>(&marker), sizeof marker);
  const size_t at = bytes.find(needle);
  ASSERT_NE(at, std::string::npos);
  const float inf = std::numeric_limits<float>::infinity();
  for (int i = 0; i < 4; ++i) std::memcpy(&bytes[at + 4 * i], &inf, sizeof inf);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

models::GanModel marked_model(float marker) {
  auto model = models::create_model("fregan", {{"base_channels", 4}, {"levels", 2}});
  torch::NoGradGuard no_grad;
  model.generator->parameters()[0].fill_(marker);
  return model;
}

}  // namespace

TEST(DamagedCheckpoints, ADamagedWeightIsRefusedWithCheckpointError) {
  test::TempDir dir;
  const float marker = 0.1234567f;
  models::save_checkpoint(dir / "good.pt", {}, marked_model(marker));
  EXPECT_FALSE(models::read_checkpoint_meta(dir / "good.pt").weights_checksum.value("generator", "").empty());
  fs::copy_file(dir / "good.pt", dir / "damaged.pt");
  damage_floats(dir / "damaged.pt", marker);
  const std::string msg = message_of<CheckpointError>([&] { models::load_model(dir / "damaged.pt", torch::kCPU); });
  EXPECT_NE(msg.find("'" + (dir / "damaged.pt") + "' is damaged: the generator weights"), std::string::npos) << msg;
  EXPECT_NO_THROW(models::load_model(dir / "good.pt", torch::kCPU));
}

TEST(DamagedCheckpoints, ACheckpointWithoutAChecksumStillLoads) {
  // As fregan wrote them before the checksum: the header has no weights_checksum.
  test::TempDir dir;
  auto model = marked_model(0.5f);
  models::CheckpointMeta meta;
  meta.model = model.name;
  meta.generator_options = model.generator_options;
  meta.discriminator_options = model.discriminator_options;
  auto header = models::to_json(meta);
  header.erase("weights_checksum");
  torch::serialize::OutputArchive archive, g;
  archive.write("fregan_meta", c10::IValue(header.dump()));
  model.generator->save(g);
  archive.write("generator", g);
  archive.save_to(dir / "old.pt");
  const auto loaded = models::load_model(dir / "old.pt", torch::kCPU);
  EXPECT_FLOAT_EQ(loaded.generator->parameters()[0].flatten()[0].item<float>(), 0.5f);
}

TEST(DamagedCheckpoints, AShippedModelMustMatchTheManifestsSha256) {
  test::TempDir dir;
  const std::string shipped = zoo::find_model("fregan").path;
  fs::copy_file(fs::path(zoo::models_dir()) / "manifest.json", dir / "manifest.json");
  fs::copy_file(shipped, dir / "fregan.pt");
  ::setenv("FREGAN_MODELS_DIR", dir.path().c_str(), 1);
  EXPECT_NO_THROW(models::load_model(dir / "fregan.pt", torch::kCPU));  // an intact copy
  {
    std::fstream f(dir / "fregan.pt", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(fs::file_size(dir / "fregan.pt") / 2));
    f.put('\x5a');
  }
  fs::copy_file(dir / "fregan.pt", dir / "copy.pt");
  fs::rename(dir / "copy.pt", dir / "fregan.pt");  // a new file: not the one verified above
  const std::string msg = message_of<CheckpointError>([&] { models::load_model(dir / "fregan.pt", torch::kCPU); });
  ::unsetenv("FREGAN_MODELS_DIR");
  EXPECT_NE(msg.find("the shipped model 'fregan'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("is damaged: its sha256"), std::string::npos) << msg;
}
