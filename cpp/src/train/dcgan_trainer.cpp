#include "fregan/train/dcgan_trainer.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <torch/torch.h>

#include "fregan/data/frame_dataset.h"
#include "fregan/device.h"
#include "fregan/error.h"
#include "fregan/io/image.h"
#include "fregan/io/image_grid.h"
#include "fregan/log.h"
#include "fregan/options_json.h"
#include "fregan/models/checkpoint.h"
#include "run_log.h"

namespace fs = std::filesystem;

namespace fregan::train {

FREGAN_DEFINE_OPTIONS_JSON(DivergenceOptions, "divergence", enabled, d_loss_floor, d_floor_steps, g_loss_ceiling,
                           g_ceiling_steps, lr_factor, max_rollbacks)
FREGAN_DEFINE_OPTIONS_JSON(DcganTrainerOptions, "dcgan training", generator_options, discriminator_options, data,
                           frame_skip, target_frames, max_frames_per_source, temporal_order, hflip, steps, batch_size,
                           lr_g, lr_d, beta1, beta2, label_smoothing, divergence, out_dir, resume, overwrite, log_every,
                           checkpoint_every, sample_every, sample_count, seed, device, threads)

// --- divergence detector ---------------------------------------------------------------------

DivergenceDetector::DivergenceDetector(const DivergenceOptions& o) : options_(o) {
  require(o.d_floor_steps >= 1 && o.g_ceiling_steps >= 1, "divergence: d_floor_steps and g_ceiling_steps must be >= 1");
  require(o.lr_factor > 0 && o.lr_factor <= 1, "divergence: lr_factor must be in (0, 1]");
  require(o.max_rollbacks >= 0, "divergence: max_rollbacks must be >= 0");
}

std::optional<std::string> DivergenceDetector::update(double d_loss, double g_loss) {
  if (!options_.enabled) return std::nullopt;
  char why[160];
  if (!std::isfinite(d_loss) || !std::isfinite(g_loss)) {
    std::snprintf(why, sizeof why, "non-finite loss (D %g, G %g)", d_loss, g_loss);
    return std::string(why);
  }
  d_streak_ = d_loss < options_.d_loss_floor ? d_streak_ + 1 : 0;
  g_streak_ = g_loss > options_.g_loss_ceiling ? g_streak_ + 1 : 0;
  if (d_streak_ >= options_.d_floor_steps) {
    std::snprintf(why, sizeof why, "D loss below %g for %lld consecutive steps (discriminator won, collapse)",
                  options_.d_loss_floor, (long long)d_streak_);
    return std::string(why);
  }
  if (g_streak_ >= options_.g_ceiling_steps) {
    std::snprintf(why, sizeof why, "G loss above %g for %lld consecutive steps (exploding)", options_.g_loss_ceiling,
                  (long long)g_streak_);
    return std::string(why);
  }
  return std::nullopt;
}

// --- trainer ---------------------------------------------------------------------------------

namespace {

void check_options(const DcganTrainerOptions& o) {
  require(o.steps >= 1, "steps must be >= 1");
  require(o.batch_size >= 2, "batch_size must be >= 2 (BatchNorm needs more than one sample)");
  require(o.lr_g > 0 && o.lr_d > 0, "learning rates must be > 0");
  require(o.beta1 >= 0 && o.beta1 < 1 && o.beta2 >= 0 && o.beta2 < 1, "Adam betas must be in [0, 1)");
  require(o.frame_skip >= 1, "frame_skip must be >= 1");
  require(o.target_frames >= 0 && o.max_frames_per_source >= 0, "target_frames and max_frames must be >= 0");
  require(o.log_every >= 1 && o.checkpoint_every >= 1 && o.sample_every >= 0,
          "log/checkpoint/sample intervals must be positive (sample_every may be 0)");
  require(o.sample_count >= 1, "sample_count must be >= 1");
  require(o.label_smoothing.real_low <= o.label_smoothing.real_high && o.label_smoothing.fake_low <= o.label_smoothing.fake_high,
          "label smoothing ranges must have low <= high");
}

uint64_t mix(uint64_t a, uint64_t b) {
  uint64_t x = a * 0x9E3779B97F4A7C15ULL + b + 0x632BE59BD9B4E019ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

}  // namespace

DcganTrainer::DcganTrainer(const DcganTrainerOptions& options)
    : options_(options), detector_(options.divergence) {
  check_options(options_);
  set_num_threads(options_.threads);
  device_ = std::make_unique<torch::Device>(select_device(options_.device));
  torch::manual_seed(options_.seed);
  model_ = models::create_dcgan(options_.generator_options, options_.discriminator_options);
  generator_options_ = model_.generator_options.get<models::DcganGeneratorOptions>();
  model_.generator->to(*device_);
  model_.discriminator->to(*device_);
  optimizer_g_ = std::make_unique<torch::optim::Adam>(
      model_.generator->parameters(), torch::optim::AdamOptions(options_.lr_g).betas({options_.beta1, options_.beta2}));
  optimizer_d_ = std::make_unique<torch::optim::Adam>(
      model_.discriminator->parameters(), torch::optim::AdamOptions(options_.lr_d).betas({options_.beta1, options_.beta2}));
}

DcganTrainer::~DcganTrainer() = default;

torch::Device DcganTrainer::device() const { return *device_; }

void DcganTrainer::apply_lr_scale() {
  for (auto& group : optimizer_g_->param_groups()) {
    static_cast<torch::optim::AdamOptions&>(group.options()).lr(options_.lr_g * lr_scale_);
  }
  for (auto& group : optimizer_d_->param_groups()) {
    static_cast<torch::optim::AdamOptions&>(group.options()).lr(options_.lr_d * lr_scale_);
  }
}

DcganStepStats DcganTrainer::step(const torch::Tensor& real_01) {
  const auto& g = generator_options_;
  require(real_01.dim() == 4 && real_01.size(1) == 3 && real_01.size(2) == g.height && real_01.size(3) == g.width,
          "dcgan step: expected real frames [B, 3, " + std::to_string(g.height) + ", " + std::to_string(g.width) +
              "], got " + c10::str(real_01.sizes()));
  // Each step draws its randomness (latents, label targets) from a seed of its own, so a resumed
  // run repeats exactly what the uninterrupted run would have done; after a rollback the replayed
  // steps draw other latents.
  torch::manual_seed(mix(mix(options_.seed, static_cast<uint64_t>(step_)), static_cast<uint64_t>(rollbacks_)));
  model_.generator->train();
  model_.discriminator->train();
  const auto real = real_01.to(*device_).mul(2.0).sub(1.0);
  const int64_t b = real.size(0);
  const auto z = torch::randn({b, g.latent_dim}).to(*device_);
  const auto fake = model_.generator->forward(z);

  const auto real_logits = model_.discriminator->forward(real);
  const auto fake_logits = model_.discriminator->forward(fake.detach());
  const auto d_loss = losses::discriminator_loss(real_logits, fake_logits, options_.label_smoothing);
  optimizer_d_->zero_grad();
  d_loss.backward();
  optimizer_d_->step();

  const auto g_loss = losses::generator_adversarial_loss(model_.discriminator->forward(fake));
  optimizer_g_->zero_grad();
  g_loss.backward();
  optimizer_g_->step();

  DcganStepStats stats;
  stats.d_loss = d_loss.item<double>();
  stats.g_loss = g_loss.item<double>();
  stats.d_real = torch::sigmoid(real_logits.detach()).mean().item<double>();
  stats.d_fake = torch::sigmoid(fake_logits.detach()).mean().item<double>();
  stats.step = ++step_;
  return stats;
}

void DcganTrainer::save(const std::string& path) const {
  models::CheckpointMeta meta;
  meta.trainer_options = options_;
  meta.step = step_;
  meta.trainer_state = {{"lr_scale", lr_scale_}, {"rollbacks", rollbacks_}};
  models::save_dcgan_checkpoint(path, meta, model_, optimizer_g_.get(), optimizer_d_.get());
}

void DcganTrainer::load(const std::string& path) {
  models::CheckpointMeta meta;
  auto loaded = models::load_dcgan(path, *device_, &meta);
  models::resume_from(path, meta, model_.generator_options, model_.discriminator_options, *model_.generator, *loaded.generator,
              *model_.discriminator, loaded.discriminator.get(), *optimizer_g_, *optimizer_d_, *device_);
  step_ = meta.step;
  lr_scale_ = meta.trainer_state.value("lr_scale", 1.0);
  rollbacks_ = meta.trainer_state.value("rollbacks", 0);
  apply_lr_scale();
  detector_.reset();
}

std::optional<std::string> DcganTrainer::check_divergence(const DcganStepStats& stats, const std::string& good_checkpoint) {
  auto reason = detector_.update(stats.d_loss, stats.g_loss);
  if (!reason) return std::nullopt;
  const auto& d = options_.divergence;
  if (rollbacks_ >= d.max_rollbacks) {
    throw Error("DCGAN training diverged at step " + std::to_string(stats.step) + ": " + *reason + ", after " +
                std::to_string(rollbacks_) + " rollbacks (divergence.max_rollbacks); giving up. The last good "
                "weights are in '" + good_checkpoint + "'");
  }
  const double new_scale = lr_scale_ * d.lr_factor;
  const int new_rollbacks = rollbacks_ + 1;
  load(good_checkpoint);
  lr_scale_ = new_scale;
  rollbacks_ = new_rollbacks;
  apply_lr_scale();
  save(good_checkpoint);  // a crash now resumes with the lowered rates
  char what[512];
  std::snprintf(what, sizeof what, "step %lld: %s; rolled back to step %lld, learning rates x%g (now G %.3g, D %.3g), rollback %d of at most %d",
                (long long)stats.step, reason->c_str(), (long long)step_, d.lr_factor, options_.lr_g * lr_scale_,
                options_.lr_d * lr_scale_, rollbacks_, d.max_rollbacks);
  return std::string(what);
}

torch::Tensor DcganTrainer::sample(int64_t n, uint64_t seed) {
  torch::NoGradGuard no_grad;
  model_.generator->eval();
  const auto z = models::dcgan_latents(n, generator_options_.latent_dim, seed).to(*device_);
  auto frames = model_.generator->forward(z).add(1.0).mul(0.5).clamp(0.0, 1.0).cpu();
  model_.generator->train();
  return frames;
}

void DcganTrainer::fit(const DcganProgressCallback& callback) {
  const auto& o = options_;
  require(!o.out_dir.empty(), "training needs an output folder (--out)");
  require(!o.data.empty(), "training needs data (--data VIDEO_OR_FOLDER ...)");
  fs::create_directories(fs::path(o.out_dir) / "samples");
  const std::string last_path = (fs::path(o.out_dir) / "last.pt").string();
  const std::string log_path = (fs::path(o.out_dir) / "log.jsonl").string();
  if (detail::should_resume(o.out_dir, last_path, o.resume, o.overwrite)) {
    load(last_path);
    log::info("resuming '" + last_path + "' at step " + std::to_string(step_));
  }

  data::FrameDatasetOptions dopt;
  dopt.sources = o.data;
  dopt.frame_skip = o.frame_skip;
  dopt.target_frames = o.target_frames;
  dopt.max_frames_per_source = o.max_frames_per_source;
  const data::FrameDataset dataset(dopt);
  data::FrameBatchOptions bopt;
  bopt.batch_size = o.batch_size;
  bopt.height = generator_options_.height;
  bopt.width = generator_options_.width;
  bopt.shuffle = !o.temporal_order;
  bopt.hflip = o.hflip;
  bopt.seed = o.seed;
  log::info("training dcgan (" + std::to_string(generator_options_.height) + "x" + std::to_string(generator_options_.width) +
            ") on " + std::to_string(dataset.size()) + " frames (frame skip " + std::to_string(dataset.effective_skip()) +
            ", " + (o.temporal_order ? "temporal order" : "shuffled") + "), device " + device_->str());

  if (o.resume) detail::truncate_log(log_path, step_);
  std::ofstream log_file(log_path, o.resume ? std::ios::app : std::ios::trunc);
  if (!log_file) throw FileError("cannot write '" + log_path + "'");
  // The first good checkpoint: a rollback always has somewhere to go.
  if (!o.resume || !fs::exists(last_path)) save(last_path);

  auto write_samples = [&]() {
    const auto frames = sample(o.sample_count, o.seed);
    std::vector<cv::Mat> images;
    for (int64_t i = 0; i < frames.size(0); ++i) images.push_back(io::tensor_to_image(frames[i]));
    char name[64];
    std::snprintf(name, sizeof name, "step_%06lld.png", (long long)step_);
    const std::string path = (fs::path(o.out_dir) / "samples" / name).string();
    io::write_image(path, io::make_grid(images), /*overwrite=*/true);
    return path;
  };

  const int64_t first_step = step_;
  const auto start = std::chrono::steady_clock::now();
  bool stop = false;
  while (step_ < o.steps && !stop) {
    const DcganStepStats stats = step(data::make_frame_batch(dataset, bopt, step_));
    DcganProgress progress;
    progress.last = stats;
    if (auto event = check_divergence(stats, last_path)) {
      log::warn("dcgan divergence at " + *event);
      log_file << nlohmann::json{{"step", step_}, {"event", "rollback"}, {"what", *event}, {"from_step", stats.step},
                                 {"lr_scale", lr_scale_}, {"rollbacks", rollbacks_}}
                      .dump()
               << std::endl;
      progress.event = *event;
    }
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    progress.step = step_;
    progress.total_steps = o.steps;
    progress.lr_scale = lr_scale_;
    progress.rollbacks = rollbacks_;
    const int64_t done = std::max<int64_t>(step_ - first_step, 1);
    progress.samples_per_second = done * o.batch_size / std::max(elapsed, 1e-9);
    progress.eta_seconds = elapsed / done * (o.steps - step_);
    const bool final_step = step_ == o.steps;
    if (progress.event.empty() && (step_ % o.log_every == 0 || final_step)) {
      char line[320];
      std::snprintf(line, sizeof line, "step %lld/%lld  D %.4f  G %.4f  D(real) %.3f  D(fake) %.3f  lr x%g  %.2f samples/s  ETA %s",
                    (long long)step_, (long long)o.steps, stats.d_loss, stats.g_loss, stats.d_real, stats.d_fake,
                    lr_scale_, progress.samples_per_second, detail::format_duration(progress.eta_seconds).c_str());
      log::info(line);
      log_file << nlohmann::json{{"step", step_}, {"d_loss", stats.d_loss}, {"g_loss", stats.g_loss},
                                 {"d_real", stats.d_real}, {"d_fake", stats.d_fake}, {"lr_scale", lr_scale_},
                                 {"rollbacks", rollbacks_}, {"samples_per_second", progress.samples_per_second},
                                 {"elapsed", elapsed}}
                      .dump()
               << std::endl;
    }
    if (progress.event.empty() && ((o.sample_every > 0 && step_ % o.sample_every == 0) || final_step)) {
      progress.sample_grid = write_samples();
    }
    if (callback && !callback(progress)) {
      log::info("stopped by the caller at step " + std::to_string(step_));
      stop = true;
    }
    if (progress.event.empty() && (step_ % o.checkpoint_every == 0 || final_step || stop)) {
      // Only weights from a healthy phase become the rollback target.
      if (healthy()) {
        save(last_path);
      } else if (!final_step && !stop) {
        log::info("step " + std::to_string(step_) + ": losses beyond the divergence thresholds, checkpoint skipped");
      } else {
        save(last_path);  // the end of the run: keep what there is
      }
    }
  }
  if (rollbacks_ > 0) {
    log::info("dcgan training finished with " + std::to_string(rollbacks_) + " rollback(s); learning rates x" +
              std::to_string(lr_scale_));
  }
}

}  // namespace fregan::train
