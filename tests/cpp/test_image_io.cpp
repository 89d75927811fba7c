#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <ATen/Parallel.h>
#include <torch/torch.h>

#include "fregan/device.h"
#include "fregan/error.h"
#include "fregan/io/atomic_file.h"
#include "fregan/io/image.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace fregan;

TEST(ImageIo, TensorRoundTripIsExactAndRgbOrdered) {
  cv::Mat bgr(5, 7, CV_8UC3, cv::Scalar(10, 20, 30));  // B=10, G=20, R=30
  const auto t = io::image_to_tensor(bgr);
  ASSERT_EQ(t.sizes(), (std::vector<int64_t>{3, 5, 7}));
  EXPECT_NEAR(t[0][0][0].item<float>(), 30 / 255.0f, 1e-7);  // R first
  EXPECT_NEAR(t[2][0][0].item<float>(), 10 / 255.0f, 1e-7);
  const cv::Mat back = io::tensor_to_image(t);
  EXPECT_EQ(cv::norm(back, bgr, cv::NORM_INF), 0.0);
}

TEST(ImageIo, GrayscaleAndSixteenBitBecomeBgr8) {
  test::TempDir dir;
  cv::Mat gray16(4, 4, CV_16UC1, cv::Scalar(257 * 100));
  ASSERT_TRUE(cv::imwrite(dir / "g16.png", gray16));
  const cv::Mat m = io::read_image(dir / "g16.png");
  EXPECT_EQ(m.type(), CV_8UC3);
  EXPECT_EQ(m.at<cv::Vec3b>(0, 0), cv::Vec3b(100, 100, 100));
}

TEST(ImageIo, MissingAndCorruptFilesNameTheProblem) {
  test::TempDir dir;
  try {
    io::read_image(dir / "nope.png");
    FAIL();
  } catch (const FileError& e) {
    EXPECT_NE(std::string(e.what()).find("does not exist"), std::string::npos);
  }
  std::ofstream(dir / "bad.png") << "not a png";
  EXPECT_THROW(io::read_image(dir / "bad.png"), FileError);
}

TEST(ImageIo, WriteRefusesExistingUnlessOverwriteAndLeavesNoTemporaryFile) {
  test::TempDir dir;
  const cv::Mat a(8, 8, CV_8UC3, cv::Scalar(1, 2, 3)), b(8, 8, CV_8UC3, cv::Scalar(9, 9, 9));
  io::write_image(dir / "out.png", a, false);
  EXPECT_THROW(io::write_image(dir / "out.png", b, false), InvalidArgument);
  EXPECT_EQ(io::read_image(dir / "out.png").at<cv::Vec3b>(0, 0), cv::Vec3b(1, 2, 3));  // untouched
  io::write_image(dir / "out.png", b, true);
  EXPECT_EQ(io::read_image(dir / "out.png").at<cv::Vec3b>(0, 0), cv::Vec3b(9, 9, 9));
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir.path())) files += e.is_regular_file();
  EXPECT_EQ(files, 1);
}

TEST(ImageIo, AtomicOutputRemovesItsTemporaryFileWhenNotCommitted) {
  test::TempDir dir;
  std::string temp;
  {
    io::AtomicOutput out(dir / "video.mp4", false);
    temp = out.temp_path();
    EXPECT_EQ(fs::path(temp).extension(), ".mp4");
    std::ofstream(temp) << "half written";
  }
  EXPECT_FALSE(fs::exists(temp));
  EXPECT_FALSE(fs::exists(dir / "video.mp4"));
  EXPECT_THROW(io::AtomicOutput(dir / "missing-folder/x.png", false), FileError);
}

TEST(Threads, FregansOwnLoopsRunOnTheIntraOpThreads) {
  // at::parallel_for is header code: unless fregan's sources are compiled with the OpenMP that
  // ATen's backend uses, the conversions, warps and renderer silently run on one thread.
  const int before = at::get_num_threads();
  set_num_threads(2);
  if (at::get_num_threads() < 2) GTEST_SKIP() << "torch runs one intra-op thread on this machine";
  EXPECT_EQ(native_loop_threads(), 2);
  set_num_threads(1);
  EXPECT_EQ(native_loop_threads(), 1);
  set_num_threads(before);
}

TEST(Device, AvailableMemoryIsReadFromTheSystemAndCanBeCapped) {
  const int64_t available = available_memory_bytes();
  EXPECT_GT(available, 0);
  const int64_t total = static_cast<int64_t>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGESIZE);
  EXPECT_LE(available, total);
  setenv("FREGAN_MEMORY_LIMIT_BYTES", "123456789", 1);
  EXPECT_EQ(available_memory_bytes(), 123456789);
  unsetenv("FREGAN_MEMORY_LIMIT_BYTES");
}
