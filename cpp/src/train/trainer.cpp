#include "fregan/train/trainer.h"

#include <cstdio>
#include <thread>

#include <torch/torch.h>

#include "fregan/device.h"
#include "fregan/error.h"
#include "fregan/infer/interpolator.h"
#include "fregan/log.h"
#include "fregan/losses/losses.h"
#include "fregan/options_json.h"
#include "fregan/models/checkpoint.h"
#include "run_log.h"

namespace fregan::train {

FREGAN_DEFINE_TRAINER_OPTIONS_JSON(TrainerOptions, "training", model, val_data, val_fraction, frame_skip,
                                   max_triplets_per_source, val_max_triplets, neighbours, crop, hflip, vflip, rotate,
                                   temporal_reverse, loss, val_every, workers, world_size, rank, local_rank,
                                   master_addr, master_port, dist_backend, dist_timeout)

namespace {

void check_options(const TrainerOptions& o) {
  const auto& r = o.run;
  require(r.steps >= 0, "steps must be >= 0 (0 saves the untrained model after one validation)");
  require(r.batch_size >= 1, "batch_size must be >= 1");
  require(o.crop >= 16, "crop must be >= 16");
  require(r.lr_g > 0 && r.lr_d > 0, "learning rates must be > 0");
  require(o.loss.is_object(), "loss options must be a JSON object");
  require(r.log_every >= 1 && r.checkpoint_every >= 1 && o.val_every >= 0,
          "log/checkpoint/val intervals must be positive");
  require(r.label_smoothing.real_low <= r.label_smoothing.real_high &&
              r.label_smoothing.fake_low <= r.label_smoothing.fake_high,
          "label smoothing ranges must have low <= high");
}

DistributedOptions distributed_options(const TrainerOptions& o) {
  DistributedOptions d;
  d.world_size = o.world_size;
  d.rank = o.rank;
  d.local_rank = o.local_rank;
  d.master_addr = o.master_addr;
  d.master_port = o.master_port;
  d.backend = o.dist_backend;
  d.timeout_seconds = o.dist_timeout;
  return resolve(d);
}

// Intra-op threads: as asked, else (distributed, no $OMP_NUM_THREADS) the cores divided between the
// ranks on this machine ($LOCAL_WORLD_SIZE from torchrun, else all ranks when rank 0 is local),
// since a process per rank each taking every core only makes them fight.
int intra_op_threads(int threads, const DistributedOptions& d) {
  if (threads > 0 || d.world_size == 1 || std::getenv("OMP_NUM_THREADS")) return threads;
  const char* local = std::getenv("LOCAL_WORLD_SIZE");
  const bool one_machine = d.master_addr == "localhost" || d.master_addr.rfind("127.", 0) == 0;
  const int ranks_here = local && std::atoi(local) > 0 ? std::atoi(local) : one_machine ? d.world_size : 1;
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / ranks_here);
}

// The step's figures averaged over the ranks: the losses of the whole global batch.
StepStats averaged(DistributedContext& distributed, StepStats stats) {
  if (!distributed.active()) return stats;
  std::vector<double> values{stats.d_loss, stats.g_loss, stats.g_reconstruction, stats.g_adversarial};
  for (const auto& [name, value] : stats.terms) values.push_back(value);
  values = distributed.average(values);
  stats.d_loss = values[0];
  stats.g_loss = values[1];
  stats.g_reconstruction = values[2];
  stats.g_adversarial = values[3];
  size_t i = 4;
  for (auto& [name, value] : stats.terms) value = values[i++];
  return stats;
}

}  // namespace

Trainer::Trainer(const TrainerOptions& options) : options_(options) {
  check_options(options_);
  const auto dist = distributed_options(options_);
  const auto& run = options_.run;
  require(run.batch_size % dist.world_size == 0, "batch_size " + std::to_string(run.batch_size) +
                                                     " is the global batch and must split evenly over " +
                                                     std::to_string(dist.world_size) + " ranks");
  device_ = std::make_unique<torch::Device>(detail::start_run(run, intra_op_threads(run.threads, dist)));
  // One GPU per rank of a machine, unless the device names one.
  if (device_->is_cuda() && !device_->has_index() && dist.world_size > 1)
    *device_ = torch::Device(torch::kCUDA, dist.local_rank);
  distributed_ = std::make_unique<DistributedContext>(dist, *device_);
  model_ = models::create_model(options_.model, run.generator_options, run.discriminator_options);
  auto loss = model_.default_loss.is_object() ? model_.default_loss : nlohmann::json::object();
  loss.update(options_.loss);
  loss_weights_ = loss.get<losses::GeneratorLossWeights>();
  const auto& w = loss_weights_;
  require(
      w.smooth_l1 >= 0 && w.l1 >= 0 && w.ms_ssim >= 0 && w.clipping >= 0 && w.adversarial >= 0 && w.intermediate >= 0,
      "loss weights must be >= 0");
  require(w.smooth_l1 + w.l1 + w.ms_ssim > 0, "the loss needs a reconstruction term (smooth_l1, l1 or ms_ssim > 0)");
  require(w.smooth_l1_beta > 0, "loss option smooth_l1_beta must be > 0");
  model_.generator->to(*device_);
  model_.discriminator->to(*device_);
  // Every rank already built the same weights from the same seed; rank 0's win regardless.
  distributed_->broadcast_module(*model_.generator);
  distributed_->broadcast_module(*model_.discriminator);
  optimizer_g_ = detail::adam(model_.generator->parameters(), run.lr_g, run);
  optimizer_d_ = detail::adam(model_.discriminator->parameters(), run.lr_d, run);
}

