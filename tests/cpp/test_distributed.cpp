// Data-parallel training: the pieces in one process (sharded batches, sliced labels, the
// environment, collectives between two ranks on threads), then real `fregan train` processes
// over Gloo on loopback: two ranks match one process, a dead or hung rank stops the other within
// the timeout, and the two-rank checkpoint resumes in one process.
#include <signal.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <torch/torch.h>

#include "fregan/data/triplet_dataset.h"
#include "fregan/error.h"
#include "fregan/losses/losses.h"
#include "fregan/models/checkpoint.h"
#include "fregan/train/distributed.h"
#include "test_util.h"

extern char** environ;

namespace fs = std::filesystem;
using namespace fregan;

namespace {

// A port for this test process's loopback jobs (distinct per process, so parallel ctest runs do not collide).
int test_port(int offset) { return 20000 + static_cast<int>(getpid() % 2000) * 8 + offset; }

// Sets environment variables for one scope.
class ScopedEnv {
 public:
  explicit ScopedEnv(const std::map<std::string, std::string>& values) {
    for (const auto& [k, v] : values) {
      const char* old = std::getenv(k.c_str());
      saved_[k] = old ? std::optional<std::string>(old) : std::nullopt;
      setenv(k.c_str(), v.c_str(), 1);
    }
  }
  ~ScopedEnv() {
    for (const auto& [k, v] : saved_) {
      if (v) setenv(k.c_str(), v->c_str(), 1);
      else unsetenv(k.c_str());
    }
  }

 private:
  std::map<std::string, std::optional<std::string>> saved_;
};

}  // namespace

TEST(Distributed, ShardsOfABatchAreExactlyItsParts) {
  test::TempDir dir;
  test::write_moving_clip(dir / "clip", 10, 48, 48, 4, 2);
  data::TripletDatasetOptions dopt;
  dopt.sources = {dir / "clip"};
  data::TripletDataset ds(dopt);
  data::TripletLoaderOptions lo;
  lo.batch_size = 6;
  lo.crop = 32;
  lo.rotate = true;
  const auto whole = data::TripletLoader::make_batch(ds, lo, 5);
  std::vector<torch::Tensor> parts;
  lo.shard_count = 3;
  for (int r = 0; r < 3; ++r) {
    lo.shard_index = r;
    const auto shard = data::TripletLoader::make_batch(ds, lo, 5);
    ASSERT_EQ(shard.f1.size(0), 2);
    parts.push_back(torch::cat({shard.f0, shard.f1, shard.f2}, 1));
  }
  EXPECT_TRUE(torch::equal(torch::cat(parts, 0), torch::cat({whole.f0, whole.f1, whole.f2}, 1)));
  lo.shard_count = 4;  // 6 does not split into 4
  lo.shard_index = 0;
  EXPECT_THROW(data::TripletLoader::make_batch(ds, lo, 0), InvalidArgument);
}

TEST(Distributed, ShardLabelsAreSlicesOfTheWholeBatchLabels) {
  const auto real = torch::randn({8}), fake = torch::randn({8});
  const losses::LabelSmoothing smoothing{0.7, 1.0, 0.0, 0.3};
  torch::manual_seed(11);
  const auto whole = losses::discriminator_loss(real, fake, smoothing);
  double sum = 0;
  for (int r = 0; r < 2; ++r) {
    torch::manual_seed(11);
    sum += losses::discriminator_loss(real.narrow(0, 4 * r, 4), fake.narrow(0, 4 * r, 4), smoothing, 4 * r, 8)
               .item<double>();
  }
  // Means over halves average to the mean over the whole batch.
  EXPECT_NEAR(sum / 2, whole.item<double>(), 1e-6);
}

