// `fregan train`: one subcommand for every family; --model picks the trainer by the model's task.
// Each flag says which families take it and where its value goes in their options JSON; the
// chosen family's options are its defaults with those values applied, read strictly (the route
// fregan.train's keyword arguments take too).
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "fregan/error.h"
#include "fregan/models/registry.h"
#include "fregan/train/dcgan_trainer.h"
#include "fregan/train/sr_trainer.h"
#include "fregan/train/trainer.h"

namespace fregan::cli {
namespace {

// The trainers, as bits of a flag's set of families.
enum Family : unsigned { kInterpolation = 1, kUpscale = 2, kGenerate = 4 };

Family family_of(models::Task task) {
  switch (task) {
    case models::Task::kGenerate:
      return kGenerate;
    case models::Task::kUpscale:
      return kUpscale;
    case models::Task::kInterpolate:
      break;
  }
  return kInterpolation;
}

nlohmann::json parse_json_option(const std::string& text, const std::string& flag) {
  if (text.empty()) return nlohmann::json::object();
  try {
    return nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    throw InvalidArgument(flag + " is not valid JSON: " + text);
  }
}

// Where a flag's value goes: the options of `families`, at `key` (a JSON pointer; "*": its keys
// into the options' own; empty: the family takes the flag and has no use for it, as before).
struct Target {
  unsigned families;
  std::string key;
};

// The flags of `fregan train` with the values given, in the order given to the families.
class TrainFlags {
 public:
  explicit TrainFlags(CLI::App* cmd) : cmd_(cmd) {}

  // A flag with a value of type T.
  template <typename T>
  CLI::Option* value(const std::string& name, const std::string& help, std::vector<Target> targets) {
    declare(name, targets);
    return cmd_->add_option_function<T>(
        name, [this, targets](const T& v) { set(targets, [v] { return nlohmann::json(v); }); }, help);
  }
  // A flag whose value is JSON text (checked by `check`, when given, once the family is known).
  CLI::Option* json(const std::string& name, const std::string& help, std::vector<Target> targets,
                    std::function<void(const nlohmann::json&)> check = {}) {
    declare(name, targets);
    return cmd_->add_option_function<std::string>(
        name,
        [this, name, targets, check](const std::string& text) {
          set(targets, [text, name, check] {
            auto j = parse_json_option(text, name);
            if (check) check(j);
            return j;
          });
        },
        help);
  }
  // A flag without a value: sets `value` where given.
  CLI::Option* flag(const std::string& name, const std::string& help, std::vector<Target> targets, bool value = true) {
    declare(name, targets);
    return cmd_->add_flag_callback(
        name, [this, targets, value] { set(targets, [value] { return nlohmann::json(value); }); }, help);
  }
  // A value written into a family's options whatever the flags (that family's defaults on the
  // command line), before the flags'.
  void base(Family family, const std::string& key, nlohmann::json value) {
    base_.push_back({{family, key}, [value] { return value; }});
  }

  // Refuses the first flag given that `family` (chosen as `model`) does not take.
  void refuse_others(Family family, const std::string& model) const {
    for (const auto& [name, families] : declared_) {
      if ((families & family) || cmd_->count(name) == 0) continue;
      // A flag of one single-model family names it; others say what they do not apply to.
      for (const Family only : {kUpscale, kGenerate}) {
        if (families == only) {
          const auto names = models::model_names(only == kUpscale ? models::Task::kUpscale : models::Task::kGenerate);
          if (names.size() == 1) throw InvalidArgument(name + " applies only to --model " + names.front());
        }
      }
      throw InvalidArgument(name + " does not apply to --model " + model);
    }
  }

  // `Options` (the family's defaults) with the given values applied, read strictly.
  template <typename Options>
  Options options(Family family) const {
    nlohmann::json j = Options{};
    for (const auto* list : {&base_, &given_}) {
      for (const auto& [target, make] : *list) {
        if (!(target.families & family) || target.key.empty()) continue;
        if (target.key == "*") {
          j.update(make());
        } else {
          j[nlohmann::json::json_pointer(target.key)] = make();
        }
      }
    }
    return j.get<Options>();
  }

 private:
  struct Given {
    Target target;
    std::function<nlohmann::json()> make;  // the value, parsed once the family is known
  };
  void declare(const std::string& name, const std::vector<Target>& targets) {
    unsigned families = 0;
    for (const auto& t : targets) families |= t.families;
    declared_.push_back({name, families});
  }
  void set(const std::vector<Target>& targets, const std::function<nlohmann::json()>& make) {
    for (const auto& t : targets) given_.push_back({t, make});
  }

