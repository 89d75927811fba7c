#include "fregan/train/sr_trainer.h"

#include <cstdio>

#include <torch/torch.h>

#include "fregan/data/frame_source.h"
#include "fregan/data/triplet_dataset.h"
#include "fregan/device.h"
#include "fregan/error.h"
#include "fregan/log.h"
#include "fregan/options_json.h"
#include "fregan/models/checkpoint.h"
#include "run_log.h"

namespace fregan::train {

FREGAN_DEFINE_TRAINER_OPTIONS_JSON(SrTrainerOptions, "sr training", val_data, val_fraction, val_frames, val_crop,
                                   val_every, hr_crop, flip, rotate, loss, perceptual_model)

namespace {

void check_options(const SrTrainerOptions& o) {
  const auto& r = o.run;
  require(r.steps >= 1, "steps must be >= 1");
  require(r.batch_size >= 2, "batch_size must be >= 2 (the discriminator's BatchNorm needs more than one sample)");
  require(o.hr_crop >= 32 && o.hr_crop % 4 == 0,
          "hr_crop must be a multiple of 4 and >= 32, got " + std::to_string(o.hr_crop));
  require(r.lr_g > 0 && r.lr_d > 0, "learning rates must be > 0");
  require(o.loss.is_object(), "loss options must be a JSON object");
  require(o.val_frames >= 1, "val_frames must be >= 1");
  require(r.log_every >= 1 && r.checkpoint_every >= 1 && o.val_every >= 0,
          "log/checkpoint/val intervals must be positive");
}

}  // namespace

SrTrainer::SrTrainer(const SrTrainerOptions& options) : options_(options) {
  check_options(options_);
  const auto& run = options_.run;
  device_ = std::make_unique<torch::Device>(detail::start_run(run, run.threads));
  model_ = models::create_spectraframe(run.generator_options, run.discriminator_options);
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
  optimizer_g_ = detail::adam(model_.generator->parameters(), run.lr_g, run);
  optimizer_d_ = detail::adam(model_.discriminator->parameters(), run.lr_d, run);
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
  torch::manual_seed(options_.run.seed * 1000003ULL + static_cast<uint64_t>(step_));
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
    const auto d_loss =
        losses::discriminator_loss(d->forward(hr), d->forward(sr.detach()), options_.run.label_smoothing);
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
  models::resume_from(path, meta, model_.generator_options, model_.discriminator_options, *model_.generator,
                      *loaded.generator, *model_.discriminator, loaded.discriminator.get(), *optimizer_g_,
                      *optimizer_d_, *device_);
  // Adam's saved state carries the learning rates it ran with: this run's options win, so a
  // sitting resumed with a lower --lr-g is the learning-rate schedule.
  for (auto& group : optimizer_g_->param_groups())
    static_cast<torch::optim::AdamOptions&>(group.options()).lr(options_.run.lr_g);
  for (auto& group : optimizer_d_->param_groups())
    static_cast<torch::optim::AdamOptions&>(group.options()).lr(options_.run.lr_d);
  step_ = meta.step;
}

infer::SrEvaluation SrTrainer::validate(const data::SrDataset& dataset) {
  infer::Upscaler upscaler(model_.generator, *device_);
  return infer::evaluate_sr(upscaler, dataset, options_.val_frames, options_.val_crop);
}

infer::SrEvaluation SrTrainer::fit(const SrProgressCallback& callback) {
  const auto& o = options_;
  const auto& run = o.run;
  detail::RunFolder folder(run);
  folder.resume_into(*this);

  // Data, split by clip (a clip is never on both sides).
  const auto split = detail::split_sources(run.data, o.val_data, o.val_fraction, run.seed);
  const data::SrDataset train_set({split.train, split.all_prepared ? "train" : "all", run.max_frames_per_source});
  std::unique_ptr<data::SrDataset> val_set;
  if (!split.val.empty()) {
    val_set = std::make_unique<data::SrDataset>(
        data::SrDatasetOptions{split.val, split.val_from_prepared ? "val" : "all", run.max_frames_per_source});
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
  folder.open_log(step_);

  data::SrBatchOptions bopt;
  bopt.batch_size = run.batch_size;
  bopt.scale = g.scale;
  bopt.hr_crop = o.hr_crop;
  bopt.neighbours = g.neighbours;
  bopt.augment = {o.flip, o.flip, o.rotate};
  bopt.seed = run.seed;

  infer::SrEvaluation last_val;
  nlohmann::json last_metrics = nlohmann::json::object();
  detail::LoopHooks<SrProgress> hooks;
  hooks.step = [&](SrProgress& p) { p.last = step(data::make_sr_batch(train_set, bopt, step_)); };
  hooks.log = [&](SrProgress& p) {
    char figures[384];
    std::snprintf(figures, sizeof figures, "D %.4f  G %.5f (%s)", p.last.d_loss, p.last.g_loss,
                  detail::format_terms(p.last.terms).c_str());
    return std::pair{std::string(figures),
                     nlohmann::json{{"d_loss", p.last.d_loss}, {"g_loss", p.last.g_loss}, {"terms", p.last.terms}}};
  };
  if (val_set) {
    hooks.validate = [&](SrProgress& p) -> std::optional<double> {
      last_val = validate(*val_set);
      p.validation = last_val;
      last_metrics = infer::to_json(last_val);
      char line[256];
      std::snprintf(line, sizeof line,
                    "validation at step %lld: PSNR %.2f dB  SSIM %.4f  (bicubic %.2f dB, %.4f) on %lld frames",
                    (long long)step_, last_val.model.psnr, last_val.model.ssim, last_val.bicubic.psnr,
                    last_val.bicubic.ssim, (long long)last_val.frames);
      folder.info(line);
      folder.write({{"step", step_}, {"validation", last_metrics}});
      return last_val.model.psnr;
    };
    hooks.save_best = [&] { save(folder.best(), last_metrics); };
  }
  hooks.save_last = [&](bool) { save(folder.last(), last_metrics); };
  detail::run_steps(folder, run, step_, o.val_every, callback, hooks);
  return last_val;
}

}  // namespace fregan::train