TEST(Distributed, OptionsComeFromTheLaunchersEnvironment) {
  {
    ScopedEnv env({{"WORLD_SIZE", "4"},
                   {"RANK", "3"},
                   {"LOCAL_RANK", "1"},
                   {"MASTER_ADDR", "10.0.0.2"},
                   {"MASTER_PORT", "1234"}});
    const auto o = train::resolve({});
    EXPECT_EQ(o.world_size, 4);
    EXPECT_EQ(o.rank, 3);
    EXPECT_EQ(o.local_rank, 1);
    EXPECT_EQ(o.master_addr, "10.0.0.2");
    EXPECT_EQ(o.master_port, 1234);
    train::DistributedOptions flags;  // flags win over the environment
    flags.rank = 2;
    flags.master_port = 4321;
    EXPECT_EQ(train::resolve(flags).rank, 2);
    EXPECT_EQ(train::resolve(flags).master_port, 4321);
    flags.rank = 4;
    EXPECT_THROW(train::resolve(flags), InvalidArgument);  // outside 0..3
  }
  ScopedEnv env({{"WORLD_SIZE", "2"}, {"RANK", ""}});
  EXPECT_THROW(train::resolve({}), InvalidArgument);  // two ranks but which one is this?
  train::DistributedOptions single;
  single.world_size = 1;
  const auto o = train::resolve(single);
  EXPECT_EQ(o.rank, 0);
  train::DistributedContext context(o, torch::kCPU);  // world size 1: no group, no-op collectives
  EXPECT_FALSE(context.active());
  EXPECT_TRUE(context.any(true));
}

// Two ranks on two threads of this process: the collectives themselves.
TEST(Distributed, CollectivesAverageAndBroadcastOverTwoRanks) {
  if (!train::distributed_available()) GTEST_SKIP() << "built without c10d/Gloo";
  auto make_net = [](double fill) {
    auto net = torch::nn::Sequential(torch::nn::Linear(40, 30), torch::nn::BatchNorm1d(30), torch::nn::Linear(30, 5));
    torch::NoGradGuard no_grad;
    for (auto& p : net->parameters()) p.fill_(fill);
    for (auto& b : net->buffers()) b.fill_(fill);
    return net;
  };
  std::vector<torch::nn::Sequential> nets{make_net(1.0), make_net(3.0)};
  std::vector<std::string> errors(2);
  // Not std::vector<bool>: its elements share one word, so the two ranks' writes would race.
  std::array<bool, 2> anys{};
  std::vector<std::vector<double>> means(2);
  auto run = [&](int rank) {
    try {
      train::DistributedOptions o;
      o.world_size = 2;
      o.rank = rank;
      o.master_port = test_port(0);
      o.timeout_seconds = 30;
      o.bucket_megabytes = 1e-3;  // ~1 KB buckets: the first weight (4.8 KB) alone, the small tensors together
      train::DistributedContext context(train::resolve(o), torch::kCPU);
      auto& net = *nets[rank];
      for (auto& p : net.parameters()) p.mutable_grad() = torch::full_like(p, rank == 0 ? 2.0 : 4.0);
      context.average_gradients(net.parameters());
      context.average_buffers(net);
      anys[rank] = context.any(rank == 1);
      means[rank] = context.average({1.0 + rank, 10.0 * rank});
      context.broadcast_module(net);
    } catch (const std::exception& e) {
      errors[rank] = e.what();
    }
  };
  std::thread other(run, 1);
  run(0);
  other.join();
  ASSERT_EQ(errors[0], "");
  ASSERT_EQ(errors[1], "");
  for (int r = 0; r < 2; ++r) {
    for (auto& p : nets[r]->parameters()) EXPECT_TRUE(torch::allclose(p.grad(), torch::full_like(p, 3.0)));
    EXPECT_TRUE(anys[r]);
    EXPECT_EQ(means[r], (std::vector<double>{1.5, 5.0}));
    // Broadcast after averaging: rank 0's parameters (1) everywhere; float buffers averaged (2),
    // batches tracked (an integer buffer) kept and then broadcast from rank 0.
    for (auto& p : nets[r]->parameters()) EXPECT_TRUE(torch::all(p == 1.0).item<bool>());
    for (const auto& b : nets[r]->named_buffers()) {
      EXPECT_TRUE(torch::all(b.value() == (b.value().is_floating_point() ? 2.0 : 1.0)).item<bool>()) << b.key();
    }
  }
}

