#include "fregan/io/video.h"

#include <signal.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <regex>
#include <sstream>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "fregan/error.h"
#include "fregan/io/atomic_file.h"
#include "fregan/io/image.h"

namespace fs = std::filesystem;

namespace fregan::io {
namespace {

std::string lower_ext(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
  return ext;
}

// Starts argv with the given descriptors as its stdin/stdout/stderr (-1: /dev/null); returns the
// pid, or -1.  `close_in_child` is closed in the child (the parent's end of a pipe).  Pipes are
// made O_CLOEXEC so that no other child (another encoder started meanwhile) inherits them.
pid_t spawn(const std::vector<std::string>& argv, int in_fd, int out_fd, int err_fd, int close_in_child) {
  // Built before the fork: the child of a threaded process should not allocate.
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  const int devnull = ::open("/dev/null", O_RDWR);
  ::dup2(in_fd >= 0 ? in_fd : devnull, STDIN_FILENO);
  ::dup2(out_fd >= 0 ? out_fd : devnull, STDOUT_FILENO);
  ::dup2(err_fd >= 0 ? err_fd : devnull, STDERR_FILENO);
  if (close_in_child >= 0) ::close(close_in_child);
  ::execvp(args[0], args.data());
  ::_exit(127);
}

int open_message_file();
std::string read_messages(int fd);

// Runs argv with stdout captured (stderr discarded, or kept in `messages`); returns its exit status.
int run_capture(const std::vector<std::string>& argv, std::string& output, std::string* messages = nullptr) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return -1;
  const int log = messages ? open_message_file() : -1;
  struct CloseLog {
    int fd;
    ~CloseLog() {
      if (fd >= 0) ::close(fd);
    }
  } close_log{log};
  const pid_t pid = spawn(argv, -1, fds[1], log, fds[0]);
  ::close(fds[1]);
  if (pid < 0) {
    ::close(fds[0]);
    return -1;
  }
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) output.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (messages) *messages = read_messages(log);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// A local path as ffmpeg and ffprobe must be given it: "file:" first, so that a colon in a name
// ("2024-01-01T12:30.mp4") is not read as a protocol ("Protocol not found").
std::string local_path_for_ffmpeg(const std::string& path) {
  if (path == "-" || path.rfind("file:", 0) == 0) return path;
  return "file:" + path;
}

// An unnamed file in the temporary folder for a child's messages (or -1): never beside the output,
// whose disk may be the one that is full.
int open_message_file() {
  const char* tmp = std::getenv("TMPDIR");
  int fd = ::open(tmp && *tmp ? tmp : "/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) {
    char name[] = "/tmp/fregan-ffmpeg-XXXXXX";
    fd = ::mkostemp(name, O_CLOEXEC);
    if (fd >= 0) ::unlink(name);
  }
  return fd;
}

// What a child wrote into a message file, on one line.
std::string read_messages(int fd) {
  std::string text;
  if (fd < 0) return text;
  ::lseek(fd, 0, SEEK_SET);
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0 && text.size() < 16384) text.append(buf, static_cast<size_t>(n));
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  std::replace(text.begin(), text.end(), '\n', ' ');
  return text;
}

// ffmpeg's words for a full disk (it may still exit 0 after them).
bool says_disk_full(const std::string& messages) {
  return messages.find("No space left on device") != std::string::npos ||
         messages.find("Disk quota exceeded") != std::string::npos ||
         messages.find("File too large") != std::string::npos;
}

bool on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  if (!path) return false;
  std::stringstream ss(path);
  std::string dir;
  while (std::getline(ss, dir, ':')) {
    if (!dir.empty() && ::access((fs::path(dir) / program).c_str(), X_OK) == 0) return true;
  }
  return false;
}

// A rate or ratio as ffprobe writes it ("30000/1001", "25"); 0 when unreadable.
double parse_rate(const std::string& text) {
  const auto slash = text.find('/');
  try {
    if (slash == std::string::npos) return std::stod(text);
    const double den = std::stod(text.substr(slash + 1));
    return den > 0 ? std::stod(text.substr(0, slash)) / den : 0;
  } catch (const std::exception&) {
    return 0;
  }
}

}  // namespace

bool is_video_file(const std::string& path) {
  static const char* kExts[] = {".mp4",  ".avi", ".mkv", ".mov", ".webm", ".y4m", ".m4v", ".mpg",
                                ".mpeg", ".wmv", ".flv", ".ts",  ".mts",  ".ogv", ".gif", ".yuv"};
  const std::string ext = lower_ext(path);
  return std::any_of(std::begin(kExts), std::end(kExts), [&](const char* e) { return ext == e; });
}

bool have_ffmpeg() { return on_path("ffmpeg"); }

int64_t count_video_frames(const std::string& path) {
  if (!on_path("ffprobe")) return -1;
  std::string out;
  if (run_capture({"ffprobe", "-v", "error", "-select_streams", "v:0", "-count_packets", "-show_entries",
                   "stream=nb_read_packets", "-of", "csv=p=0", local_path_for_ffmpeg(path)},
                  out) != 0) {
    return -1;
  }
  try {
    return std::stoll(out);
  } catch (const std::exception&) {
    return -1;
  }
}

void check_video_file(const std::string& path, int64_t expected) {
  std::error_code ec;
  const auto bytes = fs::file_size(path, ec);
  if (ec || bytes == 0) {
    throw FileError(device_is_full(path) ? describe_write_failure(path, ENOSPC)
                                         : "'" + path + "' was not written (" + (ec ? ec.message() : "empty") + ")");
  }
  if (expected <= 0) return;
  const int64_t frames = count_video_frames(path);
  if (frames < 0 && !on_path("ffprobe")) return;
  if (frames != expected) {
    throw FileError(device_is_full(path) ? describe_write_failure(path, ENOSPC)
                                         : "'" + path + "' holds " + std::to_string(frames) + " frames, not the " +
                                               std::to_string(expected) + " written: the encoder lost frames");
  }
}

