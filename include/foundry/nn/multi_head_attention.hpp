// nn/multi_head_attention.hpp: MultiHeadAttention, H heads of width D = C / H over separate query,
// key and value projections (so Hugging Face checkpoints map one-to-one) and an optional output
// projection. Self-attention passes the same tensor as query and memory; cross-attention passes the
// encoder output as memory. The heads are strided views: no copies between projections and kernel.
#pragma once

#include "foundry/nn/dropout.hpp"
#include "foundry/nn/linear.hpp"
#include "foundry/ops/attention.hpp"

namespace foundry::nn {

template <class T>
struct AttentionMask {
  Tensor<bool> key_mask;             // [B, Sk], true = attend (Hugging Face's attention_mask)
  Tensor<std::int64_t> key_lengths;  // [B], alternative to key_mask
  bool causal = false;               // decoder self-attention
  Tensor<T> bias;                    // additive, broadcastable to [B, H, Sq, Sk]
};

// Keys and values of the positions seen so far, for incremental decoding: each new token then
// costs one position, not the whole prefix. Buffers are [B, H, capacity, D] and grow by doubling.
template <class T>
struct KvCache {
  Tensor<T> k, v;
  Index length = 0;
  void clear() { length = 0; }
};

template <class T>
class MultiHeadAttention : public Module<T> {
 public:
  struct Options {
    double dropout = 0.0;             // on attention probabilities
    bool bias = true;                 // projections have biases
    bool output_projection = true;    // BERT keeps it in a separate "output" module
    Index kv_dim = -1;                // width of the memory for cross-attention (-1: C)
    init::Initializer<T> weight_init;  // empty: PyTorch's Linear default
  };

  MultiHeadAttention(Index dim, Index heads, const Options& opt = {}, Generator& gen = default_generator())
      : heads_(heads), dropout_(opt.dropout), gen_(&gen) {
    if (heads <= 0 || dim % heads != 0)
      detail::fail<ValueError>("MultiHeadAttention: hidden size ", dim, " is not a multiple of the number of heads ", heads);
    const Index kv = opt.kv_dim > 0 ? opt.kv_dim : dim;
    auto make = [&](Index in, Index out) {
      return opt.weight_init ? std::make_shared<Linear<T>>(in, out, opt.weight_init, opt.bias, gen)
                             : std::make_shared<Linear<T>>(in, out, opt.bias, gen);
    };
    query_ = this->register_module("query", make(dim, dim));
    key_ = this->register_module("key", make(kv, dim));
    value_ = this->register_module("value", make(kv, dim));
    if (opt.output_projection) out_ = this->register_module("out", make(dim, dim));
  }

  std::string type_name() const override { return "MultiHeadAttention"; }

  // x: [B, Sq, C], memory: [B, Sk, Ckv] (x itself for self-attention) -> [B, Sq, C];
  // weights, when given, receives the probabilities [B, H, Sq, Sk].
  Tensor<T> forward(const Tensor<T>& x, const Tensor<T>& memory, const AttentionMask<T>& mask = {},
                    Tensor<T>* weights = nullptr) const {
    if (x.dim() != 3 || memory.dim() != 3 || x.size(0) != memory.size(0))
      detail::fail<ShapeError>("MultiHeadAttention: x must be [B, Sq, C] and memory [B, Sk, C] with the same B, got x ",
                               x.shape(), ", memory ", memory.shape());
    const Tensor<T> q = split_heads(query_->forward(x)), k = split_heads(key_->forward(memory)),
                    v = split_heads(value_->forward(memory));
    ops::AttentionOptions<T> opt;
    opt.key_mask = mask.key_mask;
    opt.key_lengths = mask.key_lengths;
    opt.causal = mask.causal;
    opt.bias = mask.bias;
    opt.dropout = this->is_training() ? dropout_ : 0.0;
    opt.generator = gen_;
    // Without a request for the weights, the op keeps no [B, H, Sq, Sk] tensor (backward recomputes it).
    Tensor<T> out;
    if (weights) {
      auto result = ops::scaled_dot_product_attention_with_weights(q, k, v, opt);
      out = std::move(result.output);
      *weights = std::move(result.weights);
    } else {
      out = ops::scaled_dot_product_attention(q, k, v, opt);
    }
    const Tensor<T> merged = merge_heads(out);
    return out_ ? out_->forward(merged) : merged;
  }
  Tensor<T> forward(const Tensor<T>& x, const AttentionMask<T>& mask = {}, Tensor<T>* weights = nullptr) const {
    return forward(x, x, mask, weights);
  }