#ifdef FREGAN_CLI
namespace {

// A `fregan` process whose output goes to a file.
class Process {
 public:
  Process(const std::vector<std::string>& args, const std::string& log_path) : log_path_(log_path) {
    std::vector<std::string> argv_strings{FREGAN_CLI};
    argv_strings.insert(argv_strings.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_strings) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 2, log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 2, 1);
    const int rc = posix_spawn(&pid_, FREGAN_CLI, &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) throw std::runtime_error("cannot start " + std::string(FREGAN_CLI));
  }
  ~Process() {
    if (!status_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  // The exit code once it has ended within `seconds`, else nullopt.
  std::optional<int> wait(double seconds) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (!status_) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      } else if (std::chrono::steady_clock::now() > end) {
        return std::nullopt;
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
    return status_;
  }
  void signal(int sig) { kill(pid_, sig); }
  std::string output() const {
    std::ifstream in(log_path_);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

 private:
  pid_t pid_ = 0;
  std::string log_path_;
  std::optional<int> status_;
};

// fregan-flow (no BatchNorm in its generator) with a one-level discriminator (no BatchNorm
// either: FREGAN's D has BN from its second level, whose batch statistics over half a batch
// differ from the whole batch's), so two ranks must reproduce one process to float rounding,
// adversarial term and label smoothing included.
std::vector<std::string> train_args(const std::string& data, const std::string& out, int steps) {
  return {"train",
          "--model",
          "fregan-flow",
          "--data",
          data,
          "--out",
          out,
          "--steps",
          std::to_string(steps),
          "--batch-size",
          "4",
          "--crop",
          "32",
          "--val-fraction",
          "0",
          "--threads",
          "1",
          "--workers",
          "1",
          "--seed",
          "5",
          "--log-every",
          "1",
          "--checkpoint-every",
          "1000",
          "--adv-weight",
          "0.01",
          "--generator-options",
          R"({"base_channels":8,"levels":2})",
          "--discriminator-options",
          R"({"base_channels":8,"levels":1})"};
}

std::vector<std::string> with(std::vector<std::string> args, const std::vector<std::string>& more) {
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

std::vector<std::string> rank_args(int rank, int port, double timeout = 60) {
  return {"--world-size",   "2",
          "--rank",         std::to_string(rank),
          "--master-addr",  "127.0.0.1",
          "--master-port",  std::to_string(port),
          "--dist-timeout", std::to_string(timeout)};
}

// Largest absolute difference between the weights of two checkpoints (generator and discriminator).
double max_weight_difference(const std::string& a_path, const std::string& b_path) {
  const auto a = models::load_model(a_path, torch::kCPU), b = models::load_model(b_path, torch::kCPU);
  double worst = 0;
  auto compare = [&](torch::nn::Module& ma, torch::nn::Module& mb) {
    const auto pb = mb.named_parameters();
    for (const auto& p : ma.named_parameters())
      worst = std::max(worst, (p.value() - pb[p.key()]).abs().max().item<double>());
  };
  compare(*a.generator, *b.generator);
  compare(*a.discriminator, *b.discriminator);
  return worst;
}

void expect_success(Process& p, double seconds) {
  const auto rc = p.wait(seconds);
  ASSERT_TRUE(rc.has_value()) << "still running after " << seconds << " s:\n" << p.output();
  ASSERT_EQ(*rc, 0) << p.output();
}

}  // namespace

TEST(DistributedTraining, TwoRanksMatchOneProcessAndResumeInOne) {
  if (!train::distributed_available()) GTEST_SKIP() << "built without c10d/Gloo";
  test::TempDir dir;
  test::write_moving_clip(dir / "clip", 12, 48, 48, 4, 2);
  const int steps = 3;
  {
    Process one(train_args(dir / "clip", dir / "one", steps), dir / "one.log");
    Process longer(train_args(dir / "clip", dir / "longer", steps + 2), dir / "longer.log");
    Process rank0(with(train_args(dir / "clip", dir / "two", steps), rank_args(0, test_port(1))), dir / "rank0.log");
    Process rank1(with(train_args(dir / "clip", dir / "two", steps), rank_args(1, test_port(1))), dir / "rank1.log");
    expect_success(rank0, 120);
    expect_success(rank1, 120);
    expect_success(one, 120);
    expect_success(longer, 120);
    EXPECT_NE(rank0.output().find("rank 0 of 2 joined the gloo process group"), std::string::npos) << rank0.output();
    // Only rank 0 reports progress.
    EXPECT_NE(rank0.output().find("step 3/3"), std::string::npos) << rank0.output();
    EXPECT_EQ(rank1.output().find("step 3/3"), std::string::npos) << rank1.output();
  }
  // Adam's first steps move each weight by about lr (2e-4) whatever the gradient's size, so
  // rounding differences in the averaged gradients could show at most at that scale; they are far smaller.
  EXPECT_LT(max_weight_difference(dir / "one/last.pt", dir / "two/last.pt"), 1e-5);
  // The two-rank checkpoint resumes in one process and ends where one process does.
  fs::copy(dir / "two", dir / "resumed");
  EXPECT_EQ(models::read_checkpoint_meta(dir / "two/last.pt").step, steps);
  Process resumed(with(train_args(dir / "clip", dir / "resumed", steps + 2), {"--resume"}), dir / "resumed.log");
  expect_success(resumed, 120);
  EXPECT_EQ(models::read_checkpoint_meta(dir / "resumed/last.pt").step, steps + 2);
  EXPECT_LT(max_weight_difference(dir / "longer/last.pt", dir / "resumed/last.pt"), 1e-5);
}

TEST(DistributedTraining, HalfABatchAloneEndsFarFromTheWholeBatch) {
  // The tolerance above can fail: a rank training on its half batch without averaging ends this far away.
  if (!train::distributed_available()) GTEST_SKIP() << "built without c10d/Gloo";
  test::TempDir dir;
  test::write_moving_clip(dir / "clip", 12, 48, 48, 4, 2);
  auto half = train_args(dir / "clip", dir / "half", 3);
  half[std::find(half.begin(), half.end(), "--batch-size") - half.begin() + 1] = "2";
  Process p(half, dir / "half.log");
  Process one(train_args(dir / "clip", dir / "one", 3), dir / "one.log");
  expect_success(p, 120);
  expect_success(one, 120);
  EXPECT_GT(max_weight_difference(dir / "one/last.pt", dir / "half/last.pt"), 1e-5);
}

namespace {

// Starts two ranks, waits until they train, then does `hurt` to rank 1; rank 0 must exit with a
// clear error within `limit` seconds.
void expect_survivor_fails(int port, double timeout, int sig, double limit) {
  test::TempDir dir;
  test::write_moving_clip(dir / "clip", 12, 48, 48, 4, 2);
  Process rank0(with(train_args(dir / "clip", dir / "run", 100000), rank_args(0, port, timeout)), dir / "rank0.log");
  Process rank1(with(train_args(dir / "clip", dir / "run", 100000), rank_args(1, port, timeout)), dir / "rank1.log");
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (rank0.output().find("step 2/") == std::string::npos) {
    ASSERT_LT(std::chrono::steady_clock::now(), until) << "never trained:\n" << rank0.output() << rank1.output();
    ASSERT_FALSE(rank0.wait(0.2).has_value()) << rank0.output();
  }
  rank1.signal(sig);
  const auto start = std::chrono::steady_clock::now();
  const auto rc = rank0.wait(limit);
  ASSERT_TRUE(rc.has_value()) << "rank 0 still running " << limit << " s after rank 1 got signal " << sig;
  EXPECT_NE(*rc, 0);
  EXPECT_NE(rank0.output().find("rank 0 of 2 could not"), std::string::npos) << rank0.output();
  EXPECT_NE(rank0.output().find("another rank died, hangs or cannot be reached"), std::string::npos) << rank0.output();
  std::cerr << "rank 0 exited " << std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()
            << " s after rank 1 got signal " << sig << "\n";
}

}  // namespace

TEST(DistributedTraining, DeadRankMakesTheOtherExitWithAClearError) {
  if (!train::distributed_available()) GTEST_SKIP() << "built without c10d/Gloo";
  expect_survivor_fails(test_port(2), 20, SIGKILL, 25);
}

TEST(DistributedTraining, HungRankMakesTheOtherExitAfterTheTimeout) {
  if (!train::distributed_available()) GTEST_SKIP() << "built without c10d/Gloo";
  expect_survivor_fails(test_port(3), 8, SIGSTOP, 30);  // the stopped rank is killed by ~Process
}
#endif
