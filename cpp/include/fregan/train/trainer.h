#pragma once
// The Trainer owns one GAN's generator, discriminator, optimizers and losses: step(batch) does one
// D and one G update; fit() runs the whole loop with logging, validation, atomic checkpoints and
// exact resume.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/types.h>

#include "fregan/data/triplet_dataset.h"
#include "fregan/infer/evaluate.h"
#include "fregan/losses/losses.h"
#include "fregan/models/registry.h"
#include "fregan/train/distributed.h"
#include "fregan/train/run_options.h"

namespace torch::optim {
class Adam;
}

namespace fregan::train {

struct TrainerOptions {
  // What every trainer shares (data, out_dir, steps, batch_size, rates, seed, device, cadence,
  // generator / discriminator options); RunOptions' defaults are this family's.
  RunOptions run;

  // Model (its options are run.generator_options / run.discriminator_options).
  std::string model = "fregan";

  // Validation clips, or else the "val" split of prepared datasets, or else a held-out fraction of
  // the clips (split by clip, seeded).
  std::vector<std::string> val_data;
  double val_fraction = 0.2;
  int frame_skip = 1;
  int64_t max_triplets_per_source = 0;  // 0 = all
  int64_t val_max_triplets = 16;        // validation scores this many evenly spaced triplets
  // Train and validate on triplets with their neighbours (the frames one pair-gap before F0 and after
  // F2), given to the model as a FrameWindow: four-frame models (fregan-flow) then learn on top of
  // their acceleration-aware flows.  Triplets at clip ends and cuts are left out.
  bool neighbours = false;

  // Optimisation beyond run's (run.steps 0 saves the untrained model).
  int crop = 256;       // square training crops; FREGAN's seed trained on 256x256
  bool hflip = true;    // random horizontal flips of the crops
  bool vflip = true;    // random vertical flips of the crops
  bool rotate = false;  // random 90-degree rotations of the crops
  bool temporal_reverse = true;
  // Generator loss weights (keys of losses::GeneratorLossWeights: smooth_l1, smooth_l1_beta, l1,
  // ms_ssim, clipping, adversarial, intermediate) overriding the model's defaults.
  nlohmann::json loss = nlohmann::json::object();

  int64_t val_every = 200;  // 0 = only at the end
  int workers = 2;          // loader threads

  // Data-parallel training over several processes (see distributed.h).  run.batch_size stays the
  // global batch: each of world_size ranks trains on batch_size / world_size of its samples, so
  // a run matches one process with the same options.  0 / -1 / "" = from the launcher's
  // environment (WORLD_SIZE, RANK, LOCAL_RANK, MASTER_ADDR, MASTER_PORT), else one process.
  // run.threads, distributed: the cores shared by this machine's ranks.
  int world_size = 0;
  int rank = -1;
  int local_rank = -1;
  std::string master_addr;
  int master_port = 0;
  std::string dist_backend = "auto";  // auto (NCCL on CUDA when built in, else Gloo), gloo, nccl
  double dist_timeout = 300;          // seconds a rank waits for the others before failing
};

void to_json(nlohmann::json& j, const TrainerOptions& o);
void from_json(const nlohmann::json& j, TrainerOptions& o);

struct StepStats {
  int64_t step = 0;  // steps done after this one
  double d_loss = 0, g_loss = 0;
  double g_reconstruction = 0;          // weighted sum of the reconstruction terms
  double g_adversarial = 0;             // unweighted adversarial term
  std::map<std::string, double> terms;  // every unweighted generator term by name, for the logs
};

using Progress = RunProgress<StepStats, infer::EvaluationResult>;

// Return false to stop training early (a checkpoint is written first).
using ProgressCallback = std::function<bool(const Progress&)>;

class Trainer {
 public:
  explicit Trainer(const TrainerOptions& options);
  ~Trainer();

  // One discriminator and one generator update on `batch` (moved to the device).  Distributed,
  // `batch` is this rank's shard of the global batch, and the gradients are averaged over ranks.
  StepStats step(const data::TripletBatch& batch);

  // Full checkpoint (weights, optimizers, step, options) written atomically.
  void save(const std::string& path, const nlohmann::json& metrics = nlohmann::json::object()) const;
  // Restores weights, optimizer state and step from a checkpoint of the same model.
  void load(const std::string& path);

  infer::EvaluationResult validate(const data::TripletDataset& dataset, int64_t max_triplets);

  // The whole loop over options().data.  Returns the last validation result.
  infer::EvaluationResult fit(const ProgressCallback& callback = {});

  int64_t current_step() const { return step_; }
  const TrainerOptions& options() const { return options_; }
  // The generator loss weights in effect: the model's defaults with options().loss applied.
  const losses::GeneratorLossWeights& loss_weights() const { return loss_weights_; }
  models::GanModel& model() { return model_; }
  torch::Device device() const;
  // This process's place in a data-parallel job (world size 1 when not distributed).
  const DistributedContext& distributed() const { return *distributed_; }

 private:
  // Makes every rank's BatchNorm running statistics their mean, before they are used or saved.
  void sync_buffers();
  TrainerOptions options_;
  // The classical method's validation scores (see InterpolationNetImpl::untrained_is_classical):
  // the validation set does not change, so they are computed once.
  std::optional<infer::Scores> classical_scores_;
  std::unique_ptr<torch::Device> device_;
  std::unique_ptr<DistributedContext> distributed_;
  models::GanModel model_;
  losses::GeneratorLossWeights loss_weights_;
  std::unique_ptr<torch::optim::Adam> optimizer_g_, optimizer_d_;
  int64_t step_ = 0;
};

}  // namespace fregan::train
