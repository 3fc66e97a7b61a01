// nn/transformer_layer.hpp: TransformerEncoderLayer and TransformerDecoderLayer, each in post-LN
// form (original Transformer, BERT: normalise after each residual add) or pre-LN form (GPT-2:
// normalise each sublayer's input; the stack then needs a final LayerNorm).
//   encoder: x -> self-attention -> feed-forward
//   decoder: y -> masked self-attention -> cross-attention over the encoder output -> feed-forward
#pragma once

#include "foundry/nn/feed_forward.hpp"
#include "foundry/nn/layer_norm.hpp"
#include "foundry/nn/multi_head_attention.hpp"
#include "foundry/ops/elementwise.hpp"

namespace foundry::nn {

struct TransformerLayerOptions {
  Index dim = 512;
  Index heads = 8;
  Index ff_dim = 2048;
  Activation activation = Activation::Gelu;
  double dropout = 0.1;            // after each sublayer and inside the feed-forward
  double attention_dropout = 0.1;  // on attention probabilities
  double layer_norm_eps = 1e-5;
  bool norm_first = false;  // pre-LN when true
};

namespace detail {
template <class T>
typename MultiHeadAttention<T>::Options attention_options(const TransformerLayerOptions& o) {
  typename MultiHeadAttention<T>::Options a;
  a.dropout = o.attention_dropout;
  return a;
}
}  // namespace detail

template <class T>
class TransformerEncoderLayer : public Module<T> {
 public:
  explicit TransformerEncoderLayer(const TransformerLayerOptions& o, Generator& gen = default_generator())
      : self_attn_(this->register_module("self_attn", std::make_shared<MultiHeadAttention<T>>(
                                                          o.dim, o.heads, detail::attention_options<T>(o), gen))),
        ffn_(this->register_module("ffn", std::make_shared<FeedForward<T>>(o.dim, o.ff_dim, o.activation, o.dropout, gen))),
        norm1_(this->register_module("norm1", std::make_shared<LayerNorm<T>>(o.dim, o.layer_norm_eps))),
        norm2_(this->register_module("norm2", std::make_shared<LayerNorm<T>>(o.dim, o.layer_norm_eps))),
        dropout_(this->register_module("dropout", std::make_shared<Dropout<T>>(o.dropout, gen))),
        norm_first_(o.norm_first) {}

  std::string type_name() const override { return "TransformerEncoderLayer"; }

  // x: [B, S, C] -> [B, S, C]
  Tensor<T> forward(const Tensor<T>& x, const AttentionMask<T>& mask = {}) const {
    if (norm_first_) {
      Tensor<T> h = x + dropout_->forward(self_attn_->forward(norm1_->forward(x), mask));
      return h + dropout_->forward(ffn_->forward(norm2_->forward(h)));
    }
    Tensor<T> h = norm1_->forward(x + dropout_->forward(self_attn_->forward(x, mask)));
    return norm2_->forward(h + dropout_->forward(ffn_->forward(h)));
  }

  bool norm_first() const { return norm_first_; }

 private:
  std::shared_ptr<MultiHeadAttention<T>> self_attn_;
  std::shared_ptr<FeedForward<T>> ffn_;
  std::shared_ptr<LayerNorm<T>> norm1_, norm2_;
  std::shared_ptr<Dropout<T>> dropout_;
  bool norm_first_;
};

template <class T>
class TransformerDecoderLayer : public Module<T> {
 public:
  explicit TransformerDecoderLayer(const TransformerLayerOptions& o, Generator& gen = default_generator())
      : self_attn_(this->register_module("self_attn", std::make_shared<MultiHeadAttention<T>>(
                                                          o.dim, o.heads, detail::attention_options<T>(o), gen))),
        cross_attn_(this->register_module("cross_attn", std::make_shared<MultiHeadAttention<T>>(
                                                            o.dim, o.heads, detail::attention_options<T>(o), gen))),
        ffn_(this->register_module("ffn", std::make_shared<FeedForward<T>>(o.dim, o.ff_dim, o.activation, o.dropout, gen))),
        norm1_(this->register_module("norm1", std::make_shared<LayerNorm<T>>(o.dim, o.layer_norm_eps))),
        norm2_(this->register_module("norm2", std::make_shared<LayerNorm<T>>(o.dim, o.layer_norm_eps))),
        norm3_(this->register_module("norm3", std::make_shared<LayerNorm<T>>(o.dim, o.layer_norm_eps))),
        dropout_(this->register_module("dropout", std::make_shared<Dropout<T>>(o.dropout, gen))),
        norm_first_(o.norm_first) {}

  std::string type_name() const override { return "TransformerDecoderLayer"; }

  // y: [B, St, C] target, memory: [B, Ss, C] encoder output -> [B, St, C]. self_mask is usually
  // causal (plus target padding); memory_mask masks padded source positions.
  Tensor<T> forward(const Tensor<T>& y, const Tensor<T>& memory, const AttentionMask<T>& self_mask,
                    const AttentionMask<T>& memory_mask = {}) const {
    if (norm_first_) {
      Tensor<T> h = y + dropout_->forward(self_attn_->forward(norm1_->forward(y), self_mask));
      h = h + dropout_->forward(cross_attn_->forward(norm2_->forward(h), memory, memory_mask));
      return h + dropout_->forward(ffn_->forward(norm3_->forward(h)));
    }
    Tensor<T> h = norm1_->forward(y + dropout_->forward(self_attn_->forward(y, self_mask)));
    h = norm2_->forward(h + dropout_->forward(cross_attn_->forward(h, memory, memory_mask)));
    return norm3_->forward(h + dropout_->forward(ffn_->forward(h)));
  }

 private:
  std::shared_ptr<MultiHeadAttention<T>> self_attn_, cross_attn_;
  std::shared_ptr<FeedForward<T>> ffn_;
  std::shared_ptr<LayerNorm<T>> norm1_, norm2_, norm3_;
  std::shared_ptr<Dropout<T>> dropout_;
  bool norm_first_;
};

}  // namespace foundry::nn
