// models/gpt.hpp: GptModel, a GPT-2 style decoder-only Transformer (Radford et al. 2019): token +
// learned position embeddings, pre-LN causal blocks, a final LayerNorm. Names follow GPT-2's
// (wte, wpe, h.{i}.ln_1, h.{i}.attn, h.{i}.mlp.c_fc, ln_f) except that attention keeps separate
// query/key/value/out projections where GPT-2 fuses them into c_attn (a loader splits c_attn).
#pragma once

#include <fstream>
#include <sstream>

#include "foundry/autograd/checkpoint.hpp"
#include "foundry/io/json.hpp"
#include "foundry/nn/activation.hpp"
#include "foundry/nn/embedding.hpp"
#include "foundry/nn/layer_norm.hpp"
#include "foundry/nn/multi_head_attention.hpp"
#include "foundry/nn/transformer.hpp"
#include "foundry/ops/elementwise.hpp"

namespace foundry::models {

// Hugging Face GPT2Config's names and defaults (gpt2 small).
struct GptConfig {
  std::int64_t vocab_size = 50257;
  std::int64_t n_positions = 1024;
  std::int64_t n_embd = 768;
  std::int64_t n_layer = 12;
  std::int64_t n_head = 12;
  std::int64_t n_inner = -1;  // -1: 4 * n_embd
  std::string activation_function = "gelu_new";
  double resid_pdrop = 0.1;
  double embd_pdrop = 0.1;
  double attn_pdrop = 0.1;
  double layer_norm_epsilon = 1e-5;
  double initializer_range = 0.02;

  std::int64_t inner() const { return n_inner > 0 ? n_inner : 4 * n_embd; }

  void validate() const {
    for (auto [name, v] : {std::pair{"vocab_size", vocab_size}, std::pair{"n_positions", n_positions},
                           std::pair{"n_embd", n_embd}, std::pair{"n_layer", n_layer}, std::pair{"n_head", n_head}})
      if (v <= 0) foundry::detail::fail<ValueError>("GptConfig: ", name, " must be positive, got ", v);
    if (n_embd % n_head != 0)
      foundry::detail::fail<ValueError>("GptConfig: n_embd ", n_embd, " is not a multiple of n_head ", n_head);
  }

  static GptConfig from_json(const io::Json& j) {
    GptConfig c;
    c.vocab_size = j.get_or<std::int64_t>("vocab_size", c.vocab_size);
    c.n_positions = j.get_or<std::int64_t>("n_positions", c.n_positions);
    c.n_embd = j.get_or<std::int64_t>("n_embd", c.n_embd);
    c.n_layer = j.get_or<std::int64_t>("n_layer", c.n_layer);
    c.n_head = j.get_or<std::int64_t>("n_head", c.n_head);
    c.n_inner = j.get_or<std::int64_t>("n_inner", c.n_inner);
    c.activation_function = j.get_or("activation_function", c.activation_function.c_str());
    c.resid_pdrop = j.get_or<double>("resid_pdrop", c.resid_pdrop);
    c.embd_pdrop = j.get_or<double>("embd_pdrop", c.embd_pdrop);
    c.attn_pdrop = j.get_or<double>("attn_pdrop", c.attn_pdrop);
    c.layer_norm_epsilon = j.get_or<double>("layer_norm_epsilon", c.layer_norm_epsilon);
    c.initializer_range = j.get_or<double>("initializer_range", c.initializer_range);
    c.validate();
    return c;
  }

  io::Json to_json() const {
    io::Json j = io::Json::object();
    j["model_type"] = "gpt2";
    j["vocab_size"] = vocab_size;
    j["n_positions"] = n_positions;
    j["n_embd"] = n_embd;
    j["n_layer"] = n_layer;
    j["n_head"] = n_head;
    if (n_inner > 0) j["n_inner"] = n_inner;
    j["activation_function"] = activation_function;
    j["resid_pdrop"] = resid_pdrop;
    j["embd_pdrop"] = embd_pdrop;
    j["attn_pdrop"] = attn_pdrop;
    j["layer_norm_epsilon"] = layer_norm_epsilon;
    j["initializer_range"] = initializer_range;
    return j;
  }
};

template <class T>
class GptMlp : public nn::Module<T> {
 public:
  GptMlp(const GptConfig& c, Generator& gen)
      : c_fc_(this->register_module("c_fc", std::make_shared<nn::Linear<T>>(c.n_embd, c.inner(),
                                                                            nn::init::normal<T>(0, c.initializer_range), true, gen))),
        c_proj_(this->register_module("c_proj", std::make_shared<nn::Linear<T>>(c.inner(), c.n_embd, residual_init(c), true, gen))),
        act_(nn::activation_from_name(c.activation_function)) {}

