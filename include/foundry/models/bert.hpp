// models/bert.hpp: BertModel (Devlin et al. 2019) as Hugging Face builds it: word + position +
// token-type embeddings, LayerNorm and dropout; a post-LN encoder; a tanh pooler over the first
// token. Module and parameter names are Hugging Face's (encoder.layer.3.attention.self.query.weight),
// so a checkpoint maps one-to-one. Only composition of nn/ here; the math is in ops/.
#pragma once

#include <vector>

#include "foundry/autograd/checkpoint.hpp"
#include "foundry/models/bert_config.hpp"
#include "foundry/nn/activation.hpp"
#include "foundry/nn/embedding.hpp"
#include "foundry/nn/layer_norm.hpp"
#include "foundry/nn/multi_head_attention.hpp"
#include "foundry/nn/transformer.hpp"
#include "foundry/ops/elementwise.hpp"

namespace foundry::models {

namespace detail {
template <class T>
nn::init::Initializer<T> bert_init(const BertConfig& c) {
  return nn::init::normal<T>(0.0, c.initializer_range);
}
}  // namespace detail

template <class T>
class BertEmbeddings : public nn::Module<T> {
 public:
  BertEmbeddings(const BertConfig& c, Generator& gen)
      : word_(this->register_module("word_embeddings", std::make_shared<nn::Embedding<T>>(
                                                           c.vocab_size, c.hidden_size, detail::bert_init<T>(c), c.pad_token_id, gen))),
        position_(this->register_module("position_embeddings", std::make_shared<nn::Embedding<T>>(
                                                                   c.max_position_embeddings, c.hidden_size, detail::bert_init<T>(c), -1, gen))),
        token_type_(this->register_module("token_type_embeddings", std::make_shared<nn::Embedding<T>>(
                                                                       c.type_vocab_size, c.hidden_size, detail::bert_init<T>(c), -1, gen))),
        norm_(this->register_module("LayerNorm", std::make_shared<nn::LayerNorm<T>>(c.hidden_size, c.layer_norm_eps))),
        dropout_(this->register_module("dropout", std::make_shared<nn::Dropout<T>>(c.hidden_dropout_prob, gen))) {}

  std::string type_name() const override { return "BertEmbeddings"; }

  // ids, token_types: [B, S] -> [B, S, C]; positions are 0..S-1.
  Tensor<T> forward(const Tensor<std::int64_t>& ids, const Tensor<std::int64_t>& token_types) const {
    const Index S = ids.size(1);
    const Tensor<std::int64_t> positions = arange<std::int64_t>(S);
    Tensor<T> h = word_->forward(ids) + position_->forward(positions) + token_type_->forward(token_types);
    return dropout_->forward(norm_->forward(h));
  }

  const std::shared_ptr<nn::Embedding<T>>& word_embeddings() const { return word_; }

 private:
  std::shared_ptr<nn::Embedding<T>> word_, position_, token_type_;
  std::shared_ptr<nn::LayerNorm<T>> norm_;
  std::shared_ptr<nn::Dropout<T>> dropout_;
};

// dense -> dropout -> LayerNorm(x + residual): BertSelfOutput and BertOutput share this shape.
template <class T>
class BertResidualOutput : public nn::Module<T> {
 public:
  BertResidualOutput(Index in, const BertConfig& c, Generator& gen)
      : dense_(this->register_module("dense", std::make_shared<nn::Linear<T>>(in, c.hidden_size, detail::bert_init<T>(c), true, gen))),
        norm_(this->register_module("LayerNorm", std::make_shared<nn::LayerNorm<T>>(c.hidden_size, c.layer_norm_eps))),
        dropout_(this->register_module("dropout", std::make_shared<nn::Dropout<T>>(c.hidden_dropout_prob, gen))) {}

  std::string type_name() const override { return "BertOutput"; }

  Tensor<T> forward(const Tensor<T>& h, const Tensor<T>& residual) const {
    return norm_->forward(dropout_->forward(dense_->forward(h)) + residual);
  }
  // forward(activate(z, act), residual), without keeping activate(z, act) for backward.
  Tensor<T> forward_activated(const Tensor<T>& z, nn::Activation act, const Tensor<T>& residual) const {
    return norm_->forward(dropout_->forward(dense_->forward_activated(z, act)) + residual);
  }

