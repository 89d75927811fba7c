#include "fregan/models/checkpoint.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <sstream>

#include <torch/torch.h>

#include "fregan/error.h"
#include "fregan/io/atomic_file.h"
#include "fregan/io/checksum.h"
#include "fregan/zoo/zoo.h"

namespace fs = std::filesystem;

namespace fregan::models {
namespace {

constexpr const char* kMetaKey = "fregan_meta";

constexpr const char* kChecksumAlgorithm = "fnv1a64-words";

// A shipped checkpoint (one the zoo's manifest lists) must have the manifest's sha256: checked
// once per file version and process (a 10 MB file takes ~50 ms).
void verify_if_shipped(const std::string& path) {
  static std::mutex mutex;
  static std::set<std::string> verified;  // path, inode, size and modification time of good files
  std::error_code ec;
  const std::string canonical = fs::weakly_canonical(path, ec).string();
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return;
  const std::string version = canonical + "|" + std::to_string(st.st_ino) + "|" + std::to_string(st.st_size) + "|" +
                              std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec);
  std::vector<zoo::ShippedModel> shipped;
  try {
    shipped = zoo::list_models();
  } catch (const std::exception&) {
    return;  // no zoo here: nothing to compare with
  }
  for (const auto& model : shipped) {
    if (fs::weakly_canonical(model.path, ec).string() != canonical) continue;
    const std::string expected = model.entry.value("sha256", "");
    if (expected.empty()) return;
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (verified.count(version)) return;
    }
    const std::string actual = io::sha256_file(path);
    if (actual != expected) {
      throw CheckpointError("the shipped model '" + model.name + "' ('" + path + "') is damaged: its sha256 is " +
                            actual + ", the manifest says " + expected + "; reinstall fregan (or restore the file)");
    }
    std::lock_guard<std::mutex> lock(mutex);
    verified.insert(version);
    return;
  }
}

// Refuses weights whose checksum differs from the header's (when the header has one).
void verify_weights(const CheckpointMeta& meta, const char* part, const torch::nn::Module& module,
                    const std::string& path) {
  if (!meta.weights_checksum.is_object() || !meta.weights_checksum.contains(part)) return;  // an older checkpoint
  if (meta.weights_checksum.value("algorithm", "") != kChecksumAlgorithm) return;           // a newer algorithm
  const std::string expected = meta.weights_checksum.value(part, "");
  const std::string actual = weights_checksum(module);
  if (actual != expected) {
    throw CheckpointError("checkpoint '" + path + "' is damaged: the " + part +
                          " weights do not match the checksum in " + "its header (" + actual + " vs " + expected +
                          "); use another copy of the checkpoint");
  }
}

torch::serialize::InputArchive open_archive(const std::string& path, const torch::Device& device) {
  if (!fs::exists(path)) throw FileError("checkpoint '" + path + "' does not exist");
  if (fs::is_directory(path)) throw FileError("checkpoint '" + path + "' is a folder, not a file");
  verify_if_shipped(path);
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(path, device);
  } catch (const std::exception& e) {
    throw CheckpointError("'" + path +
                          "' is not a readable fregan checkpoint (corrupt, truncated or not a torch archive)");
  }
  return archive;
}

CheckpointMeta read_meta(torch::serialize::InputArchive& archive, const std::string& path) {
  c10::IValue value;
  if (!archive.try_read(kMetaKey, value) || !value.isString()) {
    throw CheckpointError("'" + path + "' is a torch archive but not a fregan checkpoint (no fregan_meta header)");
  }
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(value.toStringRef());
  } catch (const std::exception& e) {
    throw CheckpointError("'" + path + "' has a corrupt header: " + e.what());
  }
  CheckpointMeta meta = meta_from_json(j);
  if (meta.format != kCheckpointFormat)
    throw CheckpointError("'" + path + "' is not a fregan checkpoint (format '" + meta.format + "')");
  if (meta.format_version > kCheckpointFormatVersion) {
    throw CheckpointError("'" + path + "' has checkpoint format version " + std::to_string(meta.format_version) +
                          "; this fregan reads up to " + std::to_string(kCheckpointFormatVersion) +
                          " (upgrade fregan)");
  }
  return meta;
}

