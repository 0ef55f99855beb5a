// Packed quantized safetensors (MLX affine 4/8-bit, GPTQ int4): the scheme from config.json / quantize_config.json,
// and every packed linear converted once at load into one of our block types (docs/MODELS.md: "Packed quantized
// safetensors").
#pragma once
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.hpp"
#include "core/tensor.hpp"

namespace llm {

class SafetensorsModel;

struct HfQuantScheme {
    enum class Kind : uint8_t { None, Mlx, Gptq };
    Kind kind = Kind::None;
    int bits = 0;
    int group_size = 0;     // GPTQ: -1 (one group per row) is stored as 0
    bool gptq_v2 = false;   // GPTQ zero points stored as they are ("gptq_v2"); v1 ("gptq") stores zero - 1
    // MLX per-layer entries of `quantization`: "model.layers.0.mlp.down_proj" -> its bits and group size
    // (bits 0: the layer is not quantized).
    struct Override {
        int bits = 0, group_size = 0;
    };
    std::map<std::string, Override> mlx_overrides;
};

// config.json's text (+ the folder's quantize_config.json for GPTQ) -> the scheme; Kind::None without one.
// Unsupported methods, bits, group sizes and act-order are refused here, naming the key.
Expected<HfQuantScheme> parse_hf_quant(std::string_view config_text, const std::string& dir);

// Every packed linear of the file converted, by the name of the weight it stands for ("<prefix>.weight"):
//   MLX 4-bit: Q4_1 blocks (one group of 32k values = k blocks with the group's scale and bias as fp16).
//   MLX 8-bit: F16 (scale * q + bias computed in fp32, rounded once).
//   GPTQ int4: Q4_0 when every zero point is 8 (symmetric), else Q4_1 with m = -scale * zero rounded to fp16.
// The buffers are appended to `owners`. Errors name the tensor (missing scales, packed shape, act-order).
Expected<std::map<std::string, TensorView>> convert_hf_packed(const SafetensorsModel& st, const HfQuantScheme& q,
                                                              std::vector<std::shared_ptr<const void>>& owners);

}  // namespace llm