 private:
  std::shared_ptr<nn::Linear<T>> dense_;
  std::shared_ptr<nn::LayerNorm<T>> norm_;
  std::shared_ptr<nn::Dropout<T>> dropout_;
};

template <class T>
class BertAttention : public nn::Module<T> {
 public:
  BertAttention(const BertConfig& c, Generator& gen)
      : self_(this->register_module("self", std::make_shared<nn::MultiHeadAttention<T>>(
                                                c.hidden_size, c.num_attention_heads, options(c), gen))),
        output_(this->register_module("output", std::make_shared<BertResidualOutput<T>>(c.hidden_size, c, gen))) {}

  std::string type_name() const override { return "BertAttention"; }

  Tensor<T> forward(const Tensor<T>& x, const nn::AttentionMask<T>& mask, Tensor<T>* weights) const {
    return output_->forward(self_->forward(x, mask, weights), x);
  }

 private:
  static typename nn::MultiHeadAttention<T>::Options options(const BertConfig& c) {
    typename nn::MultiHeadAttention<T>::Options o;
    o.dropout = c.attention_probs_dropout_prob;
    o.output_projection = false;  // Hugging Face keeps it in attention.output.dense
    o.weight_init = detail::bert_init<T>(c);
    return o;
  }

  std::shared_ptr<nn::MultiHeadAttention<T>> self_;
  std::shared_ptr<BertResidualOutput<T>> output_;
};

// One post-LN encoder layer with Hugging Face's names: attention, intermediate, output.
template <class T>
class BertLayer : public nn::Module<T> {
 public:
  BertLayer(const BertConfig& c, Generator& gen)
      : attention_(this->register_module("attention", std::make_shared<BertAttention<T>>(c, gen))),
        intermediate_(this->register_module("intermediate", std::make_shared<Intermediate>(c, gen))),
        output_(this->register_module("output", std::make_shared<BertResidualOutput<T>>(c.intermediate_size, c, gen))),
        act_(nn::activation_from_name(c.hidden_act)) {}

  std::string type_name() const override { return "BertLayer"; }

  // x: [B, S, C] -> [B, S, C]
  Tensor<T> forward(const Tensor<T>& x, const nn::AttentionMask<T>& mask, Tensor<T>* weights = nullptr) const {
    const Tensor<T> a = attention_->forward(x, mask, weights);
    return output_->forward_activated(intermediate_->dense->forward(a), act_, a);
  }

 private:
  struct Intermediate : nn::Module<T> {
    Intermediate(const BertConfig& c, Generator& gen)
        : dense(this->register_module("dense", std::make_shared<nn::Linear<T>>(c.hidden_size, c.intermediate_size,
                                                                                detail::bert_init<T>(c), true, gen))) {}
    std::string type_name() const override { return "BertIntermediate"; }
    std::shared_ptr<nn::Linear<T>> dense;
  };

  std::shared_ptr<BertAttention<T>> attention_;
  std::shared_ptr<Intermediate> intermediate_;
  std::shared_ptr<BertResidualOutput<T>> output_;
  nn::Activation act_;
};

template <class T>
struct BertOutputs {
  Tensor<T> last_hidden_state;           // [B, S, C]
  Tensor<T> pooler_output;               // [B, C]
  std::vector<Tensor<T>> hidden_states;  // embeddings then each layer's output, when asked
  std::vector<Tensor<T>> attentions;     // [B, H, S, S] per layer, when asked
};

struct BertInputs {
  Tensor<std::int64_t> input_ids;       // [B, S]
  Tensor<std::int64_t> attention_mask;  // [B, S], 1 = real token, 0 = padding; undefined: all real
  Tensor<std::int64_t> token_type_ids;  // [B, S]; undefined: all 0
  bool output_hidden_states = false;
  bool output_attentions = false;
};

template <class T>
class BertModel : public nn::Module<T> {
 public:
  explicit BertModel(const BertConfig& config, Generator& gen = default_generator(), bool add_pooler = true)
      : config_((config.validate(), config)),
        embeddings_(this->register_module("embeddings", std::make_shared<BertEmbeddings<T>>(config, gen))),
        encoder_(this->register_module("encoder", std::make_shared<Encoder>())),
        gen_(&gen) {
    for (Index i = 0; i < config.num_hidden_layers; ++i) encoder_->layer->push_back(std::make_shared<BertLayer<T>>(config, gen));
    if (add_pooler) pooler_ = this->register_module("pooler", std::make_shared<Pooler>(config, gen));
  }

  std::string type_name() const override { return "BertModel"; }