constexpr const char* kTrainingGeneratorKey = "training_generator";

// Writes the header and the modules' state atomically; fills in the format fields.
void write_archive(const std::string& path, CheckpointMeta meta, const torch::nn::Module& generator,
                   const torch::nn::Module* discriminator, torch::optim::Optimizer* optimizer_g,
                   torch::optim::Optimizer* optimizer_d, const torch::nn::Module* training_generator = nullptr) {
  meta.format = kCheckpointFormat;
  meta.format_version = kCheckpointFormatVersion;
  meta.fregan_version = FREGAN_VERSION;
  meta.has_discriminator = discriminator != nullptr;
  meta.has_optimizers = optimizer_g != nullptr;
  meta.weights_checksum = {{"algorithm", kChecksumAlgorithm}, {"generator", weights_checksum(generator)}};
  if (discriminator) meta.weights_checksum["discriminator"] = weights_checksum(*discriminator);

  torch::serialize::OutputArchive archive;
  archive.write(kMetaKey, c10::IValue(to_json(meta).dump()));
  torch::serialize::OutputArchive g;
  generator.save(g);
  archive.write("generator", g);
  if (discriminator) {
    torch::serialize::OutputArchive d;
    discriminator->save(d);
    archive.write("discriminator", d);
  }
  if (training_generator) {
    torch::serialize::OutputArchive tg;
    training_generator->save(tg);
    archive.write(kTrainingGeneratorKey, tg);
  }
  if (optimizer_g) {
    torch::serialize::OutputArchive og;
    optimizer_g->save(og);
    archive.write("optimizer_g", og);
  }
  if (optimizer_d) {
    torch::serialize::OutputArchive od;
    optimizer_d->save(od);
    archive.write("optimizer_d", od);
  }
  // Serialised in memory, then written by the checked atomic writer: the zip's records are named
  // "archive/..." (torch names them after the file written, which was the temporary one) and a
  // full disk is said at once.
  std::ostringstream bytes;
  try {
    archive.save_to(bytes);
  } catch (const std::exception& e) {
    throw FileError("cannot write checkpoint '" + path + "': " + e.what());
  }
  io::check_output_path(path, /*overwrite=*/true);
  io::write_file_atomically(path, bytes.str());
}

}  // namespace

std::string weights_checksum(const torch::nn::Module& module) {
  std::map<std::string, torch::Tensor> tensors;
  for (const auto& p : module.named_parameters(true)) tensors.emplace("p:" + p.key(), p.value());
  for (const auto& b : module.named_buffers(true)) tensors.emplace("b:" + b.key(), b.value());
  io::Hash64 hash;
  for (const auto& [name, tensor] : tensors) {
    const torch::Tensor t = tensor.detach().to(torch::kCPU).contiguous();
    hash.update(name);
    hash.update(std::string(c10::toString(t.scalar_type())));
    for (const int64_t size : t.sizes()) hash.update(&size, sizeof size);
    hash.update(t.data_ptr(), t.numel() * t.element_size());
  }
  return hash.hex();
}

nlohmann::json to_json(const CheckpointMeta& m) {
  return {{"format", m.format},
          {"format_version", m.format_version},
          {"fregan_version", m.fregan_version},
          {"model", m.model},
          {"generator_options", m.generator_options},
          {"discriminator_options", m.discriminator_options},
          {"trainer_options", m.trainer_options},
          {"step", m.step},
          {"metrics", m.metrics},
          {"trainer_state", m.trainer_state},
          {"has_discriminator", m.has_discriminator},
          {"has_optimizers", m.has_optimizers},
          {"weights_checksum", m.weights_checksum}};
}