bool has_audio_stream(const std::string& path) {
  if (!on_path("ffprobe")) return false;
  std::string out;
  const int rc = run_capture({"ffprobe", "-v", "error", "-select_streams", "a", "-show_entries", "stream=index", "-of",
                              "csv=p=0", local_path_for_ffmpeg(path)},
                             out);
  return rc == 0 && out.find_first_not_of(" \n\r\t") != std::string::npos;
}

namespace {

// An ffprobe ratio ("34000/50000") in x265's units (`per` of them make 1).
long long in_units(const nlohmann::json& value, double per) {
  const std::string text = value.is_string() ? value.get<std::string>() : value.dump();
  return std::llround(parse_rate(text) * per);
}

// HDR10's mastering display and content light level of the first frame, in x265's notation.
void read_hdr_metadata(const std::string& path, StreamProbe& p) {
  std::string out;
  if (run_capture({"ffprobe", "-v", "error", "-select_streams", "v:0", "-read_intervals", "%+#1", "-show_frames",
                   "-show_entries", "frame=side_data_list", "-of", "json", local_path_for_ffmpeg(path)},
                  out) != 0) {
    return;
  }
  try {
    const auto j = nlohmann::json::parse(out);
    for (const auto& frame : j.value("frames", nlohmann::json::array())) {
      for (const auto& sd : frame.value("side_data_list", nlohmann::json::array())) {
        const std::string type = sd.value("side_data_type", "");
        if (type == "Mastering display metadata" && sd.contains("red_x")) {
          auto xy = [&](const char* x, const char* y) {
            return "(" + std::to_string(in_units(sd.at(x), 50000)) + "," + std::to_string(in_units(sd.at(y), 50000)) +
                   ")";
          };
          p.mastering_display = "G" + xy("green_x", "green_y") + "B" + xy("blue_x", "blue_y") + "R" +
                                xy("red_x", "red_y") + "WP" + xy("white_point_x", "white_point_y") + "L(" +
                                std::to_string(in_units(sd.at("max_luminance"), 10000)) + "," +
                                std::to_string(in_units(sd.at("min_luminance"), 10000)) + ")";
        } else if (type == "Content light level metadata") {
          p.content_light =
              std::to_string(sd.value("max_content", 0)) + "," + std::to_string(sd.value("max_average", 0));
        }
      }
    }
  } catch (const std::exception&) {
  }
}

}  // namespace

StreamProbe probe_stream(const std::string& path) {
  constexpr size_t kProbedPackets = 120;  // the video packets whose timestamps are read first
  StreamProbe p;
  if (!on_path("ffprobe") || lower_ext(path) == ".yuv") return p;
  // A second ffprobe for the audio, at the same time: each costs ~0.2 s of startup, all of it before
  // the job's first frame.  (One call cannot do both: packets are counted over all streams, so an
  // audio stream would crowd the video's timestamps out of the first 120.)
  auto has_audio = std::async(std::launch::async, [path] { return has_audio_stream(path); });
  std::string out, messages;
  // Streams, and the timestamps of the first 120 video packets.
  const std::string entries =
      "stream=codec_type,color_range,color_space,color_primaries,color_transfer,nb_frames,duration"
      ":packet=pts_time,duration_time";
  if (run_capture({"ffprobe", "-v", "error", "-show_entries", entries, "-read_intervals",
                   "%+#" + std::to_string(kProbedPackets), "-select_streams", "v:0", "-of", "json",
                   local_path_for_ffmpeg(path)},
                  out, &messages) != 0) {
    return p;
  }
  // The container's index promises data the file does not hold (a download or copy cut short).
  p.truncated = messages.find("partial file") != std::string::npos;
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(out);
  } catch (const std::exception&) {
    return p;
  }
  p.probed = true;
  int64_t stream_frames = 0;  // from the header, where it counts them (0: unknown)
  double stream_duration = 0;
  for (const auto& st : j.value("streams", nlohmann::json::array())) {
    if (st.value("codec_type", "") != "video") continue;
    p.has_video = true;
    try {
      stream_frames = std::stoll(st.value("nb_frames", "0"));
      stream_duration = std::stod(st.value("duration", "0"));
    } catch (const std::exception&) {
      stream_frames = 0;
    }
    const std::string transfer = st.value("color_transfer", "");
    if (transfer == "smpte2084" || transfer == "arib-std-b67") read_hdr_metadata(path, p);
    const std::pair<const char*, const char*> keys[] = {{"color_range", "-color_range"},
                                                        {"color_space", "-colorspace"},
                                                        {"color_primaries", "-color_primaries"},
                                                        {"color_transfer", "-color_trc"}};
    for (const auto& [key, flag] : keys) {
      const std::string v = st.value(key, "");
      // "gbr" (an RGB source, e.g. FFV1 or PNG in a video) is not a YUV matrix: fregan encodes YUV.
      if (!v.empty() && v != "unknown" && v != "reserved" && v != "gbr") {
        p.color_args.push_back(flag);
        p.color_args.push_back(v);
      }
    }
  }
  std::vector<double> pts;
  for (const auto& pk : j.value("packets", nlohmann::json::array())) {
    try {
      if (pk.contains("pts_time")) pts.push_back(std::stod(pk.at("pts_time").get<std::string>()));
    } catch (const std::exception&) {
    }
  }
  std::sort(pts.begin(), pts.end());  // packets come in decode order (B-frames)
  // The last packets read miss the pictures shown between them that are decoded later (B-frames
  // of a stream that goes on past the packets read, or the rest of a truncated file's group of
  // pictures): their gaps are no frame durations.  (Judged with them, every B-frame mp4 of more
  // than 120 frames had a "variable" rate.)
  constexpr size_t kReorderedTail = 16;
  if (p.truncated || pts.size() >= kProbedPackets)
    pts.resize(pts.size() > kReorderedTail ? pts.size() - kReorderedTail : 0);
  auto judge = [&p](const std::vector<double>& sorted_pts) {
    std::vector<double> d;
    for (size_t i = 1; i < sorted_pts.size(); ++i) d.push_back(sorted_pts[i] - sorted_pts[i - 1]);
    if (d.size() < 4) return;
    p.min_frame_duration = *std::min_element(d.begin(), d.end());
    p.max_frame_duration = *std::max_element(d.begin(), d.end());
    // Timestamps are rounded to the container's time base (1 ms for some), hence the slack.
    p.variable_frame_rate = p.max_frame_duration > 1.1 * p.min_frame_duration + 0.002;
    std::nth_element(d.begin(), d.begin() + static_cast<std::ptrdiff_t>(d.size() / 2), d.end());
    const double median = d[d.size() / 2];
    if (median > 0) p.typical_frame_rate = std::round(100.0 / median) / 100.0;
  };
  judge(pts);
  // Beyond the packets read: the header's frame count at the first frames' rate should fill the
  // stream's duration (to a frame and a half); where it does not, the rate changes later on, and
  // every timestamp is read (packets only, no decoding) to judge the whole stream.
  if (!p.variable_frame_rate && !p.truncated && p.typical_frame_rate > 0 &&
      stream_frames > static_cast<int64_t>(pts.size()) && stream_duration > 0 &&
      std::abs(stream_duration - static_cast<double>(stream_frames) / p.typical_frame_rate) >
          1.5 / p.typical_frame_rate) {
    judge(frame_timestamps(path));  // sorted
  }
  p.has_audio = has_audio.get();
  return p;
}

