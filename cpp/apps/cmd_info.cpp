#include <cstdio>
#include <memory>
#include <string>

#include "commands.h"
#include "fregan/infer/interpolator.h"
#include "fregan/models/registry.h"
#include "fregan/models/checkpoint.h"
#include "fregan/zoo/zoo.h"

namespace fregan::cli {

void add_strip(CLI::App& app) {
  struct Args {
    std::string input, output;
    bool overwrite = false;
  };
  auto a = std::make_shared<Args>();
  auto* cmd =
      app.add_subcommand("strip", "Keep only what inference needs (header + generator weights) of a checkpoint");
  cmd->add_option("checkpoint", a->input, "Training checkpoint")->required();
  cmd->add_option("-o,--output", a->output, "Inference checkpoint to write")->required();
  cmd->add_flag("--overwrite", a->overwrite, "Replace an existing output");
  cmd->callback([a] { models::strip_checkpoint(a->input, a->output, a->overwrite); });
}

void add_info(CLI::App& app) {
  auto path = std::make_shared<std::string>();
  auto* cmd =
      app.add_subcommand("info", "Show what a checkpoint holds (default: the shipped model) and the known models");
  cmd->add_option("checkpoint", *path, "Checkpoint file or shipped model name (see fregan models)");
  cmd->callback([path] {
    const std::string p = path->empty() ? infer::default_weights_path() : zoo::resolve_weights(*path);
    const auto meta = models::read_checkpoint_meta(p);
    auto j = models::to_json(meta);
    j["path"] = p;
    std::printf("%s\n", j.dump(2).c_str());
  });
}

void add_models(CLI::App& app) {
  auto as_json = std::make_shared<bool>(false);
  auto* cmd =
      app.add_subcommand("models", "List the shipped models: task, size, validation figures, how each was trained");
  cmd->add_flag("--json", *as_json, "Print the manifest entries as JSON (command, data, steps, figures)");
  cmd->callback([as_json] {
    const auto models = zoo::list_models();
    if (*as_json) {
      auto all = nlohmann::json::array();
      for (const auto& m : models) {
        auto e = m.entry;
        e["path"] = m.path;
        all.push_back(std::move(e));
      }
      std::printf("%s\n", all.dump(2).c_str());
      return;
    }
    std::printf("%-16s %-18s %-12s %8s  %s\n", "name", "task", "model", "MB", "validation");
    for (const auto& m : models) {
      std::string figures = "-";
      const auto& v = m.entry.value("validation", nlohmann::json::object());
      if (v.contains("model")) {
        char buf[160];
        if (v.contains("bicubic")) {  // super-resolution: beside bicubic, on frames
          std::snprintf(buf, sizeof buf, "%.2f dB / SSIM %.4f (bicubic %.2f dB) on %d frames",
                        v["model"].value("psnr", 0.0), v["model"].value("ssim", 0.0), v["bicubic"].value("psnr", 0.0),
                        v.value("frames", 0));
        } else if (v.contains("flow_warp")) {
          // Beside plain flow warping (OpenCV's DIS, bilinear), not only beside averaging: the
          // classical bar an interpolation model must clear.
          std::snprintf(buf, sizeof buf, "%.2f dB / SSIM %.4f (DIS warping %.2f, average %.2f dB) on %d triplets",
                        v["model"].value("psnr", 0.0), v["model"].value("ssim", 0.0),
                        v.value("flow_warp", nlohmann::json::object()).value("psnr", 0.0),
                        v.value("average", nlohmann::json::object()).value("psnr", 0.0), v.value("triplets", 0));
        } else {
          std::snprintf(buf, sizeof buf, "%.2f dB / SSIM %.4f on %d triplets", v["model"].value("psnr", 0.0),
                        v["model"].value("ssim", 0.0), v.value("triplets", 0));
        }
        figures = buf;
      } else if (m.entry.contains("sample_grid")) {
        figures = "samples: " + m.entry["sample_grid"].get<std::string>();
      }
      std::printf("%-16s %-18s %-12s %8.1f  %s\n", m.name.c_str(), m.task.c_str(), m.model.c_str(),
                  static_cast<double>(m.bytes) / 1e6, figures.c_str());
    }
    std::printf("(%s; details: fregan models --json, MODELS.md)\n", zoo::models_dir().c_str());
  });
}

}  // namespace fregan::cli