CheckpointMeta meta_from_json(const nlohmann::json& j) {
  CheckpointMeta m;
  try {
    m.format = j.value("format", std::string());
    m.format_version = j.value("format_version", 0);
    m.fregan_version = j.value("fregan_version", std::string());
    m.model = j.at("model").get<std::string>();
    m.generator_options = j.value("generator_options", nlohmann::json::object());
    m.discriminator_options = j.value("discriminator_options", nlohmann::json::object());
    m.trainer_options = j.value("trainer_options", nlohmann::json::object());
    m.step = j.value("step", int64_t{0});
    m.metrics = j.value("metrics", nlohmann::json::object());
    m.trainer_state = j.value("trainer_state", nlohmann::json::object());
    m.has_discriminator = j.value("has_discriminator", false);
    m.has_optimizers = j.value("has_optimizers", false);
    m.weights_checksum = j.value("weights_checksum", nlohmann::json::object());
  } catch (const nlohmann::json::exception& e) {
    throw CheckpointError(std::string("checkpoint header is malformed: ") + e.what());
  }
  return m;
}

namespace {

// Which discriminator a load builds: none, the saved one, or always one (loading the saved
// weights into it when there are any).
enum class Discriminator { kNone, kIfSaved, kAlways };

// The one loader: opens the archive, reads the header, lets `accept` refuse the family before
// anything is built, builds the model through the registry and loads and checks its weights.
template <typename Accept>
AnyModel load_any(const std::string& path, const torch::Device& device, CheckpointMeta* meta_out,
                  Discriminator discriminator, const Accept& accept) {
  auto archive = open_archive(path, device);
  const CheckpointMeta meta = read_meta(archive, path);
  accept(meta);
  const bool build_d =
      discriminator == Discriminator::kAlways || (discriminator == Discriminator::kIfSaved && meta.has_discriminator);
  const bool load_d = build_d && meta.has_discriminator;
  AnyModel model;
  try {
    model = build_model(meta.model, meta.generator_options, meta.discriminator_options, build_d);
  } catch (const InvalidArgument& e) {
    throw CheckpointError("checkpoint '" + path + "' describes a model this fregan cannot build: " + e.what());
  }
  try {
    torch::serialize::InputArchive g;
    archive.read("generator", g);
    model.generator->load(g);
    if (load_d) {
      torch::serialize::InputArchive d;
      archive.read("discriminator", d);
      model.discriminator->load(d);
    }
  } catch (const c10::Error& e) {
    throw CheckpointError("checkpoint '" + path + "' has weights that do not fit model '" + meta.model +
                          "': " + e.what_without_backtrace());
  }
  verify_weights(meta, "generator", *model.generator, path);
  if (load_d) verify_weights(meta, "discriminator", *model.discriminator, path);
  model.generator->to(device);
  if (model.discriminator) model.discriminator->to(device);
  if (meta_out) {
    *meta_out = meta;
    // The options as this fregan completes them: an option added since the file was written has
    // its default filled in, so a resumed run compares like with like.
    meta_out->generator_options = model.generator_options;
    meta_out->discriminator_options = model.discriminator_options;
  }
  return model;
}

// For the typed loaders of one family: refuses a checkpoint of another model.
auto only(const std::string& path, const char* name, const char* what) {
  return [path, name, what](const CheckpointMeta& meta) {
    if (meta.model != name)
      throw CheckpointError("'" + path + "' holds model '" + meta.model + "', not a " + what + " model");
  };
}

// A struct model (Dcgan, SpectraFrame) from the registry's modules.
template <typename Model, typename Generator, typename DiscriminatorHolder>
Model as_struct(AnyModel any) {
  Model m;
  m.generator_options = std::move(any.generator_options);
  m.discriminator_options = std::move(any.discriminator_options);
  m.generator = Generator(std::dynamic_pointer_cast<typename Generator::Impl>(any.generator));
  if (any.discriminator) {
    m.discriminator =
        DiscriminatorHolder(std::dynamic_pointer_cast<typename DiscriminatorHolder::Impl>(any.discriminator));
  }
  return m;
}

template <typename Model>
AnyModel as_any(const char* name, const Model& model) {
  return {name, model.generator_options, model.discriminator_options, model.generator.ptr(),
          model.discriminator ? model.discriminator.ptr() : nullptr};
}

}  // namespace