std::vector<double> frame_timestamps(const std::string& path) {
  std::vector<double> pts;
  std::string out;
  if (!on_path("ffprobe") || run_capture({"ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                                          "packet=pts_time", "-of", "csv=p=0", local_path_for_ffmpeg(path)},
                                         out) != 0) {
    return pts;
  }
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line)) {
    try {
      if (!line.empty() && line != "N/A") pts.push_back(std::stod(line));
    } catch (const std::exception&) {
    }
  }
  std::sort(pts.begin(), pts.end());  // packets come in decode order (B-frames)
  return pts;
}

bool concat_videos(const std::vector<std::string>& parts, const std::string& audio_from, const std::string& output) {
  require(!parts.empty(), "concat_videos: no parts");
  if (!have_ffmpeg()) throw FileError("joining video parts needs the ffmpeg binary on PATH");
  // The list lives in the temporary folder: beside the output it could make too long a name, or
  // fail on the very disk that is full.
  char list_name[] = "/tmp/fregan-parts-XXXXXX";
  const int list_fd = ::mkstemp(list_name);
  if (list_fd < 0) throw FileError("cannot make a temporary file in /tmp for the list of parts");
  ::close(list_fd);
  const std::string list_path = list_name;
  struct RemoveOnExit {
    std::string path;
    ~RemoveOnExit() { std::remove(path.c_str()); }
  } remove_list{list_path};
  {
    std::ofstream list(list_path);
    for (const auto& part : parts) {
      // The concat demuxer's quoting: single quotes, with ' written as '\''.
      std::string quoted;
      const std::string name = fs::absolute(part).string();
      if (name.find_first_of("\n\r") != std::string::npos) {
        throw InvalidArgument("'" + name +
                              "' has a line break in its name, which ffmpeg's list of parts cannot hold: "
                              "choose an output name without one");
      }
      for (char c : name) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
      list << "file 'file:" << quoted << "'\n";
    }
    list.flush();
    if (!list) throw FileError(describe_write_failure(list_path, ENOSPC));
  }
  const bool audio = !audio_from.empty() && has_audio_stream(audio_from);
  std::vector<std::string> argv = {"ffmpeg",
                                   "-hide_banner",
                                   "-loglevel",
                                   "error",
                                   "-y",
                                   "-f",
                                   "concat",
                                   "-safe",
                                   "0",
                                   "-i",
                                   local_path_for_ffmpeg(list_path)};
  if (audio) {
    argv.insert(argv.end(), {"-i", local_path_for_ffmpeg(audio_from), "-map", "0:v:0", "-map", "1:a?", "-map_metadata",
                             "1", "-c:a", "aac", "-b:a", "192k"});
  }
  argv.insert(argv.end(), {"-c:v", "copy", local_path_for_ffmpeg(output)});
  const int log = open_message_file();
  const pid_t pid = spawn(argv, -1, -1, log, -1);
  int status = 0;
  if (pid > 0) ::waitpid(pid, &status, 0);
  const std::string messages = read_messages(log);
  if (log >= 0) ::close(log);
  if (says_disk_full(messages) || device_is_full(output)) throw FileError(describe_write_failure(output, ENOSPC));
  if (pid <= 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw FileError(
        "ffmpeg could not join the parts into '" + output + "': " +
        (messages.empty() ? "it gave no reason (exit status " + std::to_string(WEXITSTATUS(status)) + ")" : messages));
  }
  return audio;
}

// Raw planar YUV 4:2:0 (I420) without a header, as the Xiph/openh264 test clips are shipped: the
// size comes from the name ("_352x288", or cif/qcif/4cif), the rate from "_12fps" (else 25).
struct RawYuvLayout {
  int width = 0, height = 0;
  double fps = 25.0;
};

RawYuvLayout raw_yuv_layout(const std::string& path) {
  const std::string name = fs::path(path).stem().string();
  RawYuvLayout layout;
  std::smatch m;
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
  if (std::regex_search(lower, m, std::regex(R"((\d{2,5})x(\d{2,5}))"))) {
    layout.width = std::stoi(m[1]);
    layout.height = std::stoi(m[2]);
  } else if (std::regex_search(lower, std::regex(R"((^|[^a-z0-9])4cif([^a-z0-9]|$))"))) {
    layout.width = 704, layout.height = 576;
  } else if (std::regex_search(lower, std::regex(R"((^|[^a-z0-9])qcif([^a-z0-9]|$))"))) {
    layout.width = 176, layout.height = 144;
  } else if (std::regex_search(lower, std::regex(R"((^|[^a-z0-9])cif([^a-z0-9]|$))"))) {
    layout.width = 352, layout.height = 288;
  } else {
    throw FileError("'" + path +
                    "' is raw YUV without a header: put its size in the name (e.g. clip_352x288.yuv, or "
                    "cif/qcif) or convert it: ffmpeg -s WxH -r FPS -i in.yuv out.y4m");
  }
  if (std::regex_search(lower, m, std::regex(R"((\d+(\.\d+)?)fps)"))) layout.fps = std::stod(m[1]);
  if (layout.width % 2 || layout.height % 2) throw FileError("'" + path + "': raw I420 needs an even width and height");
  return layout;
}

