// io/pretrained.hpp: Hugging Face checkpoint directories (config.json, model.safetensors, vocab.txt).
// Loading is two steps so any model type fits: read the config, build the model from it, then pull
// the weights in with Hugging Face's key conventions (see module_io.hpp):
//   auto config = io::read_bert_config(dir);
//   heads::BertForMaskedLM<float> model(config);
//   auto report = io::load_pretrained_weights(model, dir);  // missing / unexpected keys, as HF reports them
// Saving writes the same layout, so PyTorch's from_pretrained reads it back.
#pragma once

#include <filesystem>
#include <fstream>
#include <iostream>

#include "foundry/io/module_io.hpp"
#include "foundry/models/bert_config.hpp"

namespace foundry::io {

inline models::BertConfig read_bert_config(const std::filesystem::path& dir) {
  const auto path = dir / "config.json";
  if (!std::filesystem::exists(path))
    foundry::detail::fail<IoError>("read_bert_config: '", path.string(), "' not found (a Hugging Face model directory holds config.json)");
  return models::BertConfig::load(path.string());
}

// The checkpoint's tensors as T: model.safetensors (pytorch_model.bin, a Python pickle, is not read).
template <class T>
std::map<std::string, Tensor<T>> read_pretrained_tensors(const std::filesystem::path& dir) {
  const auto path = dir / "model.safetensors";
  if (!std::filesystem::exists(path)) {
    if (std::filesystem::exists(dir / "pytorch_model.bin"))
      foundry::detail::fail<IoError>("load_pretrained: '", dir.string(),
                                     "' has only pytorch_model.bin; convert it to model.safetensors (safetensors.torch.save_file)");
    foundry::detail::fail<IoError>("load_pretrained: '", path.string(), "' not found");
  }
  return load_tensors<T>(path);
}

// Loads the weights into `model`, mapping "bert."-prefixed and unprefixed keys both ways. A new
// head on a pretrained encoder is reported in missing_keys and keeps its initialisation; a shape
// mismatch throws ShapeError naming the key. Prints Hugging Face-style warnings when `verbose`.
template <class T>
nn::LoadResult load_pretrained_weights(nn::Module<T>& model, const std::filesystem::path& dir, bool verbose = false,
                                       const std::string& prefix = "bert.") {
  const nn::LoadResult r = load_with_prefix(model, read_pretrained_tensors<T>(dir), prefix, /*strict=*/false);
  if (verbose) {
    if (!r.missing_keys.empty()) {
      std::cerr << "Some weights of " << model.type_name() << " were not initialized from the checkpoint at " << dir.string()
                << " and are newly initialized:";
      for (const auto& k : r.missing_keys) std::cerr << " " << k;
      std::cerr << "\n";
    }
    if (!r.unexpected_keys.empty()) {
      std::cerr << "Some weights of the checkpoint at " << dir.string() << " were not used when initializing " << model.type_name() << ":";
      for (const auto& k : r.unexpected_keys) std::cerr << " " << k;
      std::cerr << "\n";
    }
  }
  return r;
}

// Writes config.json and model.safetensors (and copies vocab.txt when given) into dir, creating it.
// Each file is written atomically. `architecture` names the model class for Hugging Face.
template <class T>
void save_pretrained(const nn::Module<T>& model, const models::BertConfig& config, const std::filesystem::path& dir,
                     const std::string& architecture, const std::filesystem::path& vocab = {}) {
  std::filesystem::create_directories(dir);
  models::BertConfig c = config;
  Json arch = Json::array();
  arch.push_back(architecture);
  c.extra["architectures"] = arch;
  const auto tmp_config = dir / "config.json.tmp";
  c.save(tmp_config.string());
  std::filesystem::rename(tmp_config, dir / "config.json");
  save_module(model, dir / "model.safetensors", {{"format", "pt"}});
  if (!vocab.empty()) {
    const auto tmp_vocab = dir / "vocab.txt.tmp";
    std::filesystem::copy_file(vocab, tmp_vocab, std::filesystem::copy_options::overwrite_existing);
    std::filesystem::rename(tmp_vocab, dir / "vocab.txt");
  }
}

}  // namespace foundry::io
