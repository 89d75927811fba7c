#pragma once
// SpectraFrame (the third seed): x4 video super-resolution.  The generator follows RBPN (Haris et
// al., "Recurrent Back-Projection Network for Video Super-Resolution", CVPR 2019):
//  - a single-image branch: DBPN-style up/down/up back-projection units (8x8 kernels, stride 4,
//    padding 2, PReLU) that upscale the current frame's features;
//  - a multi-image branch: a ResNet fed with the current LR frame, one neighbour and the dense
//    optical flow between them (OpenCV DIS, see flow/optical_flow.h; the seed used pyflow);
//  - a recurrent encoder-decoder that fuses the n neighbours one after the other: at step j the
//    difference between the single-image and the multi-image SR features is decoded (back-
//    projection of the residual) into the SR features H_j, and H_j is encoded back to LR size to
//    become the "current frame" features of step j + 1.  All H_j are concatenated and
//    reconstructed into the SR frame.
// Unlike RBPN, the output is the bicubic upsampling of the current frame plus the network's
// residual, with the reconstruction conv zero-initialised: the untrained model is exactly bicubic,
// so a short CPU training run can only start improving from there.
//
// The discriminator is SRGAN's (Ledig et al. 2017): 3x3 convs, BN, LeakyReLU, every other one
// strided, then a dense head; adaptive average pooling before the head makes it accept any input
// size.  Not an interpolation model: it does not go through the registry's GanModel; see
// train/sr_trainer.h and infer/upscaler.h.
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

namespace fregan::models {

// The model name written in SpectraFrame checkpoint headers.
constexpr const char* kSpectraFrameModelName = "spectraframe";

struct SpectraFrameGeneratorOptions {
  // Upscaling factor.  Only 4: the back-projection units use DBPN's x4 geometry (8x8 kernels,
  // stride 4, padding 2), which maps h x w exactly to 4h x 4w for any h, w (odd ones too).
  int scale = 4;
  // Neighbour frames fused into each SR frame, half before and half after (clamped at clip ends).
  // The seed (RBPN) uses 6; 2 keeps CPU training and inference affordable.
  int neighbours = 2;
  // Channels of the LR-size features (RBPN: 256).
  int base_channels = 32;
  // Channels of the SR-size features (RBPN: 64).  Every SR-size layer costs 16x an LR-size one
  // per channel pair, so this dominates CPU time.
  int feature_channels = 16;
  // Residual blocks (two 3x3 convs + PReLU each) in each of the multi-image branch's three
  // tiles (to SR size, decoder, encoder).  RBPN: 5.
  int residual_blocks = 1;
  // How the back-projection units go up by 4:
  //  "transposed": ConvTranspose2d 8x8, stride 4, padding 2, as in DBPN/RBPN;
  //  "subpixel":   Conv2d 3x3 to 16x the channels, then PixelShuffle(4): each SR pixel still sees
  //                the same 2x2 LR neighbourhood the transposed conv gives it (a superset of that
  //                function class), and on Debian's MKL-less CPU torch it runs ~7x faster.
  // Going down is always DBPN's Conv2d 8x8, stride 4, padding 2.
  std::string upsampling = "subpixel";
  // Output = bicubic upsampling of the current frame + the network's residual (the reconstruction
  // conv starts at zero).  False: the network outputs the frame itself, as in RBPN.
  bool bicubic_residual = true;
  // How the frames are fused:
  //  "rbpn":      the seed's recurrent back-projection network (above), with SR-size features;
  //  "lr_fusion": every neighbour is warped onto the current frame by its flow; the features of
  //               (current frame, warped neighbour, flow) for each neighbour and of the current
  //               frame are fused by a 1x1 conv, refined by `residual_blocks` residual blocks of
  //               base_channels at LR size, and one 3x3 conv to 16 x 3 channels + PixelShuffle(4)
  //               gives the residual (early fusion as in VESPCN, an EDSR-style LR body).  Nothing
  //               runs at SR size, so it costs several times fewer operations per pixel and
  //               trains many more steps on a CPU in the same time (MODELS.md has the
  //               comparison).  feature_channels and upsampling are unused.
  std::string architecture = "rbpn";
};

struct SpectraFrameDiscriminatorOptions {
  // Channels of the first conv; doubled at every level up to max_channels.  SRGAN: 64 and 512.
  int base_channels = 32;
  int max_channels = 256;
  // Strided levels (each halves the size).  SRGAN: 4 (96x96 crops -> 6x6).
  int levels = 4;
  // Width of the dense head's hidden layer (SRGAN: 1024).
  int dense_channels = 256;
  double leaky_slope = 0.2;
};

// JSON with the field names as keys (strict: unknown keys are errors).
void to_json(nlohmann::json& j, const SpectraFrameGeneratorOptions& o);
void from_json(const nlohmann::json& j, SpectraFrameGeneratorOptions& o);
void to_json(nlohmann::json& j, const SpectraFrameDiscriminatorOptions& o);
void from_json(const nlohmann::json& j, SpectraFrameDiscriminatorOptions& o);

// Throws InvalidArgument naming the problem (e.g. "scale 2 is not supported").
void validate(const SpectraFrameGeneratorOptions& o);
void validate(const SpectraFrameDiscriminatorOptions& o);

// DBPN's up-projection unit: LR features [B, C, h, w] -> SR features [B, C, 4h, 4w].
//   H0 = deconv(L); L0 = conv(H0); H1 = deconv(L0 - L); out = H0 + H1
// (the LR reconstruction error of H0 is projected back up and corrects it).
class UpProjectionImpl : public torch::nn::Module {
 public:
  UpProjectionImpl(int channels, const std::string& upsampling);
  torch::Tensor forward(const torch::Tensor& low);