namespace {

// How ffmpeg's scaler names a YUV matrix that ffprobe calls `space` (BT.601 for an untagged or
// unknown one: the decoder and the encoder then agree, whatever the source meant).
std::string scaler_matrix(const std::string& space) {
  if (space == "bt709" || space == "smpte170m" || space == "smpte240m" || space == "fcc") return space;
  if (space == "bt470bg") return "bt470";
  if (space == "bt2020nc" || space == "bt2020c") return "bt2020";
  return "bt601";
}

// One ffprobe of the first video stream: size, rotation, rate, count, pixel format, colour.
struct ReaderProbe {
  bool ok = false;
  int width = 0, height = 0;
  int rotation = 0;  // degrees, as ffprobe's display matrix says (ffmpeg turns the frames by it)
  double fps = 0;
  int64_t frame_count = 0;
  std::string pix_fmt, color_range, color_space;
  int bits = 8;             // per component
  std::string field_order;  // "progressive", "tt", "bb", "tb", "bt", or "" (untagged)
};

// Bits per component of a pixel format by its name ("yuv420p10le": 10, "rgb48le": 16), else 8.
int bits_of_pixel_format(const std::string& pix_fmt) {
  std::smatch m;
  if (std::regex_search(pix_fmt, m, std::regex(R"((9|10|12|14|16)(le|be)$)"))) return std::stoi(m[1]);
  if (std::regex_search(pix_fmt, std::regex(R"(^(rgb|bgr)(48|64)|^p01[06])"))) return 16;
  return 8;
}

ReaderProbe probe_for_reader(const std::string& path) {
  ReaderProbe r;
  std::string out;
  if (run_capture(
          {"ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
           "stream=width,height,r_frame_rate,avg_frame_rate,nb_frames,duration,pix_fmt,bits_per_raw_sample,color_range,"
           "color_space,field_order:"
           "stream_side_data=rotation:format=duration",
           "-of", "json", local_path_for_ffmpeg(path)},
          out) != 0) {
    return r;
  }
  try {
    const auto j = nlohmann::json::parse(out);
    const auto& streams = j.at("streams");
    if (streams.empty()) return r;
    const auto& st = streams.at(0);
    r.width = st.value("width", 0);
    r.height = st.value("height", 0);
    r.pix_fmt = st.value("pix_fmt", "");
    r.color_range = st.value("color_range", "");
    r.color_space = st.value("color_space", "");
    r.field_order = st.value("field_order", "");
    r.bits = bits_of_pixel_format(r.pix_fmt);
    try {
      r.bits = std::max(r.bits, std::stoi(st.value("bits_per_raw_sample", "8")));
    } catch (const std::exception&) {
    }
    for (const auto& sd : st.value("side_data_list", nlohmann::json::array())) {
      if (sd.contains("rotation"))
        r.rotation = sd.at("rotation").is_number() ? sd.at("rotation").get<int>()
                                                   : std::stoi(sd.at("rotation").get<std::string>());
    }
    // As libavformat guesses a rate (av_guess_frame_rate): the real base rate, unless it is far
    // above an average that is plausible (field-rate timestamps).
    const double real = parse_rate(st.value("r_frame_rate", "0/0"));
    const double avg = parse_rate(st.value("avg_frame_rate", "0/0"));
    r.fps = (avg > 0 && real > 0 && avg < 70 && real > 210) || !(real > 0) ? avg : real;
    try {
      r.frame_count = std::stoll(st.value("nb_frames", "0"));
    } catch (const std::exception&) {
    }
    if (r.frame_count <= 0 && r.fps > 0) {
      const double duration =
          parse_rate(st.value("duration", j.value("format", nlohmann::json::object()).value("duration", "0")));
      r.frame_count = static_cast<int64_t>(std::llround(duration * r.fps));
    }
    r.ok = r.width > 0 && r.height > 0;
  } catch (const std::exception&) {
  }
  return r;
}

// The field order that ffmpeg's idet filter reads off the first frames of a video whose stream does
// not say ("tt" top field first, "bb" bottom field first), or "" for progressive or too few frames
// to tell.  Old captures (DV, MJPEG, VHS transfers) are often interlaced without a tag.
std::string detect_field_order(const std::string& path) {
  std::string out, messages;
  if (run_capture({"ffmpeg", "-hide_banner", "-nostdin", "-i", local_path_for_ffmpeg(path), "-map", "0:v:0", "-an",
                   "-sn", "-dn", "-frames:v", std::to_string(kInterlaceProbeFrames), "-vf", "idet", "-f", "null", "-"},
                  out, &messages) != 0) {
    return "";
  }
  std::smatch m;
  if (!std::regex_search(messages, m,
                         std::regex(R"(Multi frame detection: TFF:\s*(\d+)\s*BFF:\s*(\d+)\s*Progressive:\s*(\d+))"))) {
    return "";
  }
  const int tff = std::stoi(m[1]), bff = std::stoi(m[2]), progressive = std::stoi(m[3]);
  // Combing in most frames that idet could classify, and enough of them to trust it.
  if (tff + bff < kInterlaceMinFrames || tff + bff <= 2 * progressive) return "";
  return tff >= bff ? "tt" : "bb";
}

}  // namespace

