#include <cstdio>
#include <memory>
#include <string>

#include "commands.h"
#include "fregan/infer/interpolator.h"
#include "fregan/models/registry.h"
#include "fregan/train/checkpoint.h"

namespace fregan::cli {

void add_strip(CLI::App& app) {
  struct Args {
    std::string input, output;
    bool overwrite = false;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("strip", "Keep only what inference needs (header + generator weights) of a checkpoint");
  cmd->add_option("checkpoint", a->input, "Training checkpoint")->required();
  cmd->add_option("-o,--output", a->output, "Inference checkpoint to write")->required();
  cmd->add_flag("--overwrite", a->overwrite, "Replace an existing output");
  cmd->callback([a] { train::strip_checkpoint(a->input, a->output, a->overwrite); });
}

void add_info(CLI::App& app) {
  auto path = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("info", "Show what a checkpoint holds (default: the shipped model) and the known models");
  cmd->add_option("checkpoint", *path, "Checkpoint file");
  cmd->callback([path] {
    const std::string p = path->empty() ? infer::default_weights_path() : *path;
    const auto meta = train::read_checkpoint_meta(p);
    auto j = train::to_json(meta);
    j["path"] = p;
    std::printf("%s\n", j.dump(2).c_str());
  });
}

}  // namespace fregan::cli
