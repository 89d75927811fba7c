#include "fregan/train/sr_trainer.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <torch/torch.h>

#include "fregan/data/frame_source.h"
#include "fregan/data/triplet_dataset.h"
#include "fregan/device.h"
#include "fregan/error.h"
#include "fregan/log.h"
#include "fregan/options_json.h"
#include "fregan/models/checkpoint.h"
#include "run_log.h"

namespace fs = std::filesystem;

namespace fregan::train {

FREGAN_DEFINE_OPTIONS_JSON(SrTrainerOptions, "sr training", generator_options, discriminator_options, data, val_data,
                           val_fraction, max_frames_per_source, val_frames, val_crop, steps, batch_size, hr_crop, flip,
                           rotate, lr_g, lr_d, beta1, beta2, loss, perceptual_model, label_smoothing, out_dir, resume,
                           overwrite, log_every, val_every, checkpoint_every, seed, device, threads)

namespace {

void check_options(const SrTrainerOptions& o) {
  require(o.steps >= 1, "steps must be >= 1");
  require(o.batch_size >= 2, "batch_size must be >= 2 (the discriminator's BatchNorm needs more than one sample)");
  require(o.hr_crop >= 32 && o.hr_crop % 4 == 0, "hr_crop must be a multiple of 4 and >= 32, got " + std::to_string(o.hr_crop));
  require(o.lr_g > 0 && o.lr_d > 0, "learning rates must be > 0");
  require(o.loss.is_object(), "loss options must be a JSON object");
  require(o.val_frames >= 1, "val_frames must be >= 1");
  require(o.log_every >= 1 && o.checkpoint_every >= 1 && o.val_every >= 0, "log/checkpoint/val intervals must be positive");
}

}  // namespace

SrTrainer::SrTrainer(const SrTrainerOptions& options) : options_(options) {
  check_options(options_);
  set_num_threads(options_.threads);
  device_ = std::make_unique<torch::Device>(select_device(options_.device));
  torch::manual_seed(options_.seed);
  model_ = models::create_spectraframe(options_.generator_options, options_.discriminator_options);
  nlohmann::json loss = losses::SrLossWeights{};
  loss.update(options_.loss);
  loss_weights_ = loss.get<losses::SrLossWeights>();
  const auto& w = loss_weights_;
  require(w.mse >= 0 && w.charbonnier >= 0 && w.perceptual >= 0 && w.adversarial >= 0 && w.tv >= 0,
          "loss weights must be >= 0");
  require(w.mse + w.charbonnier + w.perceptual > 0,
          "the loss needs a reconstruction term (mse, charbonnier or perceptual > 0)");
  if (!options_.perceptual_model.empty()) {
    perceptual_ = std::make_unique<losses::TorchScriptFeatures>(options_.perceptual_model);
    perceptual_->to(*device_);
  }
  model_.generator->to(*device_);
  model_.discriminator->to(*device_);
  const auto adam = [&](double lr) { return torch::optim::AdamOptions(lr).betas({options_.beta1, options_.beta2}); };
  optimizer_g_ = std::make_unique<torch::optim::Adam>(model_.generator->parameters(), adam(options_.lr_g));
  optimizer_d_ = std::make_unique<torch::optim::Adam>(model_.discriminator->parameters(), adam(options_.lr_d));
}

SrTrainer::~SrTrainer() = default;

torch::Device SrTrainer::device() const { return *device_; }

std::string SrTrainer::perceptual_source() const {
  if (loss_weights_.perceptual <= 0) return "off";
  if (perceptual_) return "torchscript:" + perceptual_->path();
  return "discriminator features";
}

SrStepStats SrTrainer::step(const data::SrBatch& batch) {
  // Each step draws its randomness (label smoothing) from a seed of its own: exact resume.
  torch::manual_seed(options_.seed * 1000003ULL + static_cast<uint64_t>(step_));
  auto& g = model_.generator;
  auto& d = model_.discriminator;
  g->train();
  d->train();
  const auto hr = batch.hr.to(*device_), lr = batch.lr.to(*device_), neighbours = batch.neighbours.to(*device_);
  const auto flows = models::spectraframe_flows(lr, neighbours);
  const auto sr = g->forward(lr, neighbours, flows);
  const auto& w = loss_weights_;
  SrStepStats stats;

  if (w.adversarial > 0) {
    const auto d_loss = losses::discriminator_loss(d->forward(hr), d->forward(sr.detach()), options_.label_smoothing);
    optimizer_d_->zero_grad();
    d_loss.backward();
    optimizer_d_->step();
    stats.d_loss = d_loss.item<double>();
  }

  auto add = [&](torch::Tensor& total, const char* name, double weight, const torch::Tensor& term) {
    stats.terms[name] = term.item<double>();
    total = total.defined() ? total + weight * term : weight * term;
  };
  torch::Tensor g_loss;
  if (w.mse > 0) add(g_loss, "mse", w.mse, torch::mse_loss(sr, hr));
  if (w.charbonnier > 0) add(g_loss, "charbonnier", w.charbonnier, losses::charbonnier(sr, hr, w.charbonnier_epsilon));
  if (w.tv > 0) add(g_loss, "tv", w.tv, losses::total_variation(sr));
  // The discriminator's features of the SR frame serve feature matching and the GAN term alike.
  std::vector<torch::Tensor> fake_features;
  if (w.adversarial > 0 || (w.perceptual > 0 && !perceptual_)) fake_features = d->features(sr);
  if (w.perceptual > 0) {
    if (perceptual_) {
      std::vector<torch::Tensor> real_features;
      {
        torch::NoGradGuard no_grad;
        real_features = (*perceptual_)(hr);
      }
      add(g_loss, "perceptual", w.perceptual, losses::feature_distance((*perceptual_)(sr), real_features));
    } else {
      std::vector<torch::Tensor> real_features;
      {
        torch::NoGradGuard no_grad;
        real_features = d->features(hr);
      }
      add(g_loss, "perceptual", w.perceptual, losses::feature_distance(fake_features, real_features));
    }
  }
  if (w.adversarial > 0) {
    add(g_loss, "adversarial", w.adversarial, losses::generator_adversarial_loss(d->classify(fake_features.back())));
  }
  optimizer_g_->zero_grad();
  g_loss.backward();
  optimizer_g_->step();
  stats.g_loss = g_loss.item<double>();
  stats.step = ++step_;
  return stats;
}

void SrTrainer::save(const std::string& path, const nlohmann::json& metrics) const {
  models::CheckpointMeta meta;
  meta.trainer_options = options_;
  meta.step = step_;
  meta.metrics = metrics;
  models::save_spectraframe_checkpoint(path, meta, model_, optimizer_g_.get(), optimizer_d_.get());
}

void SrTrainer::load(const std::string& path) {
  models::CheckpointMeta meta;
  auto loaded = models::load_spectraframe(path, *device_, &meta);
  models::resume_from(path, meta, model_.generator_options, model_.discriminator_options, *model_.generator, *loaded.generator,
              *model_.discriminator, loaded.discriminator.get(), *optimizer_g_, *optimizer_d_, *device_);
  // Adam's saved state carries the learning rates it ran with: this run's options win, so a
  // sitting resumed with a lower --lr-g is the learning-rate schedule.
  for (auto& group : optimizer_g_->param_groups()) static_cast<torch::optim::AdamOptions&>(group.options()).lr(options_.lr_g);
  for (auto& group : optimizer_d_->param_groups()) static_cast<torch::optim::AdamOptions&>(group.options()).lr(options_.lr_d);
  step_ = meta.step;
}

infer::SrEvaluation SrTrainer::validate(const data::SrDataset& dataset) {
  infer::Upscaler upscaler(model_.generator, *device_);
  return infer::evaluate_sr(upscaler, dataset, options_.val_frames, options_.val_crop);
}

infer::SrEvaluation SrTrainer::fit(const SrProgressCallback& callback) {
  const auto& o = options_;
  require(!o.out_dir.empty(), "training needs an output folder (--out)");
  require(!o.data.empty(), "training needs data (--data VIDEO_OR_FOLDER ...)");
  fs::create_directories(o.out_dir);
  const std::string last_path = (fs::path(o.out_dir) / "last.pt").string();
  const std::string best_path = (fs::path(o.out_dir) / "best.pt").string();
  const std::string log_path = (fs::path(o.out_dir) / "log.jsonl").string();
  if (detail::should_resume(o.out_dir, last_path, o.resume, o.overwrite)) {
    load(last_path);
    log::info("resuming '" + last_path + "' at step " + std::to_string(step_));
  }

  // Data, split by clip (a clip is never on both sides).
  const auto split = detail::split_sources(o.data, o.val_data, o.val_fraction, o.seed);
  const data::SrDataset train_set({split.train, split.all_prepared ? "train" : "all", o.max_frames_per_source});
  std::unique_ptr<data::SrDataset> val_set;
  if (!split.val.empty()) {
    val_set = std::make_unique<data::SrDataset>(
        data::SrDatasetOptions{split.val, split.val_from_prepared ? "val" : "all", o.max_frames_per_source});
  }
  const auto& g = model_.generator->options();
  log::info("training spectraframe (x" + std::to_string(g.scale) + ", " + std::to_string(g.neighbours) +
            " neighbours) on " + std::to_string(train_set.size()) + " frames of " + std::to_string(train_set.clips()) +
            " clips" +
            (val_set ? ", validating on " + std::to_string(val_set->clips()) + " held-out clips" : std::string()) +
            ", device " + device_->str());
  log::info("perceptual loss: " + (perceptual_ ? "TorchScript features of '" + perceptual_->path() + "'"
                                   : loss_weights_.perceptual > 0
                                       ? std::string("feature matching on the discriminator's intermediate features "
                                                     "(no perceptual model given)")
                                       : std::string("off (weight 0)")));

  if (o.resume) detail::truncate_log(log_path, step_);
  std::ofstream log_file(log_path, o.resume ? std::ios::app : std::ios::trunc);
  if (!log_file) throw FileError("cannot write '" + log_path + "'");

  data::SrBatchOptions bopt;
  bopt.batch_size = o.batch_size;
  bopt.scale = g.scale;
  bopt.hr_crop = o.hr_crop;
  bopt.neighbours = g.neighbours;
  bopt.augment = {o.flip, o.flip, o.rotate};
  bopt.seed = o.seed;

  infer::SrEvaluation last_val;
  double best_psnr = -1e9;
  if (o.resume && fs::exists(best_path)) {
    best_psnr = models::read_checkpoint_meta(best_path).metrics.value("model", nlohmann::json::object()).value("psnr", -1e9);
  }
  nlohmann::json last_metrics = nlohmann::json::object();
  const int64_t first_step = step_;
  const auto start = std::chrono::steady_clock::now();
  bool stop = false;
  while (step_ < o.steps && !stop) {
    const SrStepStats stats = step(data::make_sr_batch(train_set, bopt, step_));
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    SrProgress progress;
    progress.step = step_;
    progress.total_steps = o.steps;
    progress.last = stats;
    progress.samples_per_second = (step_ - first_step) * o.batch_size / std::max(elapsed, 1e-9);
    progress.eta_seconds = elapsed / (step_ - first_step) * (o.steps - step_);
    const bool final_step = step_ == o.steps;
    if (step_ % o.log_every == 0 || final_step) {
      char line[512];
      std::snprintf(line, sizeof line, "step %lld/%lld  D %.4f  G %.5f (%s)  %.2f samples/s  ETA %s", (long long)step_,
                    (long long)o.steps, stats.d_loss, stats.g_loss, detail::format_terms(stats.terms).c_str(),
                    progress.samples_per_second, detail::format_duration(progress.eta_seconds).c_str());
      log::info(line);
      log_file << nlohmann::json{{"step", step_}, {"d_loss", stats.d_loss}, {"g_loss", stats.g_loss},
                                 {"terms", stats.terms}, {"samples_per_second", progress.samples_per_second},
                                 {"elapsed", elapsed}}
                      .dump()
               << std::endl;
    }
    if (val_set && ((o.val_every > 0 && step_ % o.val_every == 0) || final_step)) {
      last_val = validate(*val_set);
      progress.validation = last_val;
      last_metrics = infer::to_json(last_val);
      char line[256];
      std::snprintf(line, sizeof line, "validation at step %lld: PSNR %.2f dB  SSIM %.4f  (bicubic %.2f dB, %.4f) on %lld frames",
                    (long long)step_, last_val.model.psnr, last_val.model.ssim, last_val.bicubic.psnr,
                    last_val.bicubic.ssim, (long long)last_val.frames);
      log::info(line);
      log_file << nlohmann::json{{"step", step_}, {"validation", last_metrics}}.dump() << std::endl;
      if (last_val.model.psnr > best_psnr) {
        best_psnr = last_val.model.psnr;
        save(best_path, last_metrics);
      }
    }
    stop = detail::end_step(callback, progress, step_, o.checkpoint_every, final_step,
                            [&] { save(last_path, last_metrics); });
  }
  return last_val;
}

}  // namespace fregan::train