struct VideoReader::Impl {
  // Decoding through an `ffmpeg` process that writes raw BGR frames into a pipe: the frames are
  // what ffmpeg and players show (rotation applied, full or limited range as tagged).
  pid_t pid = -1;
  int fd = -1;
  int log_fd = -1;
  size_t frame_bytes = 0;
  int64_t frames_read = 0;
  // Without an ffmpeg binary: OpenCV's capture (no rotation, BT.601 limited range).
  cv::VideoCapture capture;
  // Raw YUV input instead of the capture.
  std::ifstream raw;
  size_t raw_frame_bytes = 0;

  void stop() {
    if (fd >= 0) ::close(fd);
    fd = -1;
    if (pid > 0) {
      ::kill(pid, SIGTERM);  // our own child, still decoding frames nobody will read
      int status = 0;
      ::waitpid(pid, &status, 0);
    }
    pid = -1;
  }
  ~Impl() {
    stop();
    if (log_fd >= 0) ::close(log_fd);
  }
};

VideoReader::VideoReader(const std::string& path, int max_width) : impl_(std::make_unique<Impl>()), path_(path) {
  if (!fs::exists(path)) throw FileError("video '" + path + "' does not exist");
  if (fs::is_directory(path)) throw FileError("'" + path + "' is a folder, not a video");
  if (lower_ext(path) == ".yuv") {
    const RawYuvLayout layout = raw_yuv_layout(path);
    impl_->raw_frame_bytes = static_cast<size_t>(layout.width) * layout.height * 3 / 2;
    const auto bytes = fs::file_size(path);
    if (bytes < impl_->raw_frame_bytes) {
      throw FileError("'" + path + "' is smaller than one " + std::to_string(layout.width) + "x" +
                      std::to_string(layout.height) + " I420 frame");
    }
    impl_->raw.open(path, std::ios::binary);
    if (!impl_->raw) throw FileError("cannot open '" + path + "'");
    info_.width = layout.width;
    info_.height = layout.height;
    info_.fps = layout.fps;
    info_.frame_count = static_cast<int64_t>(bytes / impl_->raw_frame_bytes);
    return;
  }
  if (have_ffmpeg() && on_path("ffprobe")) {
    const ReaderProbe probe = probe_for_reader(path);
    if (!probe.ok) throw FileError("cannot decode '" + path + "' as a video (unknown format or corrupt file)");
    // ffmpeg turns the frames as the display matrix says (its autorotation): a quarter turn swaps the sides.
    const bool quarter = ((probe.rotation % 180) + 180) % 180 == 90;
    info_.width = quarter ? probe.height : probe.width;
    info_.height = quarter ? probe.width : probe.height;
    info_.fps = probe.fps > 0 && std::isfinite(probe.fps) ? probe.fps : 25.0;
    info_.frame_count = probe.frame_count;
    info_.rotation = probe.rotation;
    info_.full_range = probe.color_range == "pc" || probe.pix_fmt.rfind("yuvj", 0) == 0;
    info_.matrix = scaler_matrix(probe.color_space);
    info_.bits = probe.bits;
    // More than 8 bits are kept: 16-bit BGR frames.
    const std::string format = info_.bits > 8 ? "bgr48le" : "bgr24";
    // The conversion to BGR named in full, so that the encoder can undo exactly this one (its
    // scaler would otherwise assume BT.601 and limited range, whatever the tags say).
    std::string size;
    if (max_width > 0 && info_.width > max_width) {
      const int height =
          std::max(2, static_cast<int>(std::lround(static_cast<double>(info_.height) * max_width / info_.width)));
      size = "w=" + std::to_string(max_width) + ":h=" + std::to_string(height) + ":flags=area:";
      info_.width = max_width;
      info_.height = height;
    }
    std::string filter = "scale=" + size + "in_range=" + std::string(info_.full_range ? "full" : "limited") +
                         ":in_color_matrix=" + info_.matrix + ",format=" + format;
    // Interlaced (by the stream's field order): fields woven into frames would be interpolated as
    // combs.  bwdif makes one frame per frame (the rate is kept).
    std::string order = probe.field_order;
    // Untagged: the content decides (not for a shrunk look, whose caller only measures motion).
    if ((order.empty() || order == "unknown") && max_width <= 0) order = detect_field_order(path);
    if (order == "tt" || order == "bb" || order == "tb" || order == "bt") {
      info_.deinterlaced = true;
      // A tagged stream: each frame's own field order; a detected one: the order idet found.
      const std::string parity = probe.field_order == order ? "auto" : (order == "tt" ? "tff" : "bff");
      filter = "bwdif=mode=send_frame:parity=" + parity + ":deint=all," + filter;
    }
    // Every decoded frame once, at its own time (no frame dropped or repeated to a nominal rate).
    const std::vector<std::string> argv = {
        "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error",    "-i",     local_path_for_ffmpeg(path),
        "-map",   "0:v:0",        "-an",      "-sn",       "-dn",      "-vsync", "passthrough",
        "-vf",    filter,         "-f",       "rawvideo",  "-pix_fmt", format,   "-"};
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw FileError("cannot create a pipe from ffmpeg");
    impl_->log_fd = open_message_file();
    impl_->pid = spawn(argv, -1, fds[1], impl_->log_fd, fds[0]);
    ::close(fds[1]);
    if (impl_->pid < 0) {
      ::close(fds[0]);
      throw FileError("cannot start ffmpeg to decode '" + path + "'");
    }
    impl_->fd = fds[0];
    impl_->frame_bytes = static_cast<size_t>(info_.width) * info_.height * 3 * (info_.bits > 8 ? 2 : 1);
    ::signal(SIGPIPE, SIG_IGN);
    return;
  }
  // FFmpeg only (then OpenCV's own MJPEG reader): other backends (GStreamer) print lines of their
  // own on a file they cannot read, before fregan's one-line message.  OpenCV's logging is silenced.
  // (FFmpeg's own messages through OpenCV too: "moov atom not found" on a truncated file.)
  static const bool quiet_opencv = [] {
    return ::setenv("OPENCV_LOG_LEVEL", "SILENT", /*overwrite=*/0) == 0 &&
           ::setenv("OPENCV_FFMPEG_LOGLEVEL", "-8", /*overwrite=*/0) == 0;  // AV_LOG_QUIET
  }();
  (void)quiet_opencv;
  impl_->capture.open(path, cv::CAP_FFMPEG);
  if (!impl_->capture.isOpened()) impl_->capture.open(path, cv::CAP_OPENCV_MJPEG);
  if (!impl_->capture.isOpened())
    throw FileError("cannot decode '" + path + "' as a video (unknown format or corrupt file)");
  info_.width = static_cast<int>(impl_->capture.get(cv::CAP_PROP_FRAME_WIDTH));
  info_.height = static_cast<int>(impl_->capture.get(cv::CAP_PROP_FRAME_HEIGHT));
  info_.fps = impl_->capture.get(cv::CAP_PROP_FPS);
  info_.frame_count = static_cast<int64_t>(impl_->capture.get(cv::CAP_PROP_FRAME_COUNT));
  if (!(info_.fps > 0 && std::isfinite(info_.fps))) info_.fps = 25.0;
  if (info_.width <= 0 || info_.height <= 0) throw FileError("'" + path + "' has no video stream");
}