  // Incremental self-attention: x [B, n, C] holds the n newest positions; their keys and values are
  // appended to `cache` and the queries attend to every cached position (mask.key_mask, if given,
  // covers all of them: [B, cache.length + n]). Inference only: runs without recording a graph.
  Tensor<T> forward_cached(const Tensor<T>& x, KvCache<T>& cache, const AttentionMask<T>& mask = {}) const {
    NoGradGuard no_grad;
    const Index B = x.size(0), n = x.size(1);
    const Tensor<T> q = split_heads(query_->forward(x)), k = split_heads(key_->forward(x)), v = split_heads(value_->forward(x));
    const Index needed = cache.length + n, D = q.size(3);
    if (!cache.k.defined() || cache.k.size(2) < needed || cache.k.size(0) != B) {
      const Index capacity = std::max<Index>(needed, cache.k.defined() && cache.k.size(0) == B ? 2 * cache.k.size(2) : 16);
      Tensor<T> nk = Tensor<T>::zeros({B, heads_, capacity, D}), nv = Tensor<T>::zeros({B, heads_, capacity, D});
      if (cache.k.defined() && cache.length > 0 && cache.k.size(0) == B) {
        nk.narrow(2, 0, cache.length).copy_(cache.k.narrow(2, 0, cache.length));
        nv.narrow(2, 0, cache.length).copy_(cache.v.narrow(2, 0, cache.length));
      } else {
        cache.length = 0;
      }
      cache.k = nk;
      cache.v = nv;
    }
    cache.k.narrow(2, cache.length, n).copy_(k);
    cache.v.narrow(2, cache.length, n).copy_(v);
    cache.length += n;
    ops::AttentionOptions<T> opt;
    opt.key_mask = mask.key_mask;
    opt.causal = mask.causal;
    opt.bias = mask.bias;
    const Tensor<T> out = ops::scaled_dot_product_attention(q, cache.k.narrow(2, 0, cache.length), cache.v.narrow(2, 0, cache.length), opt);
    const Tensor<T> merged = merge_heads(out);
    return out_ ? out_->forward(merged) : merged;
  }

  Index heads() const { return heads_; }
  const std::shared_ptr<Linear<T>>& query() const { return query_; }
  const std::shared_ptr<Linear<T>>& key() const { return key_; }
  const std::shared_ptr<Linear<T>>& value() const { return value_; }
  const std::shared_ptr<Linear<T>>& out() const { return out_; }

  // [B, S, C] -> [B, H, S, D] as a strided view.
  Tensor<T> split_heads(const Tensor<T>& x) const {
    const Index B = x.size(0), S = x.size(1), C = x.size(2);
    return x.reshape({B, S, heads_, C / heads_}).permute({0, 2, 1, 3});
  }
  // [B, H, S, D] -> [B, S, C]; free when the attention output is laid out [B, S, H, D] (it is).
  static Tensor<T> merge_heads(const Tensor<T>& x) {
    const Index B = x.size(0), H = x.size(1), S = x.size(2), D = x.size(3);
    return x.permute({0, 2, 1, 3}).reshape({B, S, H * D});
  }

 private:
  Index heads_;
  double dropout_;
  Generator* gen_;
  std::shared_ptr<Linear<T>> query_, key_, value_, out_;
};

}  // namespace foundry::nn
