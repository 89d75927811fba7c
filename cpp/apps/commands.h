#pragma once
// Each subcommand binds its flags straight into a library options struct and runs it.
#include <CLI/CLI.hpp>

#include "fregan/error.h"

namespace fregan::cli {

// A job stopped by Ctrl-C (its finished parts kept): main exits with 130, as shells expect of SIGINT.
class Interrupted : public Error {
 public:
  using Error::Error;
};

void add_train(CLI::App& app);
void add_interpolate(CLI::App& app);
void add_evaluate(CLI::App& app);
void add_info(CLI::App& app);
void add_prepare(CLI::App& app);
void add_strip(CLI::App& app);
void add_generate(CLI::App& app);
void add_models(CLI::App& app);
void add_export(CLI::App& app);
void add_upscale(CLI::App& app);

}  // namespace fregan::cli