VideoReader::~VideoReader() = default;

bool VideoReader::read(cv::Mat& bgr) {
  if (impl_->raw_frame_bytes) {
    cv::Mat yuv(info_.height * 3 / 2, info_.width, CV_8UC1);
    if (!impl_->raw.read(reinterpret_cast<char*>(yuv.data), static_cast<std::streamsize>(impl_->raw_frame_bytes)))
      return false;
    cv::cvtColor(yuv, bgr, cv::COLOR_YUV2BGR_I420);
    return true;
  }
  if (impl_->frame_bytes) {
    if (impl_->fd < 0) return false;
    cv::Mat frame(info_.height, info_.width, info_.bits > 8 ? CV_16UC3 : CV_8UC3);
    size_t got = 0;
    while (got < impl_->frame_bytes) {
      const ssize_t n = ::read(impl_->fd, frame.data + got, impl_->frame_bytes - got);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
    if (got == impl_->frame_bytes) {
      ++impl_->frames_read;
      bgr = frame;
      return true;
    }
    // The end: a decoder that gave no frame at all failed (a damaged file), one that gave some
    // ended as OpenCV's reader did, at the last frame it could decode.
    ::close(impl_->fd);
    impl_->fd = -1;
    int status = 0;
    ::waitpid(impl_->pid, &status, 0);
    impl_->pid = -1;
    if (impl_->frames_read == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
      throw FileError("cannot decode '" + path_ + "' as a video (unknown format or corrupt file)");
    }
    return false;
  }
  cv::Mat frame;
  if (!impl_->capture.read(frame) || frame.empty()) return false;
  bgr = to_bgr8(frame, "a frame of '" + path_ + "'");
  return true;
}

void check_encoder_preset(const std::string& codec, const std::string& preset) {
  if (preset.empty()) return;
  if (codec != "libx264" && codec != "libx265") {
    throw InvalidArgument("an encoder preset ('" + preset + "') applies to libx264 and libx265 only, not to '" + codec +
                          "'");
  }
  static const std::vector<std::string> presets = {"ultrafast", "superfast", "veryfast", "faster",  "fast",
                                                   "medium",    "slow",      "slower",   "veryslow"};
  if (std::find(presets.begin(), presets.end(), preset) == presets.end()) {
    throw InvalidArgument("unknown encoder preset '" + preset +
                          "': use one of ultrafast, superfast, veryfast, faster, "
                          "fast, medium, slow, slower, veryslow");
  }
}

namespace {

// Frames go to the encoder as 16-bit BGR when the source has more than 8 bits and the codec keeps them.
// VP9 keeps alpha at 8 bits only: alpha wins over the depth.
bool deep_frames(const VideoWriterOptions& options) {
  return options.bits > 8 && codec_keeps_bit_depth(options.codec) && !(options.alpha && options.codec == "libvpx-vp9");
}

std::string raw_pixel_format(const VideoWriterOptions& options) {
  if (options.alpha) return deep_frames(options) ? "bgra64le" : "bgra";
  return deep_frames(options) ? "bgr48le" : "bgr24";
}

// The encoder's output options: codec, preset, quality, pixel format, extra arguments.
std::vector<std::string> encoder_args(const VideoWriterOptions& options, int width, int height) {
  std::vector<std::string> argv = {"-c:v", options.codec};
  if (!options.preset.empty()) argv.insert(argv.end(), {"-preset", options.preset});
  if (options.codec == "libx264" || options.codec == "libx265" || options.codec == "libvpx-vp9") {
    argv.insert(argv.end(), {"-crf", std::to_string(options.crf)});
    if (options.codec == "libvpx-vp9") argv.insert(argv.end(), {"-b:v", "0"});
  }
  // The reader's conversion to BGR undone: the same matrix and range (else the scaler assumes
  // BT.601 limited range, and a full-range input comes out squeezed to 16..235).
  if (!options.matrix.empty()) {
    argv.insert(argv.end(), {"-vf", "scale=out_range=" + std::string(options.full_range ? "full" : "limited") +
                                        ":out_color_matrix=" + options.matrix});
    if (options.full_range &&
        std::find(options.extra_args.begin(), options.extra_args.end(), "-color_range") == options.extra_args.end()) {
      argv.insert(argv.end(), {"-color_range", "pc"});  // yuvj420p says it by its format alone
    }
  }
  // yuv420p needs even sizes; odd-sized frames keep a full-chroma format instead.
  const bool even = width % 2 == 0 && height % 2 == 0;
  if (options.alpha) {
    const std::string& codec = options.codec;
    const bool deep = deep_frames(options);
    std::string format = "yuva420p";  // libvpx-vp9 (even sizes; odd ones are refused by the trial)
    if (codec == "ffv1") format = deep ? "yuva444p16le" : "bgra";
    else if (codec == "prores_ks") format = "yuva444p10le";
    else if (codec == "png") format = deep ? "rgba64be" : "rgba";
    else if (codec == "qtrle") format = "argb";
    argv.insert(argv.end(), {"-pix_fmt", format});
    if (codec == "prores_ks") argv.insert(argv.end(), {"-profile:v", "4444"});
    if (codec == "libvpx-vp9") argv.insert(argv.end(), {"-auto-alt-ref", "0"});  // VP9 with alpha needs it off
  } else if (deep_frames(options)) {
    // 10 bits (12 where the source has them and x265 or FFV1 writes them).
    const bool twelve = options.bits >= 12 && (options.codec == "libx265" || options.codec == "ffv1");
    argv.insert(argv.end(), {"-pix_fmt", std::string(even ? "yuv420p" : "yuv444p") + (twelve ? "12le" : "10le")});
  } else if (options.codec == "libx264" || options.codec == "libx265") {
    argv.insert(argv.end(), {"-pix_fmt", even ? "yuv420p" : "yuv444p"});
  }
  argv.insert(argv.end(), options.extra_args.begin(), options.extra_args.end());
  return argv;
}

// A frame rate as ffmpeg reads it: an exact rational where the rate is one of the usual ones
// (24000/1001, 30, 12.5, ...), so the container gets 48000/1001 and not an approximation of
// 47.952048.
std::string ffmpeg_rate(double fps) {
  char text[64];
  std::snprintf(text, sizeof text, "%.6f", fps);
  for (const int den : {1, 1001, 2, 4, 100, 1000}) {
    const double num = fps * den;
    if (std::abs(num - std::round(num)) < 1e-3 * den / 1000.0 + 1e-6) {
      std::snprintf(text, sizeof text, "%lld/%d", static_cast<long long>(std::llround(num)), den);
      break;
    }
  }
  return text;
}

// The start of an ffmpeg command reading raw frames of `options`' pixel format, this size and
// rate from `input`: the encoder trial and the writer share it, so the trial asks the encoder
// exactly what the writer will.
std::vector<std::string> raw_input_argv(const VideoWriterOptions& options, int width, int height,
                                        const std::string& input) {
  return {"ffmpeg",
          "-hide_banner",
          "-loglevel",
          "error",
          "-y",
          "-f",
          "rawvideo",
          "-pix_fmt",
          raw_pixel_format(options),
          "-s",
          std::to_string(width) + "x" + std::to_string(height),
          "-r",
          ffmpeg_rate(options.fps),
          "-i",
          input};
}

// The encoder for a container when none is named: one every ffmpeg build has that the container holds.
const std::map<std::string, std::string>& default_codecs() {
  static const std::map<std::string, std::string> codecs = {
      {".mp4", "libx264"},   {".m4v", "libx264"},  {".mov", "libx264"},    {".mkv", "libx264"},     {".avi", "libx264"},
      {".flv", "libx264"},   {".ts", "libx264"},   {".mts", "libx264"},    {".webm", "libvpx-vp9"}, {".gif", "gif"},
      {".ogv", "libtheora"}, {".y4m", "rawvideo"}, {".mpg", "mpeg2video"}, {".mpeg", "mpeg2video"}, {".wmv", "wmv2"}};
  return codecs;
}

}  // namespace

std::string codec_for_container(const std::string& output, const std::string& codec) {
  if (!codec.empty()) return codec;
  const auto& codecs = default_codecs();
  const auto it = codecs.find(lower_ext(output));
  if (it == codecs.end()) {
    throw InvalidArgument("fregan cannot write video '" + output + "': unknown container '" + lower_ext(output) +
                          "'; use .mp4, .mkv, .webm, .mov or .gif");
  }
  return it->second;
}

void check_encoder_settings(const VideoWriterOptions& options, int width, int height,
                            const std::vector<std::string>& containers) {
  const std::string& codec = options.codec;
  require(!codec.empty(), "no video codec chosen");
  require(std::isfinite(options.fps) && options.fps > 0,
          "the output frame rate must be a positive number, got " + std::to_string(options.fps));
  check_encoder_preset(codec, options.preset);
  const std::pair<const char*, int> crf_ranges[] = {{"libx264", 51}, {"libx265", 51}, {"libvpx-vp9", 63}};
  for (const auto& [name, highest] : crf_ranges) {
    if (codec == name && (options.crf < 0 || options.crf > highest)) {
      throw InvalidArgument("--crf " + std::to_string(options.crf) + " is outside " + codec + "'s range 0.." +
                            std::to_string(highest) + " (lower is better; 18 is visually lossless for x264)");
    }
  }
  if (!have_ffmpeg()) return;  // OpenCV's writer: nothing to ask
  // Ask the encoder: two frames of this size and rate, with the job's very options, into each
  // container (the job's parts and its output).  A second or less, against a whole job lost.
  for (const auto& container : containers) {
    const int log = open_message_file();
    char name[] = "/tmp/fregan-encoder-trial-XXXXXX";
    const int fd = ::mkstemp(name);
    if (fd >= 0) ::close(fd);
    const std::string trial = std::string(name) + container;
    std::vector<std::string> argv = raw_input_argv(options, width, height, "/dev/zero");
    argv.insert(argv.end(), {"-frames:v", "2"});
    const auto encoder = encoder_args(options, width, height);
    argv.insert(argv.end(), encoder.begin(), encoder.end());
    argv.push_back(local_path_for_ffmpeg(trial));
    const pid_t pid = spawn(argv, -1, -1, log, -1);
    int status = 0;
    if (pid > 0) ::waitpid(pid, &status, 0);
    const std::string messages = read_messages(log);
    if (log >= 0) ::close(log);
    std::remove(name);
    std::remove(trial.c_str());
    if (pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0) continue;
    if (messages.find("Unknown encoder") != std::string::npos ||
        messages.find("Encoder not found") != std::string::npos) {
      throw InvalidArgument("unknown codec '" + codec + "': this ffmpeg has no such encoder (see ffmpeg -encoders)");
    }
    std::string hint;
    const auto it = default_codecs().find(container);
    if (it != default_codecs().end() && it->second != codec)
      hint = ": use --codec " + it->second + " (or leave --codec out)";
    throw InvalidArgument("codec '" + codec + "' cannot write a " + container + " file of " + std::to_string(width) +
                          "x" + std::to_string(height) + hint + " (ffmpeg: " + messages.substr(0, 300) + ")");
  }
}

bool codec_keeps_bit_depth(const std::string& codec) {
  return codec == "libx264" || codec == "libx265" || codec == "libvpx-vp9" || codec == "ffv1";
}

bool codec_keeps_alpha(const std::string& codec) {
  return codec == "ffv1" || codec == "prores_ks" || codec == "libvpx-vp9" || codec == "png" || codec == "qtrle";
}

std::string alpha_codec_for_container(const std::string& output) {
  const std::string ext = lower_ext(output);
  if (ext == ".mkv") return "ffv1";
  if (ext == ".mov") return "prores_ks";
  if (ext == ".webm") return "libvpx-vp9";
  return "";
}

VideoWriter::VideoWriter(const std::string& path, int width, int height, const VideoWriterOptions& options)
    : path_(path), width_(width), height_(height), deep_(deep_frames(options)), alpha_(options.alpha) {
  check_encoder_preset(options.codec, options.preset);
  require(width > 0 && height > 0, "video size must be positive");
  require(options.fps > 0, "video fps must be positive");
  if (!have_ffmpeg()) {
    // No ffmpeg binary: OpenCV's writer still gives a playable file, without the audio.
    fallback_ = std::make_unique<cv::VideoWriter>(path, cv::VideoWriter::fourcc('m', 'p', '4', 'v'), options.fps,
                                                  cv::Size(width, height));
    if (!fallback_->isOpened()) throw FileError("cannot open '" + path + "' for writing (no ffmpeg binary on PATH)");
    return;
  }
  keeps_audio_ = !options.audio_from.empty() && has_audio_stream(options.audio_from);
  std::vector<std::string> argv = raw_input_argv(options, width, height, "-");
  if (keeps_audio_) {
    argv.insert(argv.end(), {"-i", local_path_for_ffmpeg(options.audio_from), "-map", "0:v:0", "-map", "1:a?", "-c:a",
                             "aac", "-b:a", "192k"});
  }
  const auto encoder = encoder_args(options, width, height);
  argv.insert(argv.end(), encoder.begin(), encoder.end());
  argv.push_back(local_path_for_ffmpeg(path));

  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw FileError("cannot create a pipe to ffmpeg");
  log_fd_ = open_message_file();
  const pid_t pid = spawn(argv, fds[0], -1, log_fd_, fds[1]);
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    throw FileError("cannot start ffmpeg");
  }
  ::close(fds[0]);
  pid_ = pid;
  pipe_ = ::fdopen(fds[1], "wb");
  // A dead encoder must surface as an error from write(), not kill us with SIGPIPE.
  ::signal(SIGPIPE, SIG_IGN);
}

