// optim/param_groups.hpp: the parameter groups BERT fine-tuning recipes build from parameter names:
// no weight decay on biases and LayerNorm weights, and layer-wise learning-rate decay (lower layers
// learn slower). Both read only Module::named_parameters(); frozen parameters are kept in their groups
// (the optimizer skips them until they are unfrozen).
#pragma once

#include <charconv>
#include <cmath>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "foundry/nn/module.hpp"
#include "foundry/optim/optimizer.hpp"

namespace foundry::optim {

// True for parameters that conventionally get no weight decay: biases (names ending in "bias") and
// normalisation weights (names containing "LayerNorm", "layer_norm", "ln_" or "norm").
inline bool is_no_decay_name(std::string_view name) {
  if (name.ends_with("bias")) return true;
  for (std::string_view marker : {"LayerNorm", "layer_norm", "ln_", "norm"})
    if (name.find(marker) != std::string_view::npos) return true;
  return false;
}

// Two groups, as Hugging Face's Trainer builds them: {decayed parameters, .weight_decay = weight_decay}
// then {biases and norm weights, .weight_decay = 0}. Either may be empty; the order is always this one.
//   optim::AdamW<float> opt(optim::weight_decay_groups(model, 0.01), {.lr = 5e-5});
template <class T>
std::vector<ParamGroup<T>> weight_decay_groups(const nn::Module<T>& model, double weight_decay) {
  ParamGroup<T> decay{.weight_decay = weight_decay}, no_decay{.weight_decay = 0.0};
  for (const auto& [name, p] : model.named_parameters()) (is_no_decay_name(name) ? no_decay : decay).params.push_back(p);
  return {std::move(decay), std::move(no_decay)};
}

struct LayerDecayOptions {
  double lr;                          // the rate of the top (pooler, heads)
  double layer_decay;                 // in (0, 1]: each layer further down multiplies its rate by this
  double weight_decay = 0;            // applied to all but is_no_decay_name parameters
  std::optional<Index> num_layers{};  // L; by default 1 + the largest i in "encoder.layer.<i>."
};

// i when the name contains the path segment "encoder.layer.<i>.", else nullopt.
inline std::optional<Index> encoder_layer_index(std::string_view name) {
  constexpr std::string_view marker = "encoder.layer.";
  const auto at = name.find(marker);
  if (at == std::string_view::npos || (at != 0 && name[at - 1] != '.')) return std::nullopt;
  const char* first = name.data() + at + marker.size();
  const char* last = name.data() + name.size();
  Index i = -1;
  const auto [end, ec] = std::from_chars(first, last, i);
  if (ec != std::errc() || end == first || end == last || *end != '.') return std::nullopt;
  return i;
}

// How many times a BERT parameter's rate is multiplied by the layer decay: L - i in encoder layer i,
// L + 1 in the embeddings (a path segment "embeddings"), 0 elsewhere (pooler, heads).
inline Index layer_decay_depth(std::string_view name, Index num_layers) {
  if (const auto i = encoder_layer_index(name)) {
    if (*i >= num_layers)
      foundry::detail::fail<ValueError>("layer_decay_depth: '", name, "' is in layer ", *i, " but the model has ",
                                        num_layers, " layers");
    return num_layers - *i;
  }
  const bool embeddings = name.starts_with("embeddings.") || name.find(".embeddings.") != std::string_view::npos;
  return embeddings ? num_layers + 1 : 0;
}

// Layer-wise learning-rate decay groups for a BERT-style model: a parameter at depth d (see
// layer_decay_depth) gets lr · layer_decay^d, split into decayed and no-decay groups. Groups run from
// the embeddings up to the top, decayed before no-decay at each depth; empty groups are left out.
//   optim::AdamW<float> opt(optim::layer_decay_groups(model, {.lr = 5e-5, .layer_decay = 0.9, .weight_decay = 0.01}));
template <class T>
std::vector<ParamGroup<T>> layer_decay_groups(const nn::Module<T>& model, const LayerDecayOptions& o) {
  if (!(o.lr >= 0) || !std::isfinite(o.lr))
    foundry::detail::fail<ValueError>("layer_decay_groups: lr must be a finite number >= 0, got ", o.lr);
  if (!(o.layer_decay > 0 && o.layer_decay <= 1))
    foundry::detail::fail<ValueError>("layer_decay_groups: layer_decay must be in (0, 1], got ", o.layer_decay);
  if (!(o.weight_decay >= 0)) foundry::detail::fail<ValueError>("layer_decay_groups: weight_decay must be >= 0, got ", o.weight_decay);
  const auto named = model.named_parameters();
  Index layers = 0;
  if (o.num_layers) {
    if (*o.num_layers < 0) foundry::detail::fail<ValueError>("layer_decay_groups: num_layers must be >= 0, got ", *o.num_layers);
    layers = *o.num_layers;
  } else {
    for (const auto& [name, p] : named)
      if (const auto i = encoder_layer_index(name)) layers = std::max(layers, *i + 1);
  }
  // Key: (-depth, no_decay), so the map runs from the embeddings (deepest) up to the top.
  std::map<std::pair<Index, bool>, ParamGroup<T>> groups;
  for (const auto& [name, p] : named) {
    const Index depth = layer_decay_depth(name, layers);
    const bool no_decay = is_no_decay_name(name);
    ParamGroup<T>& g = groups[{-depth, no_decay}];
    if (g.params.empty()) {
      g.lr = o.lr * std::pow(o.layer_decay, static_cast<double>(depth));
      g.weight_decay = no_decay ? 0.0 : o.weight_decay;
    }
    g.params.push_back(p);
  }
  std::vector<ParamGroup<T>> out;
  for (auto& [key, g] : groups) out.push_back(std::move(g));
  return out;
}

}  // namespace foundry::optim
