// Models by name (hf:owner/repo...): the pull API is public (include/llm/hub.hpp); this header gathers the hub's
// internal headers for its own files.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/status.hpp"
#include "llm/hub.hpp"  // the public part
#include "hub/hub_cache.hpp"
#include "hub/model_ref.hpp"

