#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "fregan/error.h"
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

}  // namespace

void add_train(CLI::App& app) {
  auto o = std::make_shared<train::TrainerOptions>();
  auto g_json = std::make_shared<std::string>(), d_json = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("train", "Train an interpolation GAN on videos or frame folders");
  cmd->add_option("--model", o->model, "Model name (see fregan info --models)")->capture_default_str();
  cmd->add_option("--data", o->data, "Training videos / frame folders / folders of them")->required();
  cmd->add_option("--val-data", o->val_data, "Validation clips (default: hold out --val-fraction of the clips)");
  cmd->add_option("--val-fraction", o->val_fraction, "Fraction of clips held out for validation")->capture_default_str();
  cmd->add_option("--out", o->out_dir, "Output folder: last.pt, best.pt, log.jsonl")->required();
  cmd->add_option("--steps", o->steps, "Total optimizer steps")->capture_default_str();
  cmd->add_option("--batch-size", o->batch_size, "Batch size")->capture_default_str();
  cmd->add_option("--crop", o->crop, "Square training crop size")->capture_default_str();
  cmd->add_option("--frame-skip", o->frame_skip, "Triplets (n, n+k, n+2k)")->capture_default_str();
  cmd->add_option("--max-frames", o->max_frames_per_source, "Decode at most this many frames per clip (0 = all)");
  cmd->add_option("--max-triplets", o->max_triplets_per_source, "Keep at most this many triplets per clip (0 = all)");
  cmd->add_option("--val-triplets", o->val_max_triplets, "Triplets scored at each validation")->capture_default_str();
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
  cmd->callback([o, g_json, d_json, loss_json, adv_weight] {
    o->loss = parse_json_option(*loss_json, "--loss");
    if (*adv_weight >= 0) o->loss["adversarial"] = *adv_weight;
    o->generator_options = parse_json_option(*g_json, "--generator-options");
    o->discriminator_options = parse_json_option(*d_json, "--discriminator-options");
    train::Trainer trainer(*o);
    trainer.fit();
  });
}

}  // namespace fregan::cli