  std::string type_name() const override { return "GptMlp"; }
  Tensor<T> forward(const Tensor<T>& x) const { return c_proj_->forward_activated(c_fc_->forward(x), act_); }

  // GPT-2 scales the init of projections into the residual stream by 1/sqrt(2 * n_layer).
  static nn::init::Initializer<T> residual_init(const GptConfig& c) {
    return nn::init::normal<T>(0, c.initializer_range / std::sqrt(2.0 * static_cast<double>(c.n_layer)));
  }

 private:
  std::shared_ptr<nn::Linear<T>> c_fc_, c_proj_;
  nn::Activation act_;
};

// Pre-LN causal block: x + attn(ln_1(x)), then + mlp(ln_2(.)).
template <class T>
class GptBlock : public nn::Module<T> {
 public:
  GptBlock(const GptConfig& c, Generator& gen)
      : ln_1_(this->register_module("ln_1", std::make_shared<nn::LayerNorm<T>>(c.n_embd, c.layer_norm_epsilon))),
        attn_(this->register_module("attn", std::make_shared<nn::MultiHeadAttention<T>>(c.n_embd, c.n_head, attention_options(c), gen))),
        ln_2_(this->register_module("ln_2", std::make_shared<nn::LayerNorm<T>>(c.n_embd, c.layer_norm_epsilon))),
        mlp_(this->register_module("mlp", std::make_shared<GptMlp<T>>(c, gen))),
        dropout_(this->register_module("dropout", std::make_shared<nn::Dropout<T>>(c.resid_pdrop, gen))) {
    // GPT-2's scaled init also applies to the attention output projection.
    nn::init::normal_(attn_->out()->weight(), 0, c.initializer_range / std::sqrt(2.0 * static_cast<double>(c.n_layer)), gen);
  }

  std::string type_name() const override { return "GptBlock"; }

  // x: [B, S, C] -> [B, S, C]; mask carries causal = true and the key padding. With a cache, x holds
  // only the newest positions and attention also sees the cached ones.
  Tensor<T> forward(const Tensor<T>& x, const nn::AttentionMask<T>& mask, nn::KvCache<T>* cache = nullptr) const {
    const Tensor<T> a = cache ? attn_->forward_cached(ln_1_->forward(x), *cache, mask) : attn_->forward(ln_1_->forward(x), mask);
    const Tensor<T> h = x + dropout_->forward(a);
    return h + dropout_->forward(mlp_->forward(ln_2_->forward(h)));
  }

 private:
  static typename nn::MultiHeadAttention<T>::Options attention_options(const GptConfig& c) {
    typename nn::MultiHeadAttention<T>::Options o;
    o.dropout = c.attn_pdrop;
    o.weight_init = nn::init::normal<T>(0, c.initializer_range);
    return o;
  }

  std::shared_ptr<nn::LayerNorm<T>> ln_1_;
  std::shared_ptr<nn::MultiHeadAttention<T>> attn_;
  std::shared_ptr<nn::LayerNorm<T>> ln_2_;
  std::shared_ptr<GptMlp<T>> mlp_;
  std::shared_ptr<nn::Dropout<T>> dropout_;
};

template <class T>
class GptModel : public nn::Module<T> {
 public:
  explicit GptModel(const GptConfig& config, Generator& gen = default_generator())
      : config_((config.validate(), config)),
        wte_(this->register_module("wte", std::make_shared<nn::Embedding<T>>(config.vocab_size, config.n_embd,
                                                                            nn::init::normal<T>(0, config.initializer_range), -1, gen))),
        wpe_(this->register_module("wpe", std::make_shared<nn::Embedding<T>>(config.n_positions, config.n_embd,
                                                                            nn::init::normal<T>(0, config.initializer_range), -1, gen))),
        drop_(this->register_module("drop", std::make_shared<nn::Dropout<T>>(config.embd_pdrop, gen))),
        h_(this->register_module("h", std::make_shared<nn::ModuleList<T, GptBlock<T>>>())),
        gen_(&gen) {
    for (Index i = 0; i < config.n_layer; ++i) h_->push_back(std::make_shared<GptBlock<T>>(config, gen));
    ln_f_ = this->register_module("ln_f", std::make_shared<nn::LayerNorm<T>>(config.n_embd, config.layer_norm_epsilon));
  }