Trainer::~Trainer() = default;

torch::Device Trainer::device() const { return *device_; }

StepStats Trainer::step(const data::TripletBatch& batch) {
  // Each step draws its randomness (label smoothing) from a seed of its own, so a resumed run
  // repeats exactly what the uninterrupted run would have done.
  torch::manual_seed(options_.run.seed * 1000003ULL + static_cast<uint64_t>(step_));
  model_.generator->train();
  model_.discriminator->train();
  const auto f0 = batch.f0.to(*device_), f1 = batch.f1.to(*device_), f2 = batch.f2.to(*device_);
  StepStats stats;
  const auto fake =
      batch.before.defined()
          ? model_.generator->forward_times({batch.before.to(*device_), f0, f2, batch.after.to(*device_)}, {0.5})
                .front()
          : model_.generator->forward(f0, f2);

  const bool adversarial = loss_weights_.adversarial > 0;
  if (adversarial) {
    const auto real_logits = model_.discriminator->forward(f0, f1, f2);
    const auto fake_logits = model_.discriminator->forward(f0, fake.detach(), f2);
    // Distributed, this batch is samples [rank * B, (rank + 1) * B) of the global batch.
    const int64_t local = f0.size(0), world = distributed_->world_size();
    const auto d_loss = losses::discriminator_loss(real_logits, fake_logits, options_.run.label_smoothing,
                                                   distributed_->rank() * local, world > 1 ? world * local : 0);
    optimizer_d_->zero_grad();
    d_loss.backward();
    distributed_->average_gradients(model_.discriminator->parameters());
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
    for (const auto& [name, value] : stage.terms)
      stats.terms["stage" + std::to_string(i) + "_" + name] = value.item<double>();
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
  distributed_->average_gradients(model_.generator->parameters());
  optimizer_g_->step();
  stats.g_reconstruction = reconstruction.item<double>();
  stats.g_loss = g_loss.item<double>();
  stats.step = ++step_;
  return stats;
}

void Trainer::save(const std::string& path, const nlohmann::json& metrics) const {
  models::CheckpointMeta meta;
  meta.trainer_options = options_;
  meta.step = step_;
  meta.metrics = metrics;
  models::save_checkpoint(path, meta, model_, optimizer_g_.get(), optimizer_d_.get());
}

void Trainer::load(const std::string& path) {
  models::CheckpointMeta meta;
  auto loaded = models::load_model(path, *device_, &meta);
  if (meta.model != model_.name) {
    throw CheckpointError("checkpoint '" + path + "' holds model '" + meta.model + "', not '" + model_.name + "'");
  }
  if (meta.generator_options != model_.generator_options ||
      meta.discriminator_options != model_.discriminator_options) {
    throw CheckpointError("checkpoint '" + path + "' was trained with other model options: " +
                          meta.generator_options.dump() + " vs " + model_.generator_options.dump());
  }
  // Copy into our modules so the optimizers keep pointing at our parameters.
  models::copy_weights(*model_.generator, *loaded.generator);
  if (meta.has_discriminator) models::copy_weights(*model_.discriminator, *loaded.discriminator);
  models::load_optimizers(path, *device_, *optimizer_g_, optimizer_d_.get());
  step_ = meta.step;
}

void Trainer::sync_buffers() {
  distributed_->average_buffers(*model_.generator);
  distributed_->average_buffers(*model_.discriminator);
}

infer::EvaluationResult Trainer::validate(const data::TripletDataset& dataset, int64_t max_triplets) {
  infer::Interpolator interpolator(model_.generator, *device_, model_.name);
  std::optional<infer::Interpolator> classical;
  if (!classical_scores_ && model_.generator->untrained_is_classical()) {
    const auto untrained = models::create_model(model_.name, model_.generator_options, model_.discriminator_options);
    untrained.generator->to(*device_);
    classical.emplace(untrained.generator, *device_, model_.name);
  }
  auto result = infer::evaluate(interpolator, dataset, max_triplets, classical ? &*classical : nullptr);
  if (result.classical) classical_scores_ = result.classical;
  result.classical = classical_scores_;
  model_.generator->train();
  return result;
}

infer::EvaluationResult Trainer::fit(const ProgressCallback& callback) {
  const auto& o = options_;
  const auto& run = o.run;
  // Distributed, every rank trains, validates and agrees on when to stop; rank 0 alone writes the
  // logs and checkpoints (every rank resumes from the same last.pt, so out_dir must be shared).
  detail::RunFolder folder(run, distributed_->is_main());
  folder.resume_into(*this);

  // Data, split by clip.
  const auto split = detail::split_sources(run.data, o.val_data, o.val_fraction, run.seed);
  const auto& train_sources = split.train;
  const auto& val_sources = split.val;
  const std::string val_split = split.val_from_prepared ? "val" : "train";
  data::TripletDatasetOptions dopt;
  dopt.sources = train_sources;
  dopt.frame_skip = o.frame_skip;
  dopt.max_frames_per_source = run.max_frames_per_source;
  dopt.max_triplets_per_source = o.max_triplets_per_source;
  dopt.min_size = o.crop;
  dopt.neighbours = o.neighbours;
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
  folder.info("training " + model_.name + " on " + std::to_string(train_set->size()) + " triplets from " +
              std::to_string(train_set->sources().size()) + " clips" +
              (val_set ? ", validating on " + std::to_string(val_set->size()) + " triplets of " +
                             std::to_string(val_set->sources().size()) + " held-out clips"
                       : std::string()) +
              ", device " + device_->str() +
              (distributed_->active() ? ", " + std::to_string(distributed_->world_size()) + " ranks" : std::string()));
  folder.open_log(step_);

  data::TripletLoaderOptions lopt;
  lopt.batch_size = run.batch_size;
  lopt.crop = o.crop;
  lopt.hflip = o.hflip;
  lopt.vflip = o.vflip;
  lopt.rotate = o.rotate;
  lopt.temporal_reverse = o.temporal_reverse;
  lopt.workers = o.workers;
  lopt.seed = run.seed;
  lopt.shard_index = distributed_->rank();
  lopt.shard_count = distributed_->world_size();
  data::TripletLoader loader(train_set, lopt, step_);

  infer::EvaluationResult last_val;
  nlohmann::json last_metrics = nlohmann::json::object();
  const bool main_rank = folder.writer();
  if (step_ == 0 && run.steps == 0) {
    // The untrained model as a checkpoint, validated: how a model whose untrained form is a
    // classical method (fregan-flow's zero head is four-frame warping) ships while no training
    // beats it.
    sync_buffers();
    if (val_set) {
      last_val = validate(*val_set, o.val_max_triplets);
      last_metrics = infer::to_json(last_val);
      char line[160];
      std::snprintf(line, sizeof line, "validation of the untrained model: PSNR %.2f dB  SSIM %.4f (average %.2f dB)",
                    last_val.model.psnr, last_val.model.ssim, last_val.average.psnr);
      folder.info(line);
      folder.write({{"step", step_}, {"validation", last_metrics}});
      if (main_rank) save(folder.best(), last_metrics);
    }
    if (main_rank) save(folder.last(), last_metrics);
    return last_val;
  }

  detail::LoopHooks<Progress> hooks;
  hooks.step = [&](Progress& p) { p.last = step(loader.next()); };
  hooks.log = [&](Progress& p) {
    const StepStats& stats = p.last = averaged(*distributed_, p.last);
    char figures[384];
    std::snprintf(figures, sizeof figures, "D %.4f  G %.4f (%s)", stats.d_loss, stats.g_loss,
                  detail::format_terms(stats.terms).c_str());
    return std::pair{std::string(figures), nlohmann::json{{"d_loss", stats.d_loss},
                                                          {"g_loss", stats.g_loss},
                                                          {"g_reconstruction", stats.g_reconstruction},
                                                          {"g_adversarial", stats.g_adversarial},
                                                          {"terms", stats.terms}}};
  };
  if (val_set) {
    hooks.validate = [&](Progress& p) -> std::optional<double> {
      sync_buffers();
      last_val = validate(*val_set, o.val_max_triplets);
      p.validation = last_val;
      last_metrics = infer::to_json(last_val);
      char line[320];
      char classical[64] = "";
      if (last_val.classical)
        std::snprintf(classical, sizeof classical, "untrained (classical) %.2f dB, ", last_val.classical->psnr);
      std::snprintf(line, sizeof line,
                    "validation at step %lld: PSNR %.2f dB  SSIM %.4f  MS-SSIM %.4f  (%stwo-frame flow warping %.2f "
                    "dB, average %.2f dB, repeat %.2f dB)",
                    (long long)step_, last_val.model.psnr, last_val.model.ssim, last_val.model.ms_ssim, classical,
                    last_val.flow_warp.psnr, last_val.average.psnr, last_val.repeat.psnr);
      folder.info(line);
      folder.write({{"step", step_}, {"validation", last_metrics}});
      return last_val.model.psnr;
    };
    hooks.save_best = [&] {
      if (main_rank) save(folder.best(), last_metrics);
    };
  }
  // Any rank's caller stopping stops every rank at the same step.
  hooks.agree_stop = [&](bool asked) { return distributed_->any(asked); };
  hooks.save_last = [&](bool) {
    sync_buffers();
    if (main_rank) save(folder.last(), last_metrics);
  };
  detail::run_steps(folder, run, step_, o.val_every, callback, hooks);
  return last_val;
}

}  // namespace fregan::train
