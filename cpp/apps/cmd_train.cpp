#include <cstdlib>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "fregan/error.h"
#include "fregan/models/registry.h"
#include "fregan/train/dcgan_trainer.h"
#include "fregan/train/sr_trainer.h"
#include "fregan/train/trainer.h"

namespace fregan::cli {
namespace {

nlohmann::json parse_json_option(const std::string& text, const std::string& flag) {
  if (text.empty()) return nlohmann::json::object();
  try {
    return nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    throw InvalidArgument(flag + " is not valid JSON: " + text);
  }
}

// Flags of `fregan train` that only interpolation models use, and those only DCGAN uses.
const char* const kInterpolationOnlyFlags[] = {"--val-data", "--val-fraction", "--crop", "--max-triplets",
                                               "--val-triplets", "--neighbours", "--loss", "--adv-weight", "--no-flip", "--no-hflip",
                                               "--no-vflip", "--rotate", "--no-reverse", "--val-every",
                                               "--world-size", "--rank", "--local-rank", "--master-addr",
                                               "--master-port", "--dist-backend", "--dist-timeout"};
const char* const kDcganOnlyFlags[] = {"--latent-dim", "--height", "--width", "--target-frames", "--temporal-order",
                                       "--hflip", "--sample-every", "--sample-count", "--divergence",
                                       "--collapse", "--stabilisers"};
// Flags only SpectraFrame uses, and the interpolation ones it has no use for.
const char* const kSrOnlyFlags[] = {"--perceptual-model", "--val-frames", "--val-crop"};
const char* const kNotForSrFlags[] = {"--frame-skip", "--max-triplets", "--val-triplets", "--neighbours", "--no-reverse", "--workers",
                                      "--no-hflip", "--no-vflip"};

// Throws for the first of `flags` the user gave, "<flag><why>".
template <size_t N>
void refuse_flags(const CLI::App& cmd, const char* const (&flags)[N], const std::string& why) {
  for (const char* flag : flags) {
    if (cmd.count(flag) > 0) throw InvalidArgument(std::string(flag) + why);
  }
}

// Extra settings of `--model spectraframe`.
struct SrFlags {
  std::string perceptual_model;
  int64_t val_frames = 0;  // 0 = the trainer's default
  int val_crop = -1;       // -1 = the trainer's default
};

// `fregan train --model spectraframe`: the shared flags the user gave, then the SR ones.
void train_spectraframe(const CLI::App& cmd, const train::TrainerOptions& o, const SrFlags& f, const std::string& g_json,
                        const std::string& d_json, const std::string& loss_json, double adv_weight) {
  refuse_flags(cmd, kDcganOnlyFlags, " does not apply to --model spectraframe");
  refuse_flags(cmd, kNotForSrFlags, " does not apply to --model spectraframe");
  train::SrTrainerOptions s;
  s.data = o.data;
  s.val_data = o.val_data;
  s.out_dir = o.out_dir;
  s.resume = o.resume;
  s.overwrite = o.overwrite;
  s.threads = o.threads;
  s.device = o.device;
  s.seed = o.seed;
  s.max_frames_per_source = o.max_frames_per_source;
  s.rotate = o.rotate;
  s.flip = o.hflip || o.vflip;
  if (cmd.count("--val-fraction")) s.val_fraction = o.val_fraction;
  if (cmd.count("--steps")) s.steps = o.steps;
  if (cmd.count("--batch-size")) s.batch_size = o.batch_size;
  if (cmd.count("--crop")) s.hr_crop = o.crop;
  if (cmd.count("--lr-g")) s.lr_g = o.lr_g;
  if (cmd.count("--lr-d")) s.lr_d = o.lr_d;
  if (cmd.count("--log-every")) s.log_every = o.log_every;
  if (cmd.count("--val-every")) s.val_every = o.val_every;
  if (cmd.count("--checkpoint-every")) s.checkpoint_every = o.checkpoint_every;
  s.generator_options = parse_json_option(g_json, "--generator-options");
  s.discriminator_options = parse_json_option(d_json, "--discriminator-options");
  s.loss = parse_json_option(loss_json, "--loss");
  if (adv_weight >= 0) s.loss["adversarial"] = adv_weight;
  s.perceptual_model = f.perceptual_model;
  if (f.val_frames > 0) s.val_frames = f.val_frames;
  if (f.val_crop >= 0) s.val_crop = f.val_crop;
  train::SrTrainer trainer(s);
  trainer.fit();
}

// Extra settings of `--model dcgan` (the shared flags go through TrainerOptions).
struct DcganFlags {
  int latent_dim = 0, height = 0, width = 0;  // 0 = the model's default / --generator-options
  int64_t target_frames = 0;
  bool temporal_order = false, hflip = false;
  int64_t sample_every = -1;
  int sample_count = 0;
  std::string divergence, collapse, stabilisers;
};

// `fregan train --model dcgan`: the shared flags the user gave, then the DCGAN ones.
void train_dcgan(const CLI::App& cmd, const train::TrainerOptions& o, const DcganFlags& f, const std::string& g_json,
                 const std::string& d_json) {
  refuse_flags(cmd, kInterpolationOnlyFlags, " does not apply to --model dcgan");
  const char* world_size = std::getenv("WORLD_SIZE");
  if (world_size && std::atoi(world_size) > 1) {
    throw InvalidArgument("--model dcgan trains in one process only (WORLD_SIZE=" + std::string(world_size) + ")");
  }
  train::DcganTrainerOptions d;
  d.data = o.data;
  d.out_dir = o.out_dir;
  d.resume = o.resume;
  d.overwrite = o.overwrite;
  d.threads = o.threads;
  d.device = o.device;
  d.seed = o.seed;
  d.frame_skip = o.frame_skip;
  d.max_frames_per_source = o.max_frames_per_source;
  if (cmd.count("--steps")) d.steps = o.steps;
  if (cmd.count("--batch-size")) d.batch_size = o.batch_size;
  if (cmd.count("--lr-g")) d.lr_g = o.lr_g;
  if (cmd.count("--lr-d")) d.lr_d = o.lr_d;
  if (cmd.count("--log-every")) d.log_every = o.log_every;
  if (cmd.count("--checkpoint-every")) d.checkpoint_every = o.checkpoint_every;
  d.generator_options = parse_json_option(g_json, "--generator-options");
  d.discriminator_options = parse_json_option(d_json, "--discriminator-options");
  if (f.latent_dim) d.generator_options["latent_dim"] = f.latent_dim;
  if (f.height) d.generator_options["height"] = f.height;
  if (f.width) d.generator_options["width"] = f.width;
  d.target_frames = f.target_frames;
  d.temporal_order = f.temporal_order;
  d.hflip = f.hflip;
  if (f.sample_every >= 0) d.sample_every = f.sample_every;
  if (f.sample_count > 0) d.sample_count = f.sample_count;
  if (!f.divergence.empty()) d.divergence = parse_json_option(f.divergence, "--divergence").get<train::DivergenceOptions>();
  if (!f.collapse.empty()) d.collapse = parse_json_option(f.collapse, "--collapse").get<train::CollapseOptions>();
  if (!f.stabilisers.empty()) {
    const nlohmann::json given = parse_json_option(f.stabilisers, "--stabilisers");
    for (const auto& [key, value] : given.items()) {
      if (key != "loss" && key != "r1_gamma" && key != "r1_every" && key != "diff_augment" && key != "ema_decay") {
        throw InvalidArgument("--stabilisers: unknown key '" + key +
                              "' (use loss, r1_gamma, r1_every, diff_augment, ema_decay; spectral normalisation is "
                              "--discriminator-options '{\"spectral_norm\": true}')");
      }
    }
    nlohmann::json all = d;
    all.update(given);
    d = all.get<train::DcganTrainerOptions>();
  }
  train::DcganTrainer trainer(d);
  trainer.fit();
}

}  // namespace

void add_train(CLI::App& app) {
  auto o = std::make_shared<train::TrainerOptions>();
  auto g_json = std::make_shared<std::string>(), d_json = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("train", "Train an interpolation GAN on videos or frame folders");
  cmd->add_option("--model", o->model, "Model name (see fregan info --models), dcgan (frame generation) or spectraframe (x4 super-resolution)")
      ->capture_default_str();
  cmd->add_option("--data", o->data, "Training videos / frame folders / folders of them")->required();
  cmd->add_option("--val-data", o->val_data, "Validation clips (default: hold out --val-fraction of the clips)");
  cmd->add_option("--val-fraction", o->val_fraction, "Fraction of clips held out for validation")->capture_default_str();
  cmd->add_option("--out", o->out_dir, "Output folder: last.pt, best.pt, log.jsonl")->required();
  cmd->add_option("--steps", o->steps, "Total optimizer steps (interpolation: 0 validates and saves the untrained model)")->capture_default_str();
  cmd->add_option("--batch-size", o->batch_size, "Batch size (distributed: the global batch, split over the ranks)")
      ->capture_default_str();
  cmd->add_option("--crop", o->crop, "Square training crop size")->capture_default_str();
  cmd->add_option("--frame-skip", o->frame_skip, "Triplets (n, n+k, n+2k)")->capture_default_str();
  cmd->add_option("--max-frames", o->max_frames_per_source, "Decode at most this many frames per clip (0 = all)");
  cmd->add_option("--max-triplets", o->max_triplets_per_source, "Keep at most this many triplets per clip (0 = all)");
  cmd->add_option("--val-triplets", o->val_max_triplets, "Triplets scored at each validation")->capture_default_str();
  cmd->add_flag("--neighbours", o->neighbours,
                "Give the model each pair's neighbours too (four-frame models: fregan-flow); triplets at clip ends and cuts are left out");
  cmd->add_option("--lr-g", o->lr_g, "Generator learning rate")->capture_default_str();
  cmd->add_option("--lr-d", o->lr_d, "Discriminator learning rate")->capture_default_str();
  auto loss_json = std::make_shared<std::string>();
  auto adv_weight = std::make_shared<double>(-1);
  cmd->add_option("--loss", *loss_json,
                  "Generator loss weights as JSON over the model's defaults, e.g. '{\"l1\":1,\"ms_ssim\":1}' "
                  "(keys: smooth_l1, smooth_l1_beta, l1, ms_ssim, clipping, adversarial, intermediate)");
  cmd->add_option("--adv-weight", *adv_weight, "Weight of the adversarial term (0 = no GAN; default: the model's)");
  cmd->add_option("--generator-options", *g_json, "Generator options as JSON, e.g. '{\"base_channels\":16}'");
  cmd->add_option("--discriminator-options", *d_json, "Discriminator options as JSON");
  cmd->add_flag("--no-flip", [o](int64_t) { o->hflip = o->vflip = false; }, "No random flips at all");
  cmd->add_flag("--no-hflip", [o](int64_t) { o->hflip = false; }, "No random horizontal flips");
  cmd->add_flag("--no-vflip", [o](int64_t) { o->vflip = false; }, "No random vertical flips");
  cmd->add_flag("--rotate", o->rotate, "Random 90-degree rotations");
  cmd->add_flag("--no-reverse", [o](int64_t) { o->temporal_reverse = false; }, "No random temporal reversal");
  cmd->add_option("--log-every", o->log_every, "Steps between progress lines")->capture_default_str();
  cmd->add_option("--val-every", o->val_every, "Steps between validations (0 = at the end)")->capture_default_str();
  cmd->add_option("--checkpoint-every", o->checkpoint_every, "Steps between checkpoints")->capture_default_str();
  cmd->add_option("--seed", o->seed, "Random seed")->capture_default_str();
  cmd->add_option("--device", o->device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_option("--threads", o->threads, "Intra-op threads (0 = default)");
  cmd->add_option("--workers", o->workers, "Data loader threads")->capture_default_str();
  cmd->add_flag("--resume", o->resume, "Continue the run in --out from last.pt");
  cmd->add_flag("--overwrite", o->overwrite, "Start afresh even if --out holds a run");
  const std::string dist_group = "Distributed (default: the launcher's WORLD_SIZE, RANK, LOCAL_RANK, MASTER_ADDR, "
                                 "MASTER_PORT; --batch-size is the global batch)";
  cmd->add_option("--world-size", o->world_size, "Processes in the job (default $WORLD_SIZE, else 1)")->group(dist_group);
  cmd->add_option("--rank", o->rank, "This process's rank, 0..world-size-1 (default $RANK)")->group(dist_group);
  cmd->add_option("--local-rank", o->local_rank, "Its rank on this machine: picks cuda:N (default $LOCAL_RANK, else --rank)")
      ->group(dist_group);
  cmd->add_option("--master-addr", o->master_addr, "Host of rank 0 (default $MASTER_ADDR, else 127.0.0.1)")->group(dist_group);
  cmd->add_option("--master-port", o->master_port, "Free TCP port on rank 0's host (default $MASTER_PORT, else 29500)")
      ->group(dist_group);
  cmd->add_option("--dist-backend", o->dist_backend, "auto (NCCL on CUDA when built in, else Gloo), gloo or nccl")
      ->capture_default_str()->group(dist_group);
  cmd->add_option("--dist-timeout", o->dist_timeout, "Seconds a rank waits for the others before failing")
      ->capture_default_str()->group(dist_group);
  auto dc = std::make_shared<DcganFlags>();
  const std::string dcgan_group = "DCGAN (--model dcgan; also uses --data --out --steps --batch-size --lr-g --lr-d "
                                  "--frame-skip --max-frames --seed --threads --generator-options ...)";
  cmd->add_option("--latent-dim", dc->latent_dim, "Latent vector size (default 100)")->group(dcgan_group);
  cmd->add_option("--height", dc->height, "Generated frame height (default 160; a multiple of 2^levels)")->group(dcgan_group);
  cmd->add_option("--width", dc->width, "Generated frame width (default 320; a multiple of 2^levels)")->group(dcgan_group);
  cmd->add_option("--target-frames", dc->target_frames, "Raise the frame skip so about this many frames are used")
      ->group(dcgan_group);
  cmd->add_option("--collapse", dc->collapse,
                  "Collapse detection/rollback settings as JSON (min_ratio, start_step, lr_factor, d_lr_factor, "
                  "max_rollbacks, feature_height, feature_width, enabled)")
      ->group(dcgan_group);
  cmd->add_option("--stabilisers", dc->stabilisers,
                  "Stabilisers as JSON: loss (bce|hinge), r1_gamma, r1_every, diff_augment "
                  "(\"color,translation,cutout,flip\"), ema_decay")
      ->group(dcgan_group);
  cmd->add_flag("--temporal-order", dc->temporal_order, "Batches of consecutive frames in order (default: shuffled)")
      ->group(dcgan_group);
  cmd->add_flag("--hflip", dc->hflip, "Random horizontal flips")->group(dcgan_group);
  cmd->add_option("--sample-every", dc->sample_every, "Steps between fixed-noise sample grids (default 250; 0 = at the end)")
      ->group(dcgan_group);
  cmd->add_option("--sample-count", dc->sample_count, "Frames per sample grid (default 64)")->group(dcgan_group);
  cmd->add_option("--divergence", dc->divergence,
                  "Divergence/rollback settings as JSON (d_loss_floor, d_floor_steps, g_loss_ceiling, g_ceiling_steps, "
                  "lr_factor, max_rollbacks, enabled)")
      ->group(dcgan_group);
  auto sr = std::make_shared<SrFlags>();
  const std::string sr_group = "SpectraFrame (--model spectraframe, x4 super-resolution; also uses --data --val-data "
                               "--val-fraction --out --steps --batch-size --crop (HR crop, default 96) --lr-g --lr-d "
                               "--loss (keys mse, perceptual, adversarial, tv) --adv-weight --no-flip --rotate ...)";
  cmd->add_option("--perceptual-model", sr->perceptual_model,
                  "TorchScript feature extractor for the perceptual loss (default: the discriminator's features)")
      ->group(sr_group);
  cmd->add_option("--val-frames", sr->val_frames, "Frames scored at each validation (default 8)")->group(sr_group);
  cmd->add_option("--val-crop", sr->val_crop, "Centre HR crop of validation frames (default 256; 0 = whole frames)")
      ->group(sr_group);
  cmd->callback([cmd, o, g_json, d_json, loss_json, adv_weight, dc, sr] {
    // The family's task chooses the trainer (an unknown --model is refused here, naming the known ones).
    switch (models::model_task(o->model)) {
      case models::Task::kGenerate:
        refuse_flags(*cmd, kSrOnlyFlags, " applies only to --model spectraframe");
        train_dcgan(*cmd, *o, *dc, *g_json, *d_json);
        return;
      case models::Task::kUpscale:
        train_spectraframe(*cmd, *o, *sr, *g_json, *d_json, *loss_json, *adv_weight);
        return;
      case models::Task::kInterpolate:
        break;
    }
    refuse_flags(*cmd, kSrOnlyFlags, " applies only to --model spectraframe");
    refuse_flags(*cmd, kDcganOnlyFlags, " applies only to --model dcgan");
    o->loss = parse_json_option(*loss_json, "--loss");
    if (*adv_weight >= 0) o->loss["adversarial"] = *adv_weight;
    o->generator_options = parse_json_option(*g_json, "--generator-options");
    o->discriminator_options = parse_json_option(*d_json, "--discriminator-options");
    train::Trainer trainer(*o);
    trainer.fit();
  });
}

}  // namespace fregan::cli
