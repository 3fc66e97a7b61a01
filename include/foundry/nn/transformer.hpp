// nn/transformer.hpp: stacks of layers. TransformerEncoder and TransformerDecoder hold N layers
// ("layers.0", ...) and, in pre-LN form, the final LayerNorm ("norm"); EncoderDecoder feeds the
// encoder's output to every decoder layer (Vaswani et al. 2017, fig. 1).
#pragma once

#include <vector>

#include "foundry/autograd/checkpoint.hpp"
#include "foundry/nn/transformer_layer.hpp"

namespace foundry::nn {

// A Module that only groups children under "0", "1", ... (torch.nn.ModuleList).
template <class T, class M>
class ModuleList : public Module<T> {
 public:
  std::string type_name() const override { return "ModuleList"; }
  void push_back(std::shared_ptr<M> m) { items_.push_back(this->register_module(std::to_string(items_.size()), std::move(m))); }
  std::size_t size() const { return items_.size(); }
  const std::shared_ptr<M>& operator[](std::size_t i) const { return items_.at(i); }
  auto begin() const { return items_.begin(); }
  auto end() const { return items_.end(); }

 private:
  std::vector<std::shared_ptr<M>> items_;
};

template <class T>
class TransformerEncoder : public Module<T> {
 public:
  TransformerEncoder(const TransformerLayerOptions& o, Index num_layers, Generator& gen = default_generator())
      : layers_(this->register_module("layers", std::make_shared<ModuleList<T, TransformerEncoderLayer<T>>>())), gen_(&gen) {
    for (Index i = 0; i < num_layers; ++i) layers_->push_back(std::make_shared<TransformerEncoderLayer<T>>(o, gen));
    if (o.norm_first) norm_ = this->register_module("norm", std::make_shared<LayerNorm<T>>(o.dim, o.layer_norm_eps));
  }

  std::string type_name() const override { return "TransformerEncoder"; }

  // x: [B, S, C] -> [B, S, C]
  Tensor<T> forward(const Tensor<T>& x, const AttentionMask<T>& mask = {}) const {
    Tensor<T> h = x;
    for (const auto& layer : *layers_) {
      h = autograd::checkpoint_if<T>(checkpointing_ && this->is_training(),
                                     [layer, mask](const std::vector<Tensor<T>>& in) { return layer->forward(in[0], mask); }, {h},
                                     {gen_});
    }
    return norm_ ? norm_->forward(h) : h;
  }

  // Activation checkpointing per layer in training mode (autograd/checkpoint.hpp): forward keeps each
  // layer's input only, backward recomputes the layer. Same gradients, bit for bit.
  void set_gradient_checkpointing(bool on) { checkpointing_ = on; }
  bool gradient_checkpointing() const { return checkpointing_; }
  const ModuleList<T, TransformerEncoderLayer<T>>& layers() const { return *layers_; }

 private:
  std::shared_ptr<ModuleList<T, TransformerEncoderLayer<T>>> layers_;
  std::shared_ptr<LayerNorm<T>> norm_;
  Generator* gen_;  // the one the layers' dropouts draw from
  bool checkpointing_ = false;
};

template <class T>
class TransformerDecoder : public Module<T> {
 public:
  TransformerDecoder(const TransformerLayerOptions& o, Index num_layers, Generator& gen = default_generator())
      : layers_(this->register_module("layers", std::make_shared<ModuleList<T, TransformerDecoderLayer<T>>>())), gen_(&gen) {
    for (Index i = 0; i < num_layers; ++i) layers_->push_back(std::make_shared<TransformerDecoderLayer<T>>(o, gen));
    if (o.norm_first) norm_ = this->register_module("norm", std::make_shared<LayerNorm<T>>(o.dim, o.layer_norm_eps));
  }

  std::string type_name() const override { return "TransformerDecoder"; }

  // y: [B, St, C], memory: [B, Ss, C] -> [B, St, C]
  Tensor<T> forward(const Tensor<T>& y, const Tensor<T>& memory, const AttentionMask<T>& self_mask,
                    const AttentionMask<T>& memory_mask = {}) const {
    Tensor<T> h = y;
    for (const auto& layer : *layers_) {
      h = autograd::checkpoint_if<T>(checkpointing_ && this->is_training(),
                                     [layer, self_mask, memory_mask](const std::vector<Tensor<T>>& in) {
                                       return layer->forward(in[0], in[1], self_mask, memory_mask);
                                     }, {h, memory}, {gen_});
    }
    return norm_ ? norm_->forward(h) : h;
  }

  // As TransformerEncoder's. The memory's gradient then sums each layer's two contributions (key and
  // value projections) before adding them up across layers: the same values to float rounding.
  void set_gradient_checkpointing(bool on) { checkpointing_ = on; }
  bool gradient_checkpointing() const { return checkpointing_; }

 private:
  std::shared_ptr<ModuleList<T, TransformerDecoderLayer<T>>> layers_;
  std::shared_ptr<LayerNorm<T>> norm_;
  Generator* gen_;
  bool checkpointing_ = false;
};

// Encoder over the source, decoder over the target with causal self-attention and
// cross-attention to the encoder output. Inputs are already embedded: [B, S, C].
template <class T>
class EncoderDecoder : public Module<T> {
 public:
  EncoderDecoder(const TransformerLayerOptions& o, Index encoder_layers, Index decoder_layers, Generator& gen = default_generator())
      : encoder_(this->register_module("encoder", std::make_shared<TransformerEncoder<T>>(o, encoder_layers, gen))),
        decoder_(this->register_module("decoder", std::make_shared<TransformerDecoder<T>>(o, decoder_layers, gen))) {}

  std::string type_name() const override { return "EncoderDecoder"; }

  // src: [B, Ss, C], tgt: [B, St, C]; masks mark real (non-padding) positions, true = attend.
  Tensor<T> forward(const Tensor<T>& src, const Tensor<T>& tgt, const Tensor<bool>& src_mask = {},
                    const Tensor<bool>& tgt_mask = {}) const {
    AttentionMask<T> enc_mask;
    enc_mask.key_mask = src_mask;
    const Tensor<T> memory = encoder_->forward(src, enc_mask);
    AttentionMask<T> self_mask;
    self_mask.key_mask = tgt_mask;
    self_mask.causal = true;
    return decoder_->forward(tgt, memory, self_mask, enc_mask);
  }

  // Checkpointing in both stacks.
  void set_gradient_checkpointing(bool on) {
    encoder_->set_gradient_checkpointing(on);
    decoder_->set_gradient_checkpointing(on);
  }
  const std::shared_ptr<TransformerEncoder<T>>& encoder() const { return encoder_; }
  const std::shared_ptr<TransformerDecoder<T>>& decoder() const { return decoder_; }

 private:
  std::shared_ptr<TransformerEncoder<T>> encoder_;
  std::shared_ptr<TransformerDecoder<T>> decoder_;
};

}  // namespace foundry::nn
