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
    std::string weights, grid, frames_dir, device = "auto";
    int64_t n = 64, first = 0;
    uint64_t seed = 0;
    int cols = 0, padding = 2;
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
  cmd->add_option("--device", a->device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_flag("--overwrite", a->overwrite, "Replace existing output files");
  cmd->callback([a] {
    require(!a->grid.empty() || !a->frames_dir.empty(),
            "generate: nothing to write: pass --grid FILE and/or --frames FOLDER");
    require(a->n >= 1, "generate: -n must be >= 1");
    infer::FrameGenerator generator(a->weights, a->device);
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
