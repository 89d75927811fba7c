// fregan: frame interpolation, training and evaluation from the command line.
#include <iostream>

#include "commands.h"
#include "fregan/error.h"

int main(int argc, char** argv) {
  CLI::App app{"fregan: GAN-based video frame interpolation (" FREGAN_VERSION ")"};
  app.set_version_flag("--version", FREGAN_VERSION);
  app.require_subcommand(1);
  fregan::cli::add_train(app);
  fregan::cli::add_interpolate(app);
  fregan::cli::add_evaluate(app);
  fregan::cli::add_info(app);
  fregan::cli::add_prepare(app);
  fregan::cli::add_strip(app);
  fregan::cli::add_generate(app);
  fregan::cli::add_models(app);
  fregan::cli::add_export(app);
  fregan::cli::add_upscale(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::cerr << "fregan: error: " << e.what() << std::endl;
    return 1;
  }
  return 0;
}