 private:
  torch::nn::Sequential up1_{nullptr}, down_{nullptr}, up2_{nullptr};
};
TORCH_MODULE(UpProjection);

// DBPN's down-projection unit: SR features [B, C, 4h, 4w] -> LR features [B, C, h, w].
//   L0 = conv(H); H0 = deconv(L0); L1 = conv(H0 - H); out = L0 + L1
class DownProjectionImpl : public torch::nn::Module {
 public:
  DownProjectionImpl(int channels, const std::string& upsampling);
  torch::Tensor forward(const torch::Tensor& high);

 private:
  torch::nn::Sequential down1_{nullptr}, up_{nullptr}, down2_{nullptr};
};
TORCH_MODULE(DownProjection);

// Two 3x3 convs with PReLU and an identity skip (RBPN's ResnetBlock without normalisation).
class SrResidualBlockImpl : public torch::nn::Module {
 public:
  explicit SrResidualBlockImpl(int channels);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr};
  torch::nn::PReLU act1_{nullptr}, act2_{nullptr};
};
TORCH_MODULE(SrResidualBlock);

class SpectraFrameGeneratorImpl : public torch::nn::Module {
 public:
  explicit SpectraFrameGeneratorImpl(const SpectraFrameGeneratorOptions& options = {});

  // lr: current LR frame [B, 3, h, w]; neighbours: [B, n, 3, h, w]; flows: flow from the current
  // frame to each neighbour [B, n, 2, h, w] in LR pixels (see spectraframe_flows).  All RGB in
  // [0, 1].  Returns the SR frame [B, 3, 4h, 4w] (not clamped).
  torch::Tensor forward(const torch::Tensor& lr, const torch::Tensor& neighbours, const torch::Tensor& flows);

  // What the multi-image branch receives for each neighbour: [B, n, 8, h, w], the concatenation
  // (current frame, neighbour j, flow j) along channels.  Checks the shapes.
  torch::Tensor pair_inputs(const torch::Tensor& lr, const torch::Tensor& neighbours, const torch::Tensor& flows) const;