  std::string type_name() const override { return "GptModel"; }

  // One KvCache per block; cache.length() positions have been processed.
  struct Cache {
    std::vector<nn::KvCache<T>> layers;
    Index length() const { return layers.empty() ? 0 : layers.front().length; }
  };

  // ids: [B, S], attention_mask: [B, S] (1 = real token) or undefined -> last hidden state [B, S, C].
  // With a cache (inference), ids are the newest positions, their positions continue after the
  // cached ones, and attention_mask (if given) covers cached and new positions: [B, cached + S].
  Tensor<T> forward(const Tensor<std::int64_t>& ids, const Tensor<std::int64_t>& attention_mask = {}, Cache* cache = nullptr) const {
    if (!ids.defined() || ids.dim() != 2)
      foundry::detail::fail<ShapeError>("GptModel: input_ids must be [B, S], got ", ids.defined() ? ids.shape().str() : "undefined");
    const Index B = ids.size(0), S = ids.size(1);
    const Index position_offset = cache ? cache->length() : 0;
    if (cache && cache->layers.size() != h_->size()) cache->layers.assign(h_->size(), nn::KvCache<T>{});
    if (position_offset + S > config_.n_positions)
      foundry::detail::fail<ValueError>("GptModel: positions up to ", position_offset + S, " exceed n_positions ", config_.n_positions);
    nn::AttentionMask<T> mask;
    mask.causal = true;
    if (attention_mask.defined()) {
      if (attention_mask.shape() != Shape{B, position_offset + S})
        foundry::detail::fail<ShapeError>("GptModel: attention_mask shape ", attention_mask.shape(), " does not match [B, positions] = [",
                                          B, ", ", position_offset + S, "]");
      const Tensor<std::int64_t> m = attention_mask.contiguous_data();
      mask.key_mask = Tensor<bool>::empty(attention_mask.shape());
      for (Index i = 0; i < m.numel(); ++i) mask.key_mask.data()[i] = m.data()[i] != 0;
    }
    Tensor<T> h = drop_->forward(wte_->forward(ids) + wpe_->forward(arange<std::int64_t>(position_offset, position_offset + S)));
    for (std::size_t i = 0; i < h_->size(); ++i) {
      const auto& block = (*h_)[i];
      auto* layer_cache = cache ? &cache->layers[i] : nullptr;  // generation's key/value cache is not checkpointed
      h = autograd::checkpoint_if<T>(gradient_checkpointing_ && this->is_training() && !layer_cache,
                                     [block, mask, layer_cache](const std::vector<Tensor<T>>& x) {
                                       return block->forward(x[0], mask, layer_cache);
                                     }, {h}, {gen_});
    }
    return ln_f_->forward(h);
  }

  // Tied language-model head: logits = h · wteᵀ, [B, S, C] -> [B, S, V].
  Tensor<T> logits(const Tensor<T>& hidden) const { return ops::linear(hidden, wte_->weight()); }

  const GptConfig& config() const { return config_; }
  // Activation checkpointing per block in training mode, as BertModel's (off by default; not with a cache).
  void set_gradient_checkpointing(bool on) { gradient_checkpointing_ = on; }
  bool gradient_checkpointing() const { return gradient_checkpointing_; }
  const std::shared_ptr<nn::Embedding<T>>& wte() const { return wte_; }

 private:
  GptConfig config_;
  std::shared_ptr<nn::Embedding<T>> wte_, wpe_;
  std::shared_ptr<nn::Dropout<T>> drop_;
  std::shared_ptr<nn::ModuleList<T, GptBlock<T>>> h_;
  std::shared_ptr<nn::LayerNorm<T>> ln_f_;
  Generator* gen_;  // the one every dropout of the model draws from
  bool gradient_checkpointing_ = false;
};

}  // namespace foundry::models