VideoWriter::~VideoWriter() {
  try {
    close();
  } catch (...) {
  }
  if (log_fd_ >= 0) ::close(log_fd_);
}

void VideoWriter::write(const cv::Mat& bgr) {
  // The channels the pipe takes: alpha dropped, or made opaque, where the frame has another layout.
  const bool pipe_alpha = alpha_ && !fallback_;
  if (bgr.channels() == 4 && !pipe_alpha) {
    write(colour_of(bgr));
    return;
  }
  if (bgr.channels() == 3 && pipe_alpha) {
    cv::Mat with;
    cv::cvtColor(bgr, with, cv::COLOR_BGR2BGRA);  // opaque: cvtColor fills the maximum of the depth
    write(with);
    return;
  }
  require((bgr.type() == CV_8UC3 || bgr.type() == CV_16UC3 || bgr.type() == CV_8UC4 || bgr.type() == CV_16UC4) &&
              bgr.cols == width_ && bgr.rows == height_,
          "frame of " + std::to_string(bgr.cols) + "x" + std::to_string(bgr.rows) + " does not match the video's " +
              std::to_string(width_) + "x" + std::to_string(height_));
  // The depth the encoder was opened for (16-bit frames of a codec that keeps 8 bits are reduced here).
  if ((bgr.depth() == CV_16U) != (deep_ && !fallback_)) {
    cv::Mat converted;
    if (bgr.depth() == CV_16U) bgr.convertTo(converted, CV_8U, 1.0 / 257.0);  // (alpha too)
    else bgr.convertTo(converted, CV_16U, 257.0);
    write(converted);
    return;
  }
  if (fallback_) {
    fallback_->write(bgr);
    return;
  }
  if (!pipe_) throw FileError("video '" + path_ + "' is already closed");
  const cv::Mat m = bgr.isContinuous() ? bgr : bgr.clone();
  const size_t bytes = m.total() * m.elemSize();
  if (std::fwrite(m.data, 1, bytes, pipe_) != bytes) {
    close();  // throws with ffmpeg's message
    throw FileError("ffmpeg stopped accepting frames for '" + path_ + "'");
  }
  ++frames_written_;
  // Said at once, not when the part ends (ffmpeg may go on and even exit 0 on a full disk).
  if (device_is_full(path_)) {
    try {
      close();
    } catch (const std::exception&) {
    }
    throw FileError(describe_write_failure(path_, ENOSPC));
  }
}

void VideoWriter::close() {
  if (fallback_) {
    fallback_->release();
    fallback_.reset();
    return;
  }
  if (!pipe_) return;
  std::fclose(pipe_);
  pipe_ = nullptr;
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  const std::string messages = read_messages(log_fd_);
  if (says_disk_full(messages)) throw FileError(describe_write_failure(path_, ENOSPC));
  if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
    throw FileError(
        "ffmpeg failed to encode '" + path_ + "': " +
        (messages.empty() ? "it gave no reason (exit status " + std::to_string(WEXITSTATUS(status)) + ")" : messages));
  }
  check_video_file(path_, frames_written_);
}

}  // namespace fregan::io