void save_checkpoint(const std::string& path, CheckpointMeta meta, const AnyModel& model,
                     torch::optim::Optimizer* optimizer_g, torch::optim::Optimizer* optimizer_d) {
  meta.model = model.name;
  meta.generator_options = model.generator_options;
  meta.discriminator_options = model.discriminator_options;
  write_archive(path, std::move(meta), *model.generator, model.discriminator.get(), optimizer_g, optimizer_d);
}

AnyModel load_checkpoint(const std::string& path, const torch::Device& device, CheckpointMeta* meta_out,
                         bool with_discriminator) {
  return load_any(path, device, meta_out, with_discriminator ? Discriminator::kIfSaved : Discriminator::kNone,
                  [](const CheckpointMeta&) {});
}

CheckpointMeta read_checkpoint_meta(const std::string& path) {
  auto archive = open_archive(path, torch::kCPU);
  return read_meta(archive, path);
}

void save_checkpoint(const std::string& path, CheckpointMeta meta, const GanModel& model,
                     torch::optim::Optimizer* optimizer_g, torch::optim::Optimizer* optimizer_d) {
  save_checkpoint(
      path, std::move(meta),
      AnyModel{model.name, model.generator_options, model.discriminator_options, model.generator, model.discriminator},
      optimizer_g, optimizer_d);
}

GanModel load_model(const std::string& path, const torch::Device& device, CheckpointMeta* meta_out) {
  auto any = load_any(path, device, meta_out, Discriminator::kAlways, [&path](const CheckpointMeta& meta) {
    const std::vector<std::string> names = all_model_names();
    if (std::find(names.begin(), names.end(), meta.model) == names.end()) return;  // refused when built
    const ModelFamily& family = model_family(meta.model);
    if (family.task != Task::kInterpolate) {
      throw CheckpointError("'" + path + "' holds " + family.description +
                            ", not an interpolation model: use it with " + family.use_with);
    }
  });
  return as_interpolation_model(std::move(any));
}

void strip_checkpoint(const std::string& input, const std::string& output, bool overwrite) {
  io::check_output_path(output, overwrite);
  CheckpointMeta meta;
  const AnyModel model = load_checkpoint(input, torch::kCPU, &meta, /*with_discriminator=*/false);
  save_checkpoint(output, meta, model);
}

void load_optimizers(const std::string& path, const torch::Device& device, torch::optim::Optimizer& optimizer_g,
                     torch::optim::Optimizer* optimizer_d) {
  auto archive = open_archive(path, device);
  const CheckpointMeta meta = read_meta(archive, path);
  if (!meta.has_optimizers)
    throw CheckpointError("checkpoint '" + path + "' holds no optimizer state (cannot resume from it)");
  try {
    torch::serialize::InputArchive og;
    archive.read("optimizer_g", og);
    optimizer_g.load(og);
    if (optimizer_d) {
      torch::serialize::InputArchive od;
      if (archive.try_read("optimizer_d", od)) optimizer_d->load(od);
    }
  } catch (const c10::Error& e) {
    throw CheckpointError("checkpoint '" + path +
                          "' has optimizer state that does not fit: " + e.what_without_backtrace());
  }
}