  BertOutputs<T> forward(const BertInputs& in) const {
    const Tensor<std::int64_t>& ids = in.input_ids;
    if (!ids.defined() || ids.dim() != 2)
      foundry::detail::fail<ShapeError>("BertModel: input_ids must be [B, S], got ", ids.defined() ? ids.shape().str() : "undefined");
    const Index B = ids.size(0), S = ids.size(1);
    if (S > config_.max_position_embeddings)
      foundry::detail::fail<ValueError>("BertModel: sequence length ", S, " exceeds max_position_embeddings ",
                                        config_.max_position_embeddings);
    for (const auto& [name, t] : {std::pair{"attention_mask", in.attention_mask}, std::pair{"token_type_ids", in.token_type_ids}})
      if (t.defined() && t.shape() != ids.shape())
        foundry::detail::fail<ShapeError>("BertModel: ", name, " shape ", t.shape(), " does not match input_ids ", ids.shape());
    Tensor<std::int64_t> types = in.token_type_ids.defined() ? in.token_type_ids : Tensor<std::int64_t>::zeros({B, S});
    nn::AttentionMask<T> mask;
    if (in.attention_mask.defined()) {
      const Tensor<std::int64_t> m = in.attention_mask.contiguous_data();
      mask.key_mask = Tensor<bool>::empty({B, S});
      for (Index i = 0; i < B * S; ++i) mask.key_mask.data()[i] = m.data()[i] != 0;
    }
    BertOutputs<T> out;
    Tensor<T> h = embeddings_->forward(ids, types);
    if (in.output_hidden_states) out.hidden_states.push_back(h);
    for (const auto& layer : *encoder_->layer) {
      Tensor<T> weights;
      Tensor<T>* wp = in.output_attentions ? &weights : nullptr;  // attention weights are not checkpointed
      h = autograd::checkpoint_if<T>(gradient_checkpointing_ && this->is_training() && !wp,
                                     [layer, mask, wp](const std::vector<Tensor<T>>& x) { return layer->forward(x[0], mask, wp); },
                                     {h}, {gen_});
      if (in.output_hidden_states) out.hidden_states.push_back(h);
      if (in.output_attentions) out.attentions.push_back(weights);
    }
    out.last_hidden_state = h;
    if (pooler_) out.pooler_output = ops::tanh(pooler_->dense->forward(h.select(1, 0)));
    return out;
  }

  BertOutputs<T> forward(const Tensor<std::int64_t>& input_ids, const Tensor<std::int64_t>& attention_mask = {},
                         const Tensor<std::int64_t>& token_type_ids = {}) const {
    return forward(BertInputs{input_ids, attention_mask, token_type_ids});
  }

  const BertConfig& config() const { return config_; }
  // Activation checkpointing per encoder layer, in training mode (off by default): forward keeps only
  // each layer's input; backward recomputes the layer (dropout replays its masks), then goes back
  // through it. Same gradients, bit for bit; the activations held between forward and backward shrink
  // from every layer's to one layer's, for one more forward of the encoder per step. Layers asked for
  // attention weights (output_attentions) run without it.
  void set_gradient_checkpointing(bool on) { gradient_checkpointing_ = on; }
  bool gradient_checkpointing() const { return gradient_checkpointing_; }
  const std::shared_ptr<BertEmbeddings<T>>& embeddings() const { return embeddings_; }
  Index num_layers() const { return static_cast<Index>(encoder_->layer->size()); }
  const std::shared_ptr<BertLayer<T>>& layer(Index i) const { return (*encoder_->layer)[static_cast<std::size_t>(i)]; }

 private:
  struct Encoder : nn::Module<T> {
    Encoder() : layer(this->register_module("layer", std::make_shared<nn::ModuleList<T, BertLayer<T>>>())) {}
    std::string type_name() const override { return "BertEncoder"; }
    std::shared_ptr<nn::ModuleList<T, BertLayer<T>>> layer;
  };
  struct Pooler : nn::Module<T> {
    Pooler(const BertConfig& c, Generator& gen)
        : dense(this->register_module("dense", std::make_shared<nn::Linear<T>>(c.hidden_size, c.hidden_size,
                                                                                detail::bert_init<T>(c), true, gen))) {}
    std::string type_name() const override { return "BertPooler"; }
    std::shared_ptr<nn::Linear<T>> dense;
  };

  BertConfig config_;
  std::shared_ptr<BertEmbeddings<T>> embeddings_;
  std::shared_ptr<Encoder> encoder_;
  std::shared_ptr<Pooler> pooler_;
  Generator* gen_;  // the one every dropout of the model draws from
  bool gradient_checkpointing_ = false;
};

}  // namespace foundry::models