  const SpectraFrameGeneratorOptions& options() const { return options_; }

 private:
  torch::Tensor forward_rbpn(const torch::Tensor& lr, const torch::Tensor& pairs);
  torch::Tensor forward_lr_fusion(const torch::Tensor& lr, const torch::Tensor& neighbours, const torch::Tensor& flows);
  void zero_reconstruction();
  // Throws unless lr is [B, 3, h, w], neighbours [B, n, 3, h, w] and flows [B, n, 2, h, w].
  void check_inputs(const torch::Tensor& lr, const torch::Tensor& neighbours, const torch::Tensor& flows) const;

  SpectraFrameGeneratorOptions options_;
  torch::nn::Sequential current_features_{nullptr};  // feat0: current frame -> LR features
  torch::nn::Sequential pair_features_{nullptr};     // feat1: (frame, neighbour, flow) -> LR features
  // Single-image branch (DBPN): 1x1 to feature channels, up / down / up, 1x1 fusion of both ups.
  torch::nn::Sequential single_in_{nullptr};
  UpProjection single_up1_{nullptr};
  DownProjection single_down_{nullptr};
  UpProjection single_up2_{nullptr};
  torch::nn::Sequential single_out_{nullptr};
  // Multi-image branch and recurrent encoder-decoder: the three ResNet tiles.
  torch::nn::Sequential multi_to_sr_{nullptr};  // ResNet(base) + deconv to SR size
  torch::nn::Sequential decoder_{nullptr};      // ResNet(feature) on the back-projected residual
  torch::nn::Sequential encoder_{nullptr};      // ResNet(feature) + conv back to LR size
  torch::nn::Conv2d reconstruct_{nullptr};      // n * feature channels -> RGB (residual)
  // lr_fusion only: (n + 1) * base -> base (1x1), then the LR-size residual body.
  torch::nn::Sequential fuse_{nullptr}, body_{nullptr};
};
TORCH_MODULE(SpectraFrameGenerator);

class SpectraFrameDiscriminatorImpl : public torch::nn::Module {
 public:
  explicit SpectraFrameDiscriminatorImpl(const SpectraFrameDiscriminatorOptions& options = {});
  // frames [B, 3, H, W] RGB in [0, 1], any H, W >= 2^levels -> logits [B].
  torch::Tensor forward(const torch::Tensor& frames);
  // The output of every conv stage (before the head), for feature matching.
  std::vector<torch::Tensor> features(const torch::Tensor& frames);
  // The head on the last stage's output (features(frames).back()) -> logits [B]: forward() in two
  // parts, so one pass serves both feature matching and the adversarial term.
  torch::Tensor classify(const torch::Tensor& last_features);
  const SpectraFrameDiscriminatorOptions& options() const { return options_; }

 private:
  SpectraFrameDiscriminatorOptions options_;
  torch::nn::ModuleList stages_{nullptr};
  torch::nn::Sequential head_{nullptr};
};
TORCH_MODULE(SpectraFrameDiscriminator);

struct SpectraFrame {
  nlohmann::json generator_options;      // complete, defaults filled in
  nlohmann::json discriminator_options;  // complete, defaults filled in
  SpectraFrameGenerator generator{nullptr};
  SpectraFrameDiscriminator discriminator{nullptr};  // null in stripped (inference) checkpoints
};

// Builds the model from JSON options (strict).
SpectraFrame create_spectraframe(const nlohmann::json& generator_options = nlohmann::json::object(),
                                 const nlohmann::json& discriminator_options = nlohmann::json::object(),
                                 bool with_discriminator = true);

// Dense flow from the current frame to each neighbour (OpenCV DIS on the CPU, "medium" preset):
// lr [B, 3, h, w], neighbours [B, n, 3, h, w] -> [B, n, 2, h, w] on lr's device.
torch::Tensor spectraframe_flows(const torch::Tensor& lr, const torch::Tensor& neighbours);

}  // namespace fregan::models
