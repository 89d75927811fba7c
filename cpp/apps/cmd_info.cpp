#include <cstdio>
#include <memory>
#include <string>

#include "commands.h"
#include "fregan/infer/interpolator.h"
#include "fregan/models/registry.h"
#include "fregan/train/checkpoint.h"

namespace fregan::cli {

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
