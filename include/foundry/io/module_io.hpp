// io/module_io.hpp: a Module's state dict to and from one safetensors file, and the Hugging Face
// key conventions for reading checkpoints written by other code: an optional model prefix
// ("bert."), old TensorFlow-era LayerNorm names (gamma/beta), and tied or derived entries that a
// module does not own (cls.predictions.decoder.*, position_ids). Missing and unexpected keys are
// reported as Hugging Face reports them; a shape mismatch is always an error naming the key.
#pragma once

#include <set>
#include <string>

#include "foundry/io/tensor_file.hpp"
#include "foundry/nn/module.hpp"

namespace foundry::io {

// Writes module.state_dict() atomically; metadata travels in the safetensors header.
template <class T>
void save_module(const nn::Module<T>& module, const std::filesystem::path& path,
                 const std::map<std::string, std::string>& metadata = {}, SaveAs as = SaveAs::Native) {
  save_tensors(path, module.state_dict(), metadata, as);
}

// Loads a file written by save_module (any float dtype is converted to T).
template <class T>
nn::LoadResult load_module(nn::Module<T>& module, const std::filesystem::path& path, bool strict = true) {
  return module.load_state_dict(load_tensors<T>(path), strict);
}

namespace detail {

inline bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// "encoder.layer.0.output.LayerNorm.gamma" -> "...LayerNorm.weight" (and beta -> bias).
inline std::string modern_layer_norm_name(std::string key) {
  if (ends_with(key, ".gamma")) key.replace(key.size() - 5, 5, "weight");
  else if (ends_with(key, ".beta")) key.replace(key.size() - 4, 4, "bias");
  return key;
}

// Entries a checkpoint may carry that no module parameter corresponds to: tied decoder weights,
// the decoder bias alias, and registered position/token-type id buffers.
inline bool is_derived_entry(const std::string& key) {
  return ends_with(key, "cls.predictions.decoder.weight") || ends_with(key, "cls.predictions.decoder.bias") ||
         ends_with(key, "embeddings.position_ids") || ends_with(key, "embeddings.token_type_ids");
}

}  // namespace detail

// Maps checkpoint keys onto the module's names, trying each key as is, with `prefix` added, and with
// `prefix` removed; then copies the values in. Derived entries are skipped silently.
template <class T>
nn::LoadResult load_with_prefix(nn::Module<T>& module, const std::map<std::string, Tensor<T>>& checkpoint,
                                const std::string& prefix, bool strict = false) {
  std::set<std::string> expected;
  for (const auto& [name, t] : module.state_dict()) expected.insert(name);
  std::map<std::string, Tensor<T>> mapped;
  std::vector<std::string> unexpected;
  for (const auto& [raw, t] : checkpoint) {
    const std::string key = detail::modern_layer_norm_name(raw);
    std::string target;
    if (expected.count(key)) target = key;
    else if (!prefix.empty() && expected.count(prefix + key)) target = prefix + key;
    else if (!prefix.empty() && key.rfind(prefix, 0) == 0 && expected.count(key.substr(prefix.size()))) target = key.substr(prefix.size());
    if (target.empty()) {
      if (!detail::is_derived_entry(key)) unexpected.push_back(raw);
      continue;
    }
    mapped[target] = t;
  }
  nn::LoadResult result = module.load_state_dict(mapped, /*strict=*/false);
  result.unexpected_keys = unexpected;
  if (strict && (!result.missing_keys.empty() || !result.unexpected_keys.empty())) {
    std::string msg = "load_with_prefix: checkpoint does not match the module:";
    for (const auto& k : result.missing_keys) msg += " missing '" + k + "'";
    for (const auto& k : result.unexpected_keys) msg += " unexpected '" + k + "'";
    throw ValueError(msg);
  }
  return result;
}

}  // namespace foundry::io
