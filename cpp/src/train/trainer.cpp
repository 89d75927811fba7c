#include "fregan/train/trainer.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <torch/torch.h>

#include "fregan/device.h"
#include "fregan/error.h"
#include "fregan/infer/interpolator.h"
#include "fregan/log.h"
#include "fregan/losses/losses.h"
#include "fregan/models/options_json.h"
#include "fregan/train/checkpoint.h"
#include "run_log.h"

namespace fs = std::filesystem;

namespace fregan::train {

FREGAN_DEFINE_OPTIONS_JSON(TrainerOptions, "training", model, generator_options, discriminator_options, data, val_data,
                           val_fraction, frame_skip, max_frames_per_source, max_triplets_per_source, val_max_triplets,
                           steps, batch_size, crop, hflip, vflip, rotate, temporal_reverse, lr_g, lr_d, beta1, beta2, loss,
                           label_smoothing, out_dir, resume, overwrite, log_every, val_every,
                           checkpoint_every, seed, device, threads, workers)

namespace {

void check_options(const TrainerOptions& o) {
  require(o.steps >= 1, "steps must be >= 1");
  require(o.batch_size >= 1, "batch_size must be >= 1");
  require(o.crop >= 16, "crop must be >= 16");
  require(o.lr_g > 0 && o.lr_d > 0, "learning rates must be > 0");
  require(o.loss.is_object(), "loss options must be a JSON object");
  require(o.log_every >= 1 && o.checkpoint_every >= 1 && o.val_every >= 0, "log/checkpoint/val intervals must be positive");
  require(o.label_smoothing.real_low <= o.label_smoothing.real_high && o.label_smoothing.fake_low <= o.label_smoothing.fake_high,
          "label smoothing ranges must have low <= high");
}

}  // namespace

Trainer::Trainer(const TrainerOptions& options) : options_(options) {
  check_options(options_);
  set_num_threads(options_.threads);
  device_ = std::make_unique<torch::Device>(select_device(options_.device));
  torch::manual_seed(options_.seed);
  model_ = models::create_model(options_.model, options_.generator_options, options_.discriminator_options);
  auto loss = model_.default_loss.is_object() ? model_.default_loss : nlohmann::json::object();
  loss.update(options_.loss);
  loss_weights_ = loss.get<losses::GeneratorLossWeights>();
  const auto& w = loss_weights_;
  require(w.smooth_l1 >= 0 && w.l1 >= 0 && w.ms_ssim >= 0 && w.clipping >= 0 && w.adversarial >= 0 && w.intermediate >= 0,
          "loss weights must be >= 0");
  require(w.smooth_l1 + w.l1 + w.ms_ssim > 0, "the loss needs a reconstruction term (smooth_l1, l1 or ms_ssim > 0)");
  require(w.smooth_l1_beta > 0, "loss option smooth_l1_beta must be > 0");
  model_.generator->to(*device_);
  model_.discriminator->to(*device_);
  optimizer_g_ = std::make_unique<torch::optim::Adam>(
      model_.generator->parameters(),
      torch::optim::AdamOptions(options_.lr_g).betas({options_.beta1, options_.beta2}));
  optimizer_d_ = std::make_unique<torch::optim::Adam>(
      model_.discriminator->parameters(),
      torch::optim::AdamOptions(options_.lr_d).betas({options_.beta1, options_.beta2}));
}

Trainer::~Trainer() = default;

torch::Device Trainer::device() const { return *device_; }

StepStats Trainer::step(const data::TripletBatch& batch) {
  // Each step draws its randomness (label smoothing) from a seed of its own, so a resumed run
  // repeats exactly what the uninterrupted run would have done.
  torch::manual_seed(options_.seed * 1000003ULL + static_cast<uint64_t>(step_));
  model_.generator->train();
  model_.discriminator->train();
  const auto f0 = batch.f0.to(*device_), f1 = batch.f1.to(*device_), f2 = batch.f2.to(*device_);
  StepStats stats;
  const auto fake = model_.generator->forward(f0, f2);

  const bool adversarial = loss_weights_.adversarial > 0;
  if (adversarial) {
    const auto real_logits = model_.discriminator->forward(f0, f1, f2);
    const auto fake_logits = model_.discriminator->forward(f0, fake.detach(), f2);
    const auto d_loss = losses::discriminator_loss(real_logits, fake_logits, options_.label_smoothing);
    optimizer_d_->zero_grad();
    d_loss.backward();
    optimizer_d_->step();
    stats.d_loss = d_loss.item<double>();
  }

  auto rec = losses::reconstruction_loss(fake, f1, loss_weights_);
  auto reconstruction = rec.total;
  for (const auto& [name, value] : rec.terms) stats.terms[name] = value.item<double>();
  const auto intermediates = model_.generator->intermediate_outputs();
  for (size_t i = 0; i < intermediates.size() && loss_weights_.intermediate > 0; ++i) {
    auto stage = losses::reconstruction_loss(intermediates[i], f1, loss_weights_);
    reconstruction = reconstruction + loss_weights_.intermediate * stage.total;
    for (const auto& [name, value] : stage.terms) stats.terms["stage" + std::to_string(i) + "_" + name] = value.item<double>();
  }
  auto g_loss = reconstruction;
  if (adversarial) {
    const auto adv = losses::generator_adversarial_loss(model_.discriminator->forward(f0, fake, f2));
    g_loss = reconstruction + loss_weights_.adversarial * adv;
    stats.g_adversarial = adv.item<double>();
    stats.terms["adversarial"] = stats.g_adversarial;
  }
  optimizer_g_->zero_grad();
  g_loss.backward();
  optimizer_g_->step();
  stats.g_reconstruction = reconstruction.item<double>();
  stats.g_loss = g_loss.item<double>();
  stats.step = ++step_;
  return stats;
}

void Trainer::save(const std::string& path, const nlohmann::json& metrics) const {
  CheckpointMeta meta;
  meta.trainer_options = options_;
  meta.step = step_;
  meta.metrics = metrics;
  save_checkpoint(path, meta, model_, optimizer_g_.get(), optimizer_d_.get());
}

void Trainer::load(const std::string& path) {
  CheckpointMeta meta;
  auto loaded = load_model(path, *device_, &meta);
  if (meta.model != model_.name) {
    throw CheckpointError("checkpoint '" + path + "' holds model '" + meta.model + "', not '" + model_.name + "'");
  }
  if (meta.generator_options != model_.generator_options || meta.discriminator_options != model_.discriminator_options) {
    throw CheckpointError("checkpoint '" + path + "' was trained with other model options: " +
                          meta.generator_options.dump() + " vs " + model_.generator_options.dump());
  }
  // Copy into our modules so the optimizers keep pointing at our parameters.
  copy_weights(*model_.generator, *loaded.generator);
  if (meta.has_discriminator) copy_weights(*model_.discriminator, *loaded.discriminator);
  load_optimizers(path, *device_, *optimizer_g_, optimizer_d_.get());
  step_ = meta.step;
}

infer::EvaluationResult Trainer::validate(const data::TripletDataset& dataset, int64_t max_triplets) {
  infer::Interpolator interpolator(model_.generator, *device_, model_.name);
  auto result = infer::evaluate(interpolator, dataset, max_triplets);
  model_.generator->train();
  return result;
}

infer::EvaluationResult Trainer::fit(const ProgressCallback& callback) {
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

  // Data, split by clip.
  const auto split = detail::split_sources(o.data, o.val_data, o.val_fraction, o.seed);
  const auto& train_sources = split.train;
  const auto& val_sources = split.val;
  const std::string val_split = split.val_from_prepared ? "val" : "train";
  data::TripletDatasetOptions dopt;
  dopt.sources = train_sources;
  dopt.frame_skip = o.frame_skip;
  dopt.max_frames_per_source = o.max_frames_per_source;
  dopt.max_triplets_per_source = o.max_triplets_per_source;
  dopt.min_size = o.crop;
  auto train_set = std::make_shared<data::TripletDataset>(dopt);
  std::unique_ptr<data::TripletDataset> val_set;
  if (!val_sources.empty()) {
    dopt.sources = val_sources;
    dopt.split = val_split == "val" ? "val" : "all";
    dopt.min_size = 16;
    dopt.max_triplets_per_source = 0;
    try {
      val_set = std::make_unique<data::TripletDataset>(dopt);
    } catch (const InvalidArgument& e) {
      if (val_split != "val") throw;
      log::warn("the prepared dataset has no usable 'val' split: training without validation");
    }
  }
  log::info("training " + model_.name + " on " + std::to_string(train_set->size()) + " triplets from " +
            std::to_string(train_set->sources().size()) + " clips" +
            (val_set ? ", validating on " + std::to_string(val_set->size()) + " triplets of " +
                           std::to_string(val_set->sources().size()) + " held-out clips"
                     : std::string()) +
            ", device " + device_->str());

  if (o.resume) detail::truncate_log(log_path, step_);
  std::ofstream log_file(log_path, o.resume ? std::ios::app : std::ios::trunc);
  if (!log_file) throw FileError("cannot write '" + log_path + "'");

  data::TripletLoaderOptions lopt;
  lopt.batch_size = o.batch_size;
  lopt.crop = o.crop;
  lopt.hflip = o.hflip;
  lopt.vflip = o.vflip;
  lopt.rotate = o.rotate;
  lopt.temporal_reverse = o.temporal_reverse;
  lopt.workers = o.workers;
  lopt.seed = o.seed;
  data::TripletLoader loader(train_set, lopt, step_);

  infer::EvaluationResult last_val;
  double best_psnr = -1e9;
  if (o.resume && fs::exists(best_path)) {
    best_psnr = read_checkpoint_meta(best_path).metrics.value("model", nlohmann::json::object()).value("psnr", -1e9);
  }
  nlohmann::json last_metrics = nlohmann::json::object();
  const int64_t first_step = step_;
  const auto start = std::chrono::steady_clock::now();
  bool stop = false;
  while (step_ < o.steps && !stop) {
    const StepStats stats = step(loader.next());
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    Progress progress;
    progress.step = step_;
    progress.total_steps = o.steps;
    progress.last = stats;
    progress.samples_per_second = (step_ - first_step) * o.batch_size / std::max(elapsed, 1e-9);
    progress.eta_seconds = elapsed / (step_ - first_step) * (o.steps - step_);
    const bool final_step = step_ == o.steps;
    if (step_ % o.log_every == 0 || final_step) {
      const std::string terms = detail::format_terms(stats.terms);
      char line[512];
      std::snprintf(line, sizeof line, "step %lld/%lld  D %.4f  G %.4f (%s)  %.2f samples/s  ETA %s",
                    (long long)step_, (long long)o.steps, stats.d_loss, stats.g_loss, terms.c_str(),
                    progress.samples_per_second, detail::format_duration(progress.eta_seconds).c_str());
      log::info(line);
      log_file << nlohmann::json{{"step", step_}, {"d_loss", stats.d_loss}, {"g_loss", stats.g_loss},
                                 {"g_reconstruction", stats.g_reconstruction}, {"g_adversarial", stats.g_adversarial},
                                 {"terms", stats.terms}, {"samples_per_second", progress.samples_per_second},
                                 {"elapsed", elapsed}}
                      .dump()
               << std::endl;
    }
    if (val_set && ((o.val_every > 0 && step_ % o.val_every == 0) || final_step)) {
      last_val = validate(*val_set, o.val_max_triplets);
      progress.validation = last_val;
      last_metrics = infer::to_json(last_val);
      char line[256];
      std::snprintf(line, sizeof line, "validation at step %lld: PSNR %.2f dB  SSIM %.4f  MS-SSIM %.4f  (flow warping %.2f dB, average %.2f dB, repeat %.2f dB)",
                    (long long)step_, last_val.model.psnr, last_val.model.ssim, last_val.model.ms_ssim, last_val.flow_warp.psnr,
                    last_val.average.psnr, last_val.repeat.psnr);
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
