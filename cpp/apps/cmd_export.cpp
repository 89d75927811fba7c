#include <cstdio>
#include <memory>
#include <string>

#include "commands.h"
#include "fregan/error.h"
#include "fregan/infer/export.h"

namespace fregan::cli {

void add_export(CLI::App& app) {
  struct Args {
    std::string weights, output, size = "256x256";
    infer::ExportOptions options;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("export", "Write a trained interpolation generator as a TorchScript module");
  cmd->add_option("weights", a->weights, "Checkpoint file or shipped model name (see fregan models)")->required();
  cmd->add_option("-o,--output", a->output, "TorchScript file to write (e.g. model.ts)")->required();
  cmd->add_option("--size", a->size, "Frame size HxW the module is traced at (multiples of 16)")->capture_default_str();
  cmd->add_option("--batch", a->options.batch, "Batch size the module is traced for")->capture_default_str();
  cmd->add_flag("--overwrite", a->options.overwrite, "Replace an existing output");
  cmd->callback([a] {
    const auto x = a->size.find('x');
    require(x != std::string::npos, "--size: expected HxW such as 256x256, got '" + a->size + "'");
    try {
      a->options.height = std::stoll(a->size.substr(0, x));
      a->options.width = std::stoll(a->size.substr(x + 1));
    } catch (const std::exception&) {
      throw InvalidArgument("--size: expected HxW such as 256x256, got '" + a->size + "'");
    }
    const auto r = infer::export_torchscript(a->weights, a->output, a->options);
    std::printf("wrote %s (%s traced at %s; max difference to the native model %.2e)\n", r.path.c_str(),
                r.model.c_str(), a->size.c_str(), r.max_abs_difference);
  });
}

}  // namespace fregan::cli