void save_dcgan_checkpoint(const std::string& path, CheckpointMeta meta, const Dcgan& model,
                           torch::optim::Optimizer* optimizer_g, torch::optim::Optimizer* optimizer_d,
                           const torch::nn::Module* training_generator) {
  if (!training_generator) {
    save_checkpoint(path, std::move(meta), as_any(kDcganModelName, model), optimizer_g, optimizer_d);
    return;
  }
  meta.model = kDcganModelName;
  meta.generator_options = model.generator_options;
  meta.discriminator_options = model.discriminator_options;
  write_archive(path, std::move(meta), *model.generator, model.discriminator ? model.discriminator.get() : nullptr,
                optimizer_g, optimizer_d, training_generator);
}

bool load_training_generator(const std::string& path, torch::nn::Module& module, const torch::Device& device) {
  auto archive = open_archive(path, device);
  torch::serialize::InputArchive tg;
  try {
    if (!archive.try_read(kTrainingGeneratorKey, tg)) return false;
    module.load(tg);
  } catch (const c10::Error& e) {
    throw CheckpointError("checkpoint '" + path +
                          "' has training generator weights that do not fit: " + e.what_without_backtrace());
  }
  module.to(device);
  return true;
}

Dcgan load_dcgan(const std::string& path, const torch::Device& device, CheckpointMeta* meta_out,
                 bool with_discriminator) {
  auto any = load_any(path, device, meta_out, with_discriminator ? Discriminator::kIfSaved : Discriminator::kNone,
                      only(path, kDcganModelName, "DCGAN (frame generation)"));
  return as_struct<Dcgan, DcganGenerator, DcganDiscriminator>(std::move(any));
}

void save_spectraframe_checkpoint(const std::string& path, CheckpointMeta meta, const SpectraFrame& model,
                                  torch::optim::Optimizer* optimizer_g, torch::optim::Optimizer* optimizer_d) {
  save_checkpoint(path, std::move(meta), as_any(kSpectraFrameModelName, model), optimizer_g, optimizer_d);
}

SpectraFrame load_spectraframe(const std::string& path, const torch::Device& device, CheckpointMeta* meta_out,
                               bool with_discriminator) {
  auto any = load_any(path, device, meta_out, with_discriminator ? Discriminator::kIfSaved : Discriminator::kNone,
                      only(path, kSpectraFrameModelName, "SpectraFrame (super-resolution)"));
  return as_struct<SpectraFrame, SpectraFrameGenerator, SpectraFrameDiscriminator>(std::move(any));
}

void resume_from(const std::string& path, const CheckpointMeta& meta, const nlohmann::json& generator_options,
                 const nlohmann::json& discriminator_options, torch::nn::Module& generator,
                 torch::nn::Module& loaded_generator, torch::nn::Module& discriminator,
                 torch::nn::Module* loaded_discriminator, torch::optim::Optimizer& optimizer_g,
                 torch::optim::Optimizer& optimizer_d, const torch::Device& device) {
  if (meta.generator_options != generator_options || meta.discriminator_options != discriminator_options) {
    throw CheckpointError("checkpoint '" + path + "' was trained with other " + meta.model +
                          " options: " + meta.generator_options.dump() + " vs " + generator_options.dump());
  }
  if (!meta.has_discriminator || !loaded_discriminator) {
    throw CheckpointError("checkpoint '" + path + "' has no discriminator (cannot resume from it)");
  }
  copy_weights(generator, loaded_generator);
  copy_weights(discriminator, *loaded_discriminator);
  load_optimizers(path, device, optimizer_g, &optimizer_d);
}

void copy_weights(torch::nn::Module& dst, torch::nn::Module& src) {
  torch::NoGradGuard no_grad;
  auto s = src.named_parameters(true);
  for (auto& p : dst.named_parameters(true)) p.value().copy_(s[p.key()]);
  auto sb = src.named_buffers(true);
  for (auto& b : dst.named_buffers(true)) b.value().copy_(sb[b.key()]);
}

}  // namespace fregan::models
