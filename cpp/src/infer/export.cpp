#include "fregan/infer/export.h"

#include <torch/csrc/jit/frontend/tracer.h>
#include <torch/script.h>
#include <torch/torch.h>

#include "fregan/error.h"
#include "fregan/io/atomic_file.h"
#include "fregan/models/checkpoint.h"
#include "fregan/zoo/zoo.h"

namespace fregan::infer {
namespace {

// The graph recorded by tracing `net` on (f0, f2), clamped to [0, 1] like the Interpolator's
// output, with the weights as constants, as the forward method of a new module.
torch::jit::Module trace_generator(models::InterpolationNetImpl& net, const torch::Tensor& f0,
                                   const torch::Tensor& f2) {
  auto forward = [&net](torch::jit::Stack inputs) -> torch::jit::Stack {
    return {net.forward(inputs.at(0).toTensor(), inputs.at(1).toTensor()).clamp(0.0, 1.0)};
  };
  auto no_names = [](const torch::autograd::Variable&) { return std::string(); };
  auto state = torch::jit::tracer::trace({f0, f2}, forward, no_names, /*strict=*/false).first;

  torch::jit::Module module(c10::QualifiedName("__torch__.fregan.ExportedInterpolator"));
  auto graph = state->graph->copy();
  graph->insertInput(0, "self")->setType(module._ivalue()->type());
  auto method = module._ivalue()->compilation_unit()->create_function(
      c10::QualifiedName(*module.type()->name(), "forward"), graph);
  module.type()->addMethod(method);
  return module;
}

}  // namespace

ExportResult export_torchscript(const std::string& weights, const std::string& output, const ExportOptions& options) {
  const std::string path = zoo::resolve_weights(weights);
  io::AtomicOutput out(output, options.overwrite);  // checks the output path before any work
  const torch::Device cpu(torch::kCPU);
  auto model = models::load_model(path, cpu);
  require(model.name != "fregan-flow",
          "export: fregan-flow cannot be exported to TorchScript (its optical flow is OpenCV's DIS, not a LibTorch "
          "op); export fregan, sin-gan, sepconv or adaconv");
  auto& net = *model.generator;
  const int64_t m = net.size_multiple();
  require(options.batch >= 1, "export: batch must be >= 1, got " + std::to_string(options.batch));
  require(options.height > 0 && options.width > 0 && options.height % m == 0 && options.width % m == 0,
          "export: the size " + std::to_string(options.height) + "x" + std::to_string(options.width) +
              " must be positive multiples of " + std::to_string(m) + " for " + model.name);
  net.eval();
  for (auto& p : net.parameters()) p.set_requires_grad(false);  // traced as constants

  torch::NoGradGuard no_grad;
  torch::manual_seed(0);
  const auto f0 = torch::rand({options.batch, 3, options.height, options.width});
  const auto f2 = (f0 + 0.1 * torch::rand_like(f0)).clamp(0, 1);
  auto module = trace_generator(net, f0, f2);

  module.save(out.temp_path());
  ExportResult result{model.name, output, -1.0};
  if (options.check_tolerance > 0) {
    auto loaded = torch::jit::load(out.temp_path(), cpu);
    const auto g0 = torch::rand_like(f0), g2 = torch::rand_like(f0);
    const auto exported = loaded.forward({g0, g2}).toTensor();
    const auto native = net.forward(g0, g2).clamp(0.0, 1.0);
    result.max_abs_difference = (exported - native).abs().max().item<double>();
    if (!(result.max_abs_difference <= options.check_tolerance)) {
      throw Error("export: the TorchScript module of " + model.name + " differs from the native model by " +
                  std::to_string(result.max_abs_difference) + " (tolerance " + std::to_string(options.check_tolerance) +
                  "); not written");
    }
  }
  out.commit();
  return result;
}

}  // namespace fregan::infer
