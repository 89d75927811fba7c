#include <cstdio>
#include <iostream>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "fregan/error.h"
#include "fregan/infer/upscaler.h"
#include "fregan/log.h"

namespace fregan::cli {

void add_upscale(CLI::App& app) {
  struct Args {
    std::string weights, device = "auto";
    bool json = false;
    infer::SrTilingOptions tiling;
  };
  auto a = std::make_shared<Args>();
  auto o = std::make_shared<infer::UpscaleVideoOptions>();
  auto* cmd = app.add_subcommand(
      "upscale",
      "x4 video super-resolution (SpectraFrame). By default evaluates: downscales the input by bicubic x4, upscales "
      "it back and reports PSNR/SSIM against the original beside bicubic; --upscale-only takes the input as LR");
  cmd->add_option("input", o->input, "Input video, or a folder of frames")->required();
  cmd->add_option("-o,--output", o->output, "Output video (optional in evaluation mode)");
  cmd->add_flag("--upscale-only", o->upscale_only, "The input is the low-resolution video: upscale it x4, no scores");
  cmd->add_option("--weights", a->weights, "SpectraFrame checkpoint (default: the shipped spectraframe.pt)");
  cmd->add_option("--max-frames", o->max_frames, "Upscale at most this many frames (0 = all)")->capture_default_str();
  cmd->add_option("--codec", o->codec, "ffmpeg video encoder")->capture_default_str();
  cmd->add_option("--crf", o->crf, "Encoder quality (lower = better)")->capture_default_str();
  cmd->add_flag(
      "--no-audio", [o](int64_t) { o->keep_audio = false; }, "Do not copy the input's audio");
  cmd->add_option("--device", a->device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_option("--tile", a->tiling.tile,
                  "Run the model on tiles of at most this many LR pixels a side, with context around each, so "
                  "memory stays bounded at any frame size (0 = whole frames)")
      ->capture_default_str();
  cmd->add_flag("--overwrite", o->overwrite, "Replace an existing output");
  cmd->add_flag("--json", a->json, "Print the result as JSON");
  cmd->callback([a, o] {
    require(!o->upscale_only || !o->output.empty(), "upscale --upscale-only needs an output (-o out.mp4)");
    infer::Upscaler upscaler(a->weights, a->device);
    upscaler.set_tiling(a->tiling);
    o->progress = [](const infer::UpscaleVideoProgress& p) {
      if (p.frames_done % 10 == 0) {
        log::info("upscaled " + std::to_string(p.frames_done) +
                  (p.frames_total > 0 ? " of ~" + std::to_string(p.frames_total) : std::string()) + " frames");
      }
      return true;
    };
    const auto r = infer::upscale_video(upscaler, *o);
    if (a->json) {
      std::cout << infer::to_json(r).dump(2) << std::endl;
      return;
    }
    char line[640];
    std::snprintf(line, sizeof line, "%lld frames %dx%d -> %dx%d in %.1f s (%.0f ms/frame: model %.0f, scores %.0f)%s",
                  (long long)r.frames, r.lr_width, r.lr_height, r.width, r.height, r.seconds,
                  1000.0 * r.seconds / r.frames, 1000.0 * r.upscale_seconds / r.frames,
                  1000.0 * r.score_seconds / r.frames,
                  o->output.empty() ? "" : (", wrote " + o->output + (r.audio_kept ? " with audio" : "")).c_str());
    std::cout << line << std::endl;
    if (r.evaluated) {
      std::snprintf(line, sizeof line,
                    "against the original: SpectraFrame PSNR %.2f dB  SSIM %.4f  Y-PSNR %.2f dB  Y-SSIM %.4f  "
                    "sharpness %.2f | bicubic PSNR %.2f dB  SSIM %.4f  Y-PSNR %.2f dB  Y-SSIM %.4f  sharpness %.2f  "
                    "(Y: BT.601 luma, 4-pixel border cropped; sharpness: luma gradient over the original's)",
                    r.scores.model.psnr, r.scores.model.ssim, r.scores.model.psnr_y, r.scores.model.ssim_y,
                    r.scores.model.sharpness_y, r.scores.bicubic.psnr, r.scores.bicubic.ssim, r.scores.bicubic.psnr_y,
                    r.scores.bicubic.ssim_y, r.scores.bicubic.sharpness_y);
      std::cout << line << std::endl;
    }
  });
}

}  // namespace fregan::cli
