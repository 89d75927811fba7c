#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "commands.h"
#include "fregan/error.h"
#include "fregan/infer/frame_generator.h"
#include "fregan/io/image.h"
#include "fregan/io/image_grid.h"
#include "fregan/log.h"

namespace fs = std::filesystem;

namespace fregan::cli {

void add_generate(CLI::App& app) {
  struct Args {
    std::string weights, grid, frames_dir, walk, device = "auto";
    int64_t n = 64, first = 0;
    uint64_t seed = 0;
    int cols = 0, padding = 2;
    infer::LatentWalkOptions walk_options;
    double fps = 24.0;
    bool overwrite = false;
  };
  auto a = std::make_shared<Args>();
  auto* cmd =
      app.add_subcommand("generate", "Generate frames from noise with a DCGAN (unconditional frame generation)");
  cmd->add_option("--weights", a->weights, "DCGAN checkpoint (default: the shipped dcgan-default.pt)");
  cmd->add_option("-n,--count", a->n, "Number of frames")->capture_default_str();
  cmd->add_option("--seed", a->seed, "Latent seed: the same seed gives the same frames")->capture_default_str();
  cmd->add_option("--first", a->first, "Index of the first frame of the seed's sequence")->capture_default_str();
  cmd->add_option("--grid", a->grid, "Write all frames tiled into one image (e.g. grid.png)");
  cmd->add_option("--cols", a->cols, "Grid columns (0 = ceil(sqrt(n)))")->capture_default_str();
  cmd->add_option("--padding", a->padding, "Grid padding in pixels")->capture_default_str();
  cmd->add_option("--frames", a->frames_dir, "Write every frame as FOLDER/frame_NNNNNN.png (created if missing)");
  cmd->add_option("--walk", a->walk,
                  "Write a walk through latent space as a video (.mp4, .gif, .webm, ...): it passes through frames "
                  "--first, ... of --seed (the frames --grid shows) and morphs from one to the next");
  cmd->add_option("--walk-keys", a->walk_options.keys, "Key frames the walk passes through (>= 2)")
      ->capture_default_str();
  cmd->add_option("--walk-steps", a->walk_options.frames_between,
                  "Frames between two consecutive key frames (spherical interpolation of their latents)")
      ->capture_default_str();
  cmd->add_flag("--walk-loop", a->walk_options.loop,
                "Walk from the last key frame back to the first (a seamless loop)");
  cmd->add_option("--fps", a->fps, "Frame rate of the --walk video")->capture_default_str();
  cmd->add_option("--device", a->device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_flag("--overwrite", a->overwrite, "Replace existing output files");
  cmd->callback([a] {
    require(!a->grid.empty() || !a->frames_dir.empty() || !a->walk.empty(),
            "generate: nothing to write: pass --grid FILE, --frames FOLDER and/or --walk VIDEO");
    require(a->n >= 1, "generate: -n must be >= 1");
    infer::FrameGenerator generator(a->weights, a->device);
    if (!a->walk.empty()) {
      const int64_t frames = generator.write_walk(a->walk, a->walk_options, a->fps, a->overwrite, a->seed, a->first);
      log::info("wrote a latent walk of " + std::to_string(frames) + " frames (" +
                std::to_string(a->walk_options.keys) + " keys of seed " + std::to_string(a->seed) + ") to " + a->walk);
      if (a->grid.empty() && a->frames_dir.empty()) return;
    }
    const auto images = generator.generate_images(a->n, a->seed, a->first);
    if (!a->frames_dir.empty()) {
      fs::create_directories(a->frames_dir);
      for (size_t i = 0; i < images.size(); ++i) {
        char name[32];
        std::snprintf(name, sizeof name, "frame_%06lld.png",
                      static_cast<long long>(a->first + static_cast<int64_t>(i)));
        io::write_image((fs::path(a->frames_dir) / name).string(), images[i], a->overwrite);
      }
    }
    if (!a->grid.empty()) {
      io::GridOptions g;
      g.cols = a->cols;
      g.padding = a->padding;
      io::write_image(a->grid, io::make_grid(images, g), a->overwrite);
    }
    log::info("generated " + std::to_string(images.size()) + " frames of " + std::to_string(generator.width()) + "x" +
              std::to_string(generator.height()) + " (seed " + std::to_string(a->seed) + ", weights at step " +
              std::to_string(generator.step()) + ")");
  });
}

}  // namespace fregan::cli