  CLI::App* cmd_;
  std::vector<std::pair<std::string, unsigned>> declared_;
  std::vector<Given> base_, given_;
};

// --stabilisers: DCGAN's stabiliser options as one JSON object.
void check_stabilisers(const nlohmann::json& given) {
  for (const auto& [key, value] : given.items()) {
    if (key != "loss" && key != "r1_gamma" && key != "r1_every" && key != "diff_augment" && key != "ema_decay") {
      throw InvalidArgument("--stabilisers: unknown key '" + key +
                            "' (use loss, r1_gamma, r1_every, diff_augment, ema_decay; spectral normalisation is "
                            "--discriminator-options '{\"spectral_norm\": true}')");
    }
  }
}

// A default as --help shows it ("0.2", not "0.200000").
template <typename T>
std::string shown(const T& value) {
  return nlohmann::json(value).dump();
}

}  // namespace

void add_train(CLI::App& app) {
  auto* cmd = app.add_subcommand("train", "Train an interpolation GAN on videos or frame folders");
  auto flags = std::make_shared<TrainFlags>(cmd);
  auto model = std::make_shared<std::string>(train::TrainerOptions{}.model);
  constexpr unsigned all = kInterpolation | kUpscale | kGenerate;
  constexpr unsigned validating = kInterpolation | kUpscale;
  // Defaults shown in --help are the interpolation trainer's.
  const train::TrainerOptions defaults;
  const auto& run = defaults.run;
  cmd->add_option(
         "--model", *model,
         "Model name (see fregan info --models), dcgan (frame generation) or spectraframe (x4 super-resolution)")
      ->capture_default_str();
  flags
      ->value<std::vector<std::string>>("--data", "Training videos / frame folders / folders of them", {{all, "/data"}})
      ->required();
  flags->value<std::vector<std::string>>(
      "--val-data", "Validation clips (default: hold out --val-fraction of the clips)", {{validating, "/val_data"}});
  flags->value<double>("--val-fraction", "Fraction of clips held out for validation", {{validating, "/val_fraction"}})
      ->default_str(shown(defaults.val_fraction));
  flags->value<std::string>("--out", "Output folder: last.pt, best.pt, log.jsonl", {{all, "/out_dir"}})->required();
  flags
      ->value<int64_t>("--steps", "Total optimizer steps (interpolation: 0 validates and saves the untrained model)",
                       {{all, "/steps"}})
      ->default_str(shown(run.steps));
  flags
      ->value<int>("--batch-size", "Batch size (distributed: the global batch, split over the ranks)",
                   {{all, "/batch_size"}})
      ->default_str(shown(run.batch_size));
  flags->value<int>("--crop", "Square training crop size", {{kInterpolation, "/crop"}, {kUpscale, "/hr_crop"}})
      ->default_str(shown(defaults.crop));
  flags->value<int>("--frame-skip", "Triplets (n, n+k, n+2k)", {{kInterpolation | kGenerate, "/frame_skip"}})
      ->default_str(shown(defaults.frame_skip));
  flags->value<int64_t>("--max-frames", "Decode at most this many frames per clip (0 = all)",
                        {{all, "/max_frames_per_source"}});
  flags->value<int64_t>("--max-triplets", "Keep at most this many triplets per clip (0 = all)",
                        {{kInterpolation, "/max_triplets_per_source"}});
  flags->value<int64_t>("--val-triplets", "Triplets scored at each validation", {{kInterpolation, "/val_max_triplets"}})
      ->default_str(shown(defaults.val_max_triplets));
  flags->flag("--neighbours",
              "Give the model each pair's neighbours too (four-frame models: fregan-flow); triplets at clip ends and "
              "cuts are left out",
              {{kInterpolation, "/neighbours"}});
  flags->value<double>("--lr-g", "Generator learning rate", {{all, "/lr_g"}})->default_str(shown(run.lr_g));
  flags->value<double>("--lr-d", "Discriminator learning rate", {{all, "/lr_d"}})->default_str(shown(run.lr_d));
  flags->json("--loss",
              "Generator loss weights as JSON over the model's defaults, e.g. '{\"l1\":1,\"ms_ssim\":1}' "
              "(keys: smooth_l1, smooth_l1_beta, l1, ms_ssim, clipping, adversarial, intermediate)",
              {{validating, "/loss"}});
  flags->value<double>("--adv-weight", "Weight of the adversarial term (0 = no GAN; default: the model's)",
                       {{validating, "/loss/adversarial"}});
  flags->json("--generator-options", "Generator options as JSON, e.g. '{\"base_channels\":16}'",
              {{all, "/generator_options"}});
  flags->json("--discriminator-options", "Discriminator options as JSON", {{all, "/discriminator_options"}});
  flags->flag("--no-flip", "No random flips at all",
              {{kInterpolation, "/hflip"}, {kInterpolation, "/vflip"}, {kUpscale, "/flip"}}, false);
  flags->flag("--no-hflip", "No random horizontal flips", {{kInterpolation, "/hflip"}}, false);
  flags->flag("--no-vflip", "No random vertical flips", {{kInterpolation, "/vflip"}}, false);
  // On the command line SpectraFrame trains without rotations unless asked (SrTrainerOptions,
  // and fregan.train, rotate by default).
  flags->base(kUpscale, "/rotate", false);
  flags->flag("--rotate", "Random 90-degree rotations", {{validating, "/rotate"}});
  flags->flag("--no-reverse", "No random temporal reversal", {{kInterpolation, "/temporal_reverse"}}, false);
  flags->value<int64_t>("--log-every", "Steps between progress lines", {{all, "/log_every"}})
      ->default_str(shown(run.log_every));
  flags->value<int64_t>("--val-every", "Steps between validations (0 = at the end)", {{validating, "/val_every"}})
      ->default_str(shown(defaults.val_every));
  flags->value<int64_t>("--checkpoint-every", "Steps between checkpoints", {{all, "/checkpoint_every"}})
      ->default_str(shown(run.checkpoint_every));
  flags->value<uint64_t>("--seed", "Random seed", {{all, "/seed"}})->default_str(shown(run.seed));
  flags->value<std::string>("--device", "auto, cpu, cuda or cuda:N", {{all, "/device"}})->default_str(run.device);
  flags->value<int>("--threads", "Intra-op threads (0 = default)", {{all, "/threads"}});
  // DCGAN has always taken --workers (it loads in the training thread).
  flags->value<int>("--workers", "Data loader threads", {{kInterpolation, "/workers"}, {kGenerate, ""}})
      ->default_str(shown(defaults.workers));
  flags->flag("--resume", "Continue the run in --out from last.pt", {{all, "/resume"}});
  flags->flag("--overwrite", "Start afresh even if --out holds a run", {{all, "/overwrite"}});

  // Distributed training is the interpolation trainer's; SpectraFrame has always taken these flags
  // and trains in one process.
  const std::string dist_group =
      "Distributed (default: the launcher's WORLD_SIZE, RANK, LOCAL_RANK, MASTER_ADDR, "
      "MASTER_PORT; --batch-size is the global batch)";
  const auto dist = [](const char* key) { return std::vector<Target>{{kInterpolation, key}, {kUpscale, ""}}; };
  flags->value<int>("--world-size", "Processes in the job (default $WORLD_SIZE, else 1)", dist("/world_size"))
      ->group(dist_group);
  flags->value<int>("--rank", "This process's rank, 0..world-size-1 (default $RANK)", dist("/rank"))->group(dist_group);
  flags
      ->value<int>("--local-rank", "Its rank on this machine: picks cuda:N (default $LOCAL_RANK, else --rank)",
                   dist("/local_rank"))
      ->group(dist_group);
  flags
      ->value<std::string>("--master-addr", "Host of rank 0 (default $MASTER_ADDR, else 127.0.0.1)",
                           dist("/master_addr"))
      ->group(dist_group);
  flags
      ->value<int>("--master-port", "Free TCP port on rank 0's host (default $MASTER_PORT, else 29500)",
                   dist("/master_port"))
      ->group(dist_group);
  flags
      ->value<std::string>("--dist-backend", "auto (NCCL on CUDA when built in, else Gloo), gloo or nccl",
                           dist("/dist_backend"))
      ->default_str(defaults.dist_backend)
      ->group(dist_group);
  flags->value<double>("--dist-timeout", "Seconds a rank waits for the others before failing", dist("/dist_timeout"))
      ->default_str(shown(defaults.dist_timeout))
      ->group(dist_group);

  const std::string dcgan_group =
      "DCGAN (--model dcgan; also uses --data --out --steps --batch-size --lr-g --lr-d "
      "--frame-skip --max-frames --seed --threads --generator-options ...)";
  flags->value<int>("--latent-dim", "Latent vector size (default 100)", {{kGenerate, "/generator_options/latent_dim"}})
      ->group(dcgan_group);
  flags
      ->value<int>("--height", "Generated frame height (default 160; a multiple of 2^levels)",
                   {{kGenerate, "/generator_options/height"}})
      ->group(dcgan_group);
  flags
      ->value<int>("--width", "Generated frame width (default 320; a multiple of 2^levels)",
                   {{kGenerate, "/generator_options/width"}})
      ->group(dcgan_group);
  flags
      ->value<int64_t>("--target-frames", "Raise the frame skip so about this many frames are used",
                       {{kGenerate, "/target_frames"}})
      ->group(dcgan_group);
  flags
      ->json("--collapse",
             "Collapse detection/rollback settings as JSON (min_ratio, start_step, lr_factor, d_lr_factor, "
             "max_rollbacks, feature_height, feature_width, enabled)",
             {{kGenerate, "/collapse"}})
      ->group(dcgan_group);
  flags
      ->flag("--temporal-order", "Batches of consecutive frames in order (default: shuffled)",
             {{kGenerate, "/temporal_order"}})
      ->group(dcgan_group);
  flags->flag("--hflip", "Random horizontal flips", {{kGenerate, "/hflip"}})->group(dcgan_group);
  flags
      ->value<int64_t>("--sample-every", "Steps between fixed-noise sample grids (default 250; 0 = at the end)",
                       {{kGenerate, "/sample_every"}})
      ->group(dcgan_group);
  flags->value<int>("--sample-count", "Frames per sample grid (default 64)", {{kGenerate, "/sample_count"}})
      ->group(dcgan_group);
  flags
      ->json("--divergence",
             "Divergence/rollback settings as JSON (d_loss_floor, d_floor_steps, g_loss_ceiling, g_ceiling_steps, "
             "lr_factor, max_rollbacks, enabled)",
             {{kGenerate, "/divergence"}})
      ->group(dcgan_group);
  flags
      ->json("--stabilisers",
             "Stabilisers as JSON: loss (bce|hinge), r1_gamma, r1_every, diff_augment "
             "(\"color,translation,cutout,flip\"), ema_decay",
             {{kGenerate, "*"}}, check_stabilisers)
      ->group(dcgan_group);

  const std::string sr_group =
      "SpectraFrame (--model spectraframe, x4 super-resolution; also uses --data --val-data "
      "--val-fraction --out --steps --batch-size --crop (HR crop, default 96) --lr-g --lr-d "
      "--loss (keys mse, perceptual, adversarial, tv) --adv-weight --no-flip --rotate ...)";
  flags
      ->value<std::string>(
          "--perceptual-model",
          "TorchScript feature extractor for the perceptual loss (default: the discriminator's features)",
          {{kUpscale, "/perceptual_model"}})
      ->group(sr_group);
  flags->value<int64_t>("--val-frames", "Frames scored at each validation (default 8)", {{kUpscale, "/val_frames"}})
      ->group(sr_group);
  flags
      ->value<int>("--val-crop", "Centre HR crop of validation frames (default 256; 0 = whole frames)",
                   {{kUpscale, "/val_crop"}})
      ->group(sr_group);

  cmd->callback([flags, model] {
    // The family's task chooses the trainer (an unknown --model is refused here, naming the known ones).
    const Family family = family_of(models::model_task(*model));
    flags->refuse_others(family, *model);
    switch (family) {
      case kGenerate: {
        const char* world_size = std::getenv("WORLD_SIZE");
        if (world_size && std::atoi(world_size) > 1) {
          throw InvalidArgument("--model dcgan trains in one process only (WORLD_SIZE=" + std::string(world_size) +
                                ")");
        }
        train::DcganTrainer(flags->options<train::DcganTrainerOptions>(kGenerate)).fit();
        return;
      }
      case kUpscale:
        train::SrTrainer(flags->options<train::SrTrainerOptions>(kUpscale)).fit();
        return;
      case kInterpolation: {
        auto options = flags->options<train::TrainerOptions>(kInterpolation);
        options.model = *model;
        train::Trainer(options).fit();
        return;
      }
    }
  });
}

}  // namespace fregan::cli
