#include "fregan/train/dcgan_trainer.h"

#include <cmath>
#include <cstdio>
#include <filesystem>

#include <torch/torch.h>

#include "fregan/data/frame_dataset.h"
#include "fregan/device.h"
#include "fregan/error.h"
#include "fregan/io/image.h"
#include "fregan/io/image_grid.h"
#include "fregan/log.h"
#include "fregan/options_json.h"
#include "fregan/models/checkpoint.h"
#include "fregan/train/diff_augment.h"
#include "run_log.h"

namespace fs = std::filesystem;

namespace fregan::train {

FREGAN_DEFINE_OPTIONS_JSON(DivergenceOptions, "divergence", enabled, d_loss_floor, d_floor_steps, g_loss_ceiling,
                           g_ceiling_steps, lr_factor, max_rollbacks)
FREGAN_DEFINE_OPTIONS_JSON(CollapseOptions, "collapse", enabled, min_ratio, start_step, feature_height, feature_width,
                           lr_factor, d_lr_factor, max_rollbacks)
FREGAN_DEFINE_TRAINER_OPTIONS_JSON(DcganTrainerOptions, "dcgan training", frame_skip, target_frames, temporal_order,
                                   hflip, divergence, collapse, loss, r1_gamma, r1_every, diff_augment, ema_decay,
                                   sample_every, sample_count)

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

// --- collapse detector -----------------------------------------------------------------------

namespace {

metrics::Diversity diversity_of(const torch::Tensor& frames, const CollapseOptions& o, const char* what) {
  FREGAN_CHECK(frames.dim() == 4 && frames.size(0) >= 2, "collapse detector: the ", what,
               " frames must be [N >= 2, 3, H, W], got ", frames.sizes());
  return metrics::diversity(metrics::frame_features(frames, o.feature_height, o.feature_width));
}

}  // namespace

CollapseDetector::CollapseDetector(const CollapseOptions& o, const torch::Tensor& real_frames) : options_(o) {
  require(o.min_ratio >= 0, "collapse: min_ratio must be >= 0");
  require(o.lr_factor > 0 && o.lr_factor <= 1 && o.d_lr_factor > 0 && o.d_lr_factor <= 1,
          "collapse: lr_factor and d_lr_factor must be in (0, 1]");
  require(o.max_rollbacks >= 0 && o.start_step >= 0, "collapse: max_rollbacks and start_step must be >= 0");
  real_ = diversity_of(real_frames, o, "real");
  require(real_.pixel_std > 0 && real_.mean_pairwise_distance > 0,
          "collapse: the real frames are all the same at the feature size: nothing to compare diversity with");
}

CollapseVerdict CollapseDetector::measure(const torch::Tensor& frames) const {
  CollapseVerdict v;
  v.real = real_;
  v.samples = diversity_of(frames, options_, "generated");
  v.std_ratio = v.samples.pixel_std / real_.pixel_std;
  v.distance_ratio = v.samples.mean_pairwise_distance / real_.mean_pairwise_distance;
  v.collapsed = v.std_ratio < options_.min_ratio || v.distance_ratio < options_.min_ratio;
  return v;
}

// --- trainer ---------------------------------------------------------------------------------

namespace {

void check_options(const DcganTrainerOptions& o) {
  const auto& r = o.run;
  require(r.steps >= 1, "steps must be >= 1");
  require(r.batch_size >= 2, "batch_size must be >= 2 (BatchNorm needs more than one sample)");
  require(r.lr_g > 0 && r.lr_d > 0, "learning rates must be > 0");
  require(r.beta1 >= 0 && r.beta1 < 1 && r.beta2 >= 0 && r.beta2 < 1, "Adam betas must be in [0, 1)");
  require(o.frame_skip >= 1, "frame_skip must be >= 1");
  require(o.target_frames >= 0 && r.max_frames_per_source >= 0, "target_frames and max_frames must be >= 0");
  require(r.log_every >= 1 && r.checkpoint_every >= 1 && o.sample_every >= 0,
          "log/checkpoint/sample intervals must be positive (sample_every may be 0)");
  require(o.sample_count >= 1, "sample_count must be >= 1");
  require(o.loss == "bce" || o.loss == "hinge", "loss must be 'bce' or 'hinge', got '" + o.loss + "'");
  require(o.r1_gamma >= 0 && o.r1_every >= 1, "r1_gamma must be >= 0 and r1_every >= 1");
  require(o.ema_decay >= 0 && o.ema_decay < 1, "ema_decay must be in [0, 1) (0 = no EMA)");
  require(r.label_smoothing.real_low <= r.label_smoothing.real_high &&
              r.label_smoothing.fake_low <= r.label_smoothing.fake_high,
          "label smoothing ranges must have low <= high");
}

uint64_t mix(uint64_t a, uint64_t b) {
  uint64_t x = a * 0x9E3779B97F4A7C15ULL + b + 0x632BE59BD9B4E019ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

}  // namespace

DcganTrainer::DcganTrainer(const DcganTrainerOptions& options) : options_(options), detector_(options.divergence) {
  check_options(options_);
  const auto& run = options_.run;
  device_ = std::make_unique<torch::Device>(detail::start_run(run, run.threads));
  model_ = models::create_dcgan(run.generator_options, run.discriminator_options);
  generator_options_ = model_.generator_options.get<models::DcganGeneratorOptions>();
  model_.generator->to(*device_);
  model_.discriminator->to(*device_);
  hinge_ = options_.loss == "hinge";
  augment_ = std::make_unique<DiffAugmentPolicy>(parse_diff_augment(options_.diff_augment));
  if (options_.ema_decay > 0) {
    ema_ = models::DcganGenerator(generator_options_);
    ema_->to(*device_);
    models::copy_weights(*ema_, *model_.generator);
    for (auto& p : ema_->parameters()) p.set_requires_grad(false);
  }
  optimizer_g_ = detail::adam(model_.generator->parameters(), run.lr_g, run);
  optimizer_d_ = detail::adam(model_.discriminator->parameters(), run.lr_d, run);
}

DcganTrainer::~DcganTrainer() = default;

torch::Device DcganTrainer::device() const { return *device_; }

void DcganTrainer::apply_lr_scale() {
  for (auto& group : optimizer_g_->param_groups()) {
    static_cast<torch::optim::AdamOptions&>(group.options()).lr(options_.run.lr_g * lr_scale_);
  }
  for (auto& group : optimizer_d_->param_groups()) {
    static_cast<torch::optim::AdamOptions&>(group.options()).lr(options_.run.lr_d * lr_scale_ * d_lr_scale_);
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
  torch::manual_seed(mix(mix(options_.run.seed, static_cast<uint64_t>(step_)),
                         static_cast<uint64_t>(rollbacks_) + (static_cast<uint64_t>(collapse_rollbacks_) << 32)));
  model_.generator->train();
  model_.discriminator->train();
  const auto real = real_01.to(*device_).mul(2.0).sub(1.0);
  const int64_t b = real.size(0);
  const auto z = torch::randn({b, g.latent_dim}).to(*device_);
  const auto fake = model_.generator->forward(z);

  // D sees real and generated frames through the same kind of random transforms (DiffAugment).
  const auto augment = [&](const torch::Tensor& x) { return augment_->any() ? diff_augment(x, *augment_) : x; };

  auto real_in = augment(real);
  const bool r1 = options_.r1_gamma > 0 && step_ % options_.r1_every == 0;
  if (r1) real_in = real_in.detach().requires_grad_(true);
  const auto real_logits = model_.discriminator->forward(real_in);
  const auto fake_logits = model_.discriminator->forward(augment(fake.detach()));
  const auto d_loss = hinge_ ? losses::hinge_discriminator_loss(real_logits, fake_logits)
                             : losses::discriminator_loss(real_logits, fake_logits, options_.run.label_smoothing);
  auto d_total = d_loss;
  torch::Tensor r1_term;
  if (r1) {
    r1_term = losses::r1_penalty(real_logits, real_in);
    d_total = d_total + options_.r1_gamma / 2 * options_.r1_every * r1_term;
  }
  optimizer_d_->zero_grad();
  d_total.backward();
  optimizer_d_->step();

  const auto g_logits = model_.discriminator->forward(augment(fake));
  const auto g_loss = hinge_ ? losses::hinge_generator_loss(g_logits) : losses::generator_adversarial_loss(g_logits);
  optimizer_g_->zero_grad();
  g_loss.backward();
  optimizer_g_->step();
  if (ema_) update_ema();

  DcganStepStats stats;
  if (r1) stats.r1 = r1_term.item<double>();
  stats.d_loss = d_loss.item<double>();
  stats.g_loss = g_loss.item<double>();
  stats.d_real = torch::sigmoid(real_logits.detach()).mean().item<double>();
  stats.d_fake = torch::sigmoid(fake_logits.detach()).mean().item<double>();
  stats.step = ++step_;
  return stats;
}

void DcganTrainer::update_ema() {
  torch::NoGradGuard no_grad;
  const double d = options_.ema_decay;
  auto src = model_.generator->named_parameters(true);
  for (auto& p : ema_->named_parameters(true)) p.value().mul_(d).add_(src[p.key()], 1.0 - d);
  // BatchNorm's running statistics are already averages: the EMA generator takes G's.
  auto buffers = model_.generator->named_buffers(true);
  for (auto& b : ema_->named_buffers(true)) b.value().copy_(buffers[b.key()]);
}

void DcganTrainer::save(const std::string& path) const {
  models::CheckpointMeta meta;
  meta.trainer_options = options_;
  meta.step = step_;
  meta.trainer_state = {{"lr_scale", lr_scale_},
                        {"rollbacks", rollbacks_},
                        {"d_lr_scale", d_lr_scale_},
                        {"collapse_rollbacks", collapse_rollbacks_}};
  if (!ema_) {
    models::save_dcgan_checkpoint(path, meta, model_, optimizer_g_.get(), optimizer_d_.get());
    return;
  }
  // The EMA is the checkpoint's generator (what inference loads); G's own weights go beside it.
  models::Dcgan with_ema = model_;
  with_ema.generator = ema_;
  models::save_dcgan_checkpoint(path, meta, with_ema, optimizer_g_.get(), optimizer_d_.get(), model_.generator.get());
}

void DcganTrainer::load(const std::string& path) {
  models::CheckpointMeta meta;
  auto loaded = models::load_dcgan(path, *device_, &meta);
  models::resume_from(path, meta, model_.generator_options, model_.discriminator_options, *model_.generator,
                      *loaded.generator, *model_.discriminator, loaded.discriminator.get(), *optimizer_g_,
                      *optimizer_d_, *device_);
  if (ema_) {
    // The file's generator is the EMA; G's own weights, when saved, are beside it.
    models::copy_weights(*ema_, *loaded.generator);
    models::load_training_generator(path, *model_.generator, *device_);
  }
  step_ = meta.step;
  lr_scale_ = meta.trainer_state.value("lr_scale", 1.0);
  rollbacks_ = meta.trainer_state.value("rollbacks", 0);
  d_lr_scale_ = meta.trainer_state.value("d_lr_scale", 1.0);
  collapse_rollbacks_ = meta.trainer_state.value("collapse_rollbacks", 0);
  apply_lr_scale();
  detector_.reset();
}

std::optional<std::string> DcganTrainer::check_divergence(const DcganStepStats& stats,
                                                          const std::string& good_checkpoint) {
  auto reason = detector_.update(stats.d_loss, stats.g_loss);
  if (!reason) return std::nullopt;
  const auto& d = options_.divergence;
  if (rollbacks_ >= d.max_rollbacks) {
    throw Error("DCGAN training diverged at step " + std::to_string(stats.step) + ": " + *reason + ", after " +
                std::to_string(rollbacks_) +
                " rollbacks (divergence.max_rollbacks); giving up. The last good "
                "weights are in '" +
                good_checkpoint + "'");
  }
  const double new_scale = lr_scale_ * d.lr_factor;
  const int new_rollbacks = rollbacks_ + 1;
  load(good_checkpoint);
  lr_scale_ = new_scale;
  rollbacks_ = new_rollbacks;
  apply_lr_scale();
  save(good_checkpoint);  // a crash now resumes with the lowered rates
  char what[512];
  std::snprintf(
      what, sizeof what,
      "step %lld: %s; rolled back to step %lld, learning rates x%g (now G %.3g, D %.3g), rollback %d of at most %d",
      (long long)stats.step, reason->c_str(), (long long)step_, d.lr_factor, options_.run.lr_g * lr_scale_,
      options_.run.lr_d * lr_scale_, rollbacks_, d.max_rollbacks);
  return std::string(what);
}

void DcganTrainer::set_real_frames(const torch::Tensor& real_frames) {
  collapse_ = std::make_unique<CollapseDetector>(options_.collapse, real_frames);
}

CollapseVerdict DcganTrainer::check_collapse(const torch::Tensor& samples, const std::string& healthy_checkpoint,
                                             const std::string& last_checkpoint, std::string* event) {
  require(collapse_ != nullptr, "check_collapse: no real frames to compare with (set_real_frames)");
  const auto& c = options_.collapse;
  const CollapseVerdict v = collapse_->measure(samples);
  const bool judged = step_ >= c.start_step;
  if (!v.collapsed || !judged) {
    save(healthy_checkpoint);
    return v;
  }
  if (!c.enabled) return v;
  char why[160];
  std::snprintf(why, sizeof why,
                "samples collapsed (diversity x%.2f std, x%.2f pairwise of the real frames', below %g)", v.std_ratio,
                v.distance_ratio, c.min_ratio);
  if (collapse_rollbacks_ >= c.max_rollbacks) {
    throw Error("DCGAN training collapsed at step " + std::to_string(step_) + ": " + why + ", after " +
                std::to_string(collapse_rollbacks_) +
                " collapse rollbacks (collapse.max_rollbacks); giving up. The "
                "last weights whose samples were diverse are in '" +
                healthy_checkpoint + "'");
  }
  const int64_t at = step_;
  const double new_scale = lr_scale_ * c.lr_factor, new_d_scale = d_lr_scale_ * c.d_lr_factor;
  const int new_rollbacks = collapse_rollbacks_ + 1;
  load(healthy_checkpoint);
  lr_scale_ = new_scale;
  d_lr_scale_ = new_d_scale;
  collapse_rollbacks_ = new_rollbacks;
  apply_lr_scale();
  save(healthy_checkpoint);
  save(last_checkpoint);  // a crash now resumes from the rolled-back state
  char what[512];
  std::snprintf(
      what, sizeof what,
      "step %lld: %s; rolled back to step %lld, learning rates now G %.3g, D %.3g, collapse rollback %d of at most %d",
      (long long)at, why, (long long)step_, options_.run.lr_g * lr_scale_, options_.run.lr_d * lr_scale_ * d_lr_scale_,
      collapse_rollbacks_, c.max_rollbacks);
  *event = what;
  return v;
}

torch::Tensor DcganTrainer::sample(int64_t n, uint64_t seed) {
  torch::NoGradGuard no_grad;
  auto& g = ema_ ? ema_ : model_.generator;
  g->eval();
  const auto z = models::dcgan_latents(n, generator_options_.latent_dim, seed).to(*device_);
  auto frames = g->forward(z).add(1.0).mul(0.5).clamp(0.0, 1.0).cpu();
  g->train();
  return frames;
}

void DcganTrainer::fit(const DcganProgressCallback& callback) {
  const auto& o = options_;
  const auto& run = o.run;
  detail::RunFolder folder(run);
  fs::create_directories(folder.path("samples"));
  const std::string& last_path = folder.last();
  const std::string healthy_path = folder.path("healthy.pt");
  folder.resume_into(*this);

  data::FrameDatasetOptions dopt;
  dopt.sources = run.data;
  dopt.frame_skip = o.frame_skip;
  dopt.target_frames = o.target_frames;
  dopt.max_frames_per_source = run.max_frames_per_source;
  const data::FrameDataset dataset(dopt);
  data::FrameBatchOptions bopt;
  bopt.batch_size = run.batch_size;
  bopt.height = generator_options_.height;
  bopt.width = generator_options_.width;
  bopt.shuffle = !o.temporal_order;
  bopt.hflip = o.hflip;
  bopt.seed = run.seed;
  log::info("training dcgan (" + std::to_string(generator_options_.height) + "x" +
            std::to_string(generator_options_.width) + ") on " + std::to_string(dataset.size()) +
            " frames (frame skip " + std::to_string(dataset.effective_skip()) + ", " +
            (o.temporal_order ? "temporal order" : "shuffled") + "), device " + device_->str());

  set_real_frames(data::evenly_spaced_frames(dataset, std::max(o.sample_count, 2), generator_options_.height,
                                             generator_options_.width));
  log::info("real frames' diversity at " + std::to_string(o.collapse.feature_height) + "x" +
            std::to_string(o.collapse.feature_width) + ": per-pixel std " +
            std::to_string(collapse_->real().pixel_std) + ", mean pairwise distance " +
            std::to_string(collapse_->real().mean_pairwise_distance));
  folder.open_log(step_);
  // The first good checkpoint: a rollback always has somewhere to go.
  if (!run.resume || !fs::exists(last_path)) save(last_path);
  if (!fs::exists(healthy_path)) save(healthy_path);

  auto write_samples = [&](const torch::Tensor& frames) {
    std::vector<cv::Mat> images;
    for (int64_t i = 0; i < frames.size(0); ++i) images.push_back(io::tensor_to_image(frames[i]));
    char name[64];
    std::snprintf(name, sizeof name, "step_%06lld.png", (long long)step_);
    const std::string path = (fs::path(folder.path("samples")) / name).string();
    io::write_image(path, io::make_grid(images), /*overwrite=*/true);
    return path;
  };

  detail::LoopHooks<DcganProgress> hooks;
  hooks.step = [&](DcganProgress& p) {
    p.last = step(data::make_frame_batch(dataset, bopt, step_));
    if (auto event = check_divergence(p.last, last_path)) {
      log::warn("dcgan divergence at " + *event);
      folder.write({{"step", step_},
                    {"event", "rollback"},
                    {"what", *event},
                    {"from_step", p.last.step},
                    {"lr_scale", lr_scale_},
                    {"rollbacks", rollbacks_}});
      p.event = *event;
    }
    p.lr_scale = lr_scale_;
    p.rollbacks = rollbacks_;
  };
  // A step that rolled back is neither logged, sampled nor checkpointed.
  hooks.skip = [](const DcganProgress& p) { return !p.event.empty(); };
  hooks.log = [&](DcganProgress& p) {
    const DcganStepStats& stats = p.last;
    char figures[256];
    std::snprintf(figures, sizeof figures, "D %.4f  G %.4f  D(real) %.3f  D(fake) %.3f  lr x%g", stats.d_loss,
                  stats.g_loss, stats.d_real, stats.d_fake, lr_scale_);
    return std::pair{std::string(figures), nlohmann::json{{"d_loss", stats.d_loss},
                                                          {"g_loss", stats.g_loss},
                                                          {"d_real", stats.d_real},
                                                          {"d_fake", stats.d_fake},
                                                          {"lr_scale", lr_scale_},
                                                          {"rollbacks", rollbacks_}}};
  };
  // DCGAN's validation: the fixed-noise samples' grid and diversity, and the collapse rollback.
  hooks.validate = [&](DcganProgress& p) -> std::optional<double> {
    const auto frames = sample(std::max(o.sample_count, 2), run.seed);
    p.sample_grid = write_samples(frames.narrow(0, 0, o.sample_count));
    std::string event;
    const int64_t sampled_at = step_;
    const CollapseVerdict v = check_collapse(frames, healthy_path, last_path, &event);
    p.validation = v;
    char line[320];
    std::snprintf(line, sizeof line,
                  "step %lld: samples' diversity x%.2f (std %.2f vs real %.2f), x%.2f (pairwise %.2f vs real %.2f)%s",
                  (long long)sampled_at, v.std_ratio, v.samples.pixel_std, v.real.pixel_std, v.distance_ratio,
                  v.samples.mean_pairwise_distance, v.real.mean_pairwise_distance,
                  v.collapsed
                      ? (sampled_at >= o.collapse.start_step ? "  COLLAPSED" : "  (alike, before collapse.start_step)")
                      : "");
    log::info(line);
    folder.write({{"step", sampled_at},
                  {"event", "diversity"},
                  {"std", v.samples.pixel_std},
                  {"real_std", v.real.pixel_std},
                  {"pairwise", v.samples.mean_pairwise_distance},
                  {"real_pairwise", v.real.mean_pairwise_distance},
                  {"std_ratio", v.std_ratio},
                  {"distance_ratio", v.distance_ratio},
                  {"collapsed", v.collapsed}});
    if (!event.empty()) {
      log::warn("dcgan collapse at " + event);
      folder.write({{"step", step_},
                    {"event", "rollback"},
                    {"what", event},
                    {"from_step", sampled_at},
                    {"lr_scale", lr_scale_},
                    {"d_lr_scale", d_lr_scale_},
                    {"collapse_rollbacks", collapse_rollbacks_}});
      p.event = event;
      p.step = step_;
      p.lr_scale = lr_scale_;
    }
    return std::nullopt;
  };
  hooks.save_last = [&](bool end) {
    // Only weights from a healthy phase become the rollback target.
    if (healthy()) {
      save(last_path);
    } else if (!end) {
      log::info("step " + std::to_string(step_) + ": losses beyond the divergence thresholds, checkpoint skipped");
    } else {
      save(last_path);  // the end of the run: keep what there is
    }
  };
  detail::run_steps(folder, run, step_, o.sample_every, callback, hooks);
  if (rollbacks_ > 0) {
    log::info("dcgan training finished with " + std::to_string(rollbacks_) + " rollback(s); learning rates x" +
              std::to_string(lr_scale_));
  }
}

}  // namespace fregan::train
