// tests/io/checkpoint_test.cpp mirrors include/foundry/io/checkpoint.hpp: a tiny BERT MLM with
// dropout, AdamW over the BERT groups, linear warmup and a data generator resumes bit-identically from
// a checkpoint loaded into fresh objects; a write that fails midway leaves the previous checkpoint
// byte-identical; corrupted and mismatched checkpoints are rejected by name, changing nothing.
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>

#include "foundry/heads/mlm_head.hpp"
#include "foundry/io/checkpoint.hpp"
#include "foundry/optim/adam.hpp"
#include "foundry/optim/param_groups.hpp"
#include "foundry/optim/sgd.hpp"
#include "support/testing.hpp"

namespace foundry::checkpoint_test {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::ThrowsMessage;

constexpr Index kCkptVocab = 13;

models::BertConfig ckpt_config(Index layers = 1, Index vocab = kCkptVocab) {
  models::BertConfig c;
  c.vocab_size = vocab;
  c.hidden_size = 8;
  c.num_hidden_layers = layers;
  c.num_attention_heads = 2;
  c.intermediate_size = 16;
  c.max_position_embeddings = 8;
  c.hidden_dropout_prob = 0.2;  // dropout draws from the default generator, so resuming must restore it
  c.attention_probs_dropout_prob = 0.2;
  return c;
}

// One training run: the model is built from the default generator reseeded with `seed` (its dropout
// then draws from that generator), AdamW over HF's decay / no-decay groups, linear warmup over 2 of 6
// steps, and a separate generator that picks each step's batch and masked positions.
struct CkptRun {
  explicit CkptRun(std::uint64_t seed, const models::BertConfig& config = ckpt_config())
      : model(config, (manual_seed(seed), default_generator())),
        optimizer(optim::weight_decay_groups(model, 0.01), {.lr = 1e-2}),
        schedule(optim::linear_with_warmup(2, 6), optimizer),
        data(seed + 100),
        state(model, optimizer, &schedule) {
    state.add_generator("data", data);
  }
  CkptRun(const CkptRun&) = delete;  // state points at the members

  void train_step() {
    const Tensor<std::int64_t> ids = randint(1, kCkptVocab, {2, 6}, data);
    Tensor<std::int64_t> labels = Tensor<std::int64_t>::full({2, 6}, -100);
    for (Index i = 0; i < ids.numel(); ++i)
      if (i == 0 || data.uniform() < 0.3) labels.data()[i] = ids.data()[i];
    models::BertInputs inputs;
    inputs.input_ids = ids;
    const auto out = model.forward(inputs, labels);
    optimizer.zero_grad();
    out.loss.backward();
    optimizer.step();
    schedule.step();
  }

  heads::BertForMaskedLM<float> model;
  optim::AdamW<float> optimizer;
  optim::Schedule schedule;
  Generator data;
  io::TrainingState<float> state;
};

// Same keys, shapes and bytes (memcmp, so -0.0 vs 0.0 or two NaN payloads would count as different).
template <class T>
::testing::AssertionResult ckpt_bit_equal(const std::map<std::string, Tensor<T>>& a, const std::map<std::string, Tensor<T>>& b) {
  if (a.size() != b.size()) return ::testing::AssertionFailure() << a.size() << " tensors vs " << b.size();
  for (const auto& [name, ta] : a) {
    const auto it = b.find(name);
    if (it == b.end()) return ::testing::AssertionFailure() << "'" << name << "' only on the left";
    const Tensor<T> ca = ta.contiguous_data(), cb = it->second.contiguous_data();
    if (ca.shape() != cb.shape()) return ::testing::AssertionFailure() << "'" << name << "' shapes " << ca.shape() << " vs " << cb.shape();
    if (std::memcmp(ca.data(), cb.data(), static_cast<std::size_t>(ca.numel()) * sizeof(T)) != 0)
      return ::testing::AssertionFailure() << "'" << name << "' differs";
  }
  return ::testing::AssertionSuccess();
}

template <class T>
std::map<std::string, Tensor<T>> ckpt_snapshot(const std::map<std::string, Tensor<T>>& dict) {
  std::map<std::string, Tensor<T>> out;
  for (const auto& [name, t] : dict) out.emplace(name, t.clone_data());
  return out;
}

std::string ckpt_read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Writes `from` to `to` after `edit` changed its entries or metadata (the entries view `from`'s bytes).
void ckpt_rewrite(const fs::path& from, const fs::path& to,
                  const std::function<void(std::vector<io::SafetensorsEntry>&, std::map<std::string, std::string>&)>& edit) {
  const io::SafetensorsFile file = io::SafetensorsFile::open(from);
  std::vector<io::SafetensorsEntry> entries = file.entries();
  std::map<std::string, std::string> metadata = file.metadata();
  edit(entries, metadata);
  io::write_safetensors(to, entries, metadata);
}

void ckpt_drop(std::vector<io::SafetensorsEntry>& entries, const std::string& name) {
  const auto it = std::find_if(entries.begin(), entries.end(), [&](const auto& e) { return e.name == name; });
  ASSERT_NE(it, entries.end()) << name;
  entries.erase(it);
}

// A fresh directory per test, removed afterwards.
class CheckpointDisk : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() / ("foundry_ckpt_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    path_ = dir_ / "last.safetensors";
  }
  void TearDown() override {
    fs::permissions(dir_, fs::perms::owner_all, fs::perm_options::add);
    fs::remove_all(dir_);
  }
  std::vector<std::string> listing() const {
    std::vector<std::string> names;
    for (const auto& item : fs::directory_iterator(dir_)) names.push_back(item.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }
  fs::path dir_, path_;
};

TEST_F(CheckpointDisk, ResumeFromFreshObjectsIsBitIdenticalToTrainingStraight) {
  CkptRun straight(0);
  for (int i = 0; i < 6; ++i) straight.train_step();

  CkptRun first(0);
  for (int i = 0; i < 3; ++i) first.train_step();
  io::save_checkpoint(path_, first.state, 3, {{"epoch", "0"}, {"data_position", "3"}});
  for (int i = 0; i < 3; ++i) first.train_step();
  EXPECT_TRUE(ckpt_bit_equal(first.model.state_dict(), straight.model.state_dict()));  // saving changed nothing

  CkptRun resumed(42);  // other initial weights, other data and dropout streams until the load
  EXPECT_FALSE(ckpt_bit_equal(resumed.model.state_dict(), straight.model.state_dict()));
  const io::CheckpointInfo info = io::load_checkpoint(path_, resumed.state);
  EXPECT_EQ(info.step, 3);
  EXPECT_EQ(info.metadata, (std::map<std::string, std::string>{{"data_position", "3"}, {"epoch", "0"}}));
  EXPECT_EQ(resumed.optimizer.steps(), 3);
  EXPECT_EQ(resumed.schedule.last_step(), 3);
  EXPECT_EQ(resumed.optimizer.lr(0), 1e-2 * 3.0 / 4.0);  // linear decay from step 2 to 6
  for (std::int64_t step = info.step; step < 6; ++step) resumed.train_step();

  EXPECT_TRUE(ckpt_bit_equal(resumed.model.state_dict(), straight.model.state_dict()));
  EXPECT_TRUE(ckpt_bit_equal(resumed.optimizer.state_dict(), straight.optimizer.state_dict()));
  EXPECT_EQ(resumed.data.offset(), straight.data.offset());

  // The comparison is sharp: the same resume with the dropout stream one block off ends elsewhere.
  CkptRun shifted(42);
  io::load_checkpoint(path_, shifted.state);
  default_generator().set_state(default_generator().seed(), default_generator().offset() + 1);
  for (int i = 0; i < 3; ++i) shifted.train_step();
  EXPECT_FALSE(ckpt_bit_equal(shifted.model.state_dict(), straight.model.state_dict()));
}

TEST_F(CheckpointDisk, WriteFailingMidFileLeavesThePreviousCheckpointIntact) {
  CkptRun run(1);
  for (int i = 0; i < 2; ++i) run.train_step();
  io::save_checkpoint(path_, run.state, 2);
  const std::string before = ckpt_read_bytes(path_);
  const auto weights_at_2 = ckpt_snapshot(run.model.state_dict());
  run.train_step();

  io::SafetensorsWriteOptions failing;
  failing.chunk_bytes = 256;
  std::size_t reached = 0;
  failing.after_chunk = [&](std::size_t written) {
    reached = written;
    if (written >= 1024) throw IoError("disk full (simulated)");
  };
  EXPECT_THAT([&] { io::save_checkpoint(path_, run.state, 3, {}, failing); },
              ThrowsMessage<IoError>(HasSubstr("disk full (simulated)")));
  EXPECT_GT(ckpt_read_bytes(path_).size(), reached);  // the write did stop midway
  EXPECT_EQ(ckpt_read_bytes(path_), before);
  EXPECT_EQ(listing(), std::vector<std::string>{"last.safetensors"});  // no temporary file left

  CkptRun fresh(7);
  EXPECT_EQ(io::load_checkpoint(path_, fresh.state).step, 2);
  EXPECT_TRUE(ckpt_bit_equal(fresh.model.state_dict(), weights_at_2));
}

TEST_F(CheckpointDisk, UnwritableLocationsThrowIoErrorNamingThePath) {
  CkptRun run(1);
  io::save_checkpoint(path_, run.state, 0);
  const std::string before = ckpt_read_bytes(path_);

  const fs::path missing_dir = dir_ / "no_such_dir" / "last.safetensors";
  EXPECT_THAT([&] { io::save_checkpoint(missing_dir, run.state, 1); },
              ThrowsMessage<IoError>(AllOf(HasSubstr(missing_dir.string()), HasSubstr("cannot create temporary file"))));
  const fs::path under_a_file = path_ / "nested.safetensors";  // the parent is a regular file
  EXPECT_THAT([&] { io::save_checkpoint(under_a_file, run.state, 1); }, ThrowsMessage<IoError>(HasSubstr(under_a_file.string())));

  if (::geteuid() != 0) {  // root writes into read-only directories, so only others can see this fail
    fs::permissions(dir_, fs::perms::owner_read | fs::perms::owner_exec, fs::perm_options::replace);
    EXPECT_THAT([&] { io::save_checkpoint(path_, run.state, 1); }, ThrowsMessage<IoError>(HasSubstr(path_.string())));
    fs::permissions(dir_, fs::perms::owner_all, fs::perm_options::add);
  }
  EXPECT_EQ(ckpt_read_bytes(path_), before);
  EXPECT_EQ(listing(), std::vector<std::string>{"last.safetensors"});
  CkptRun fresh(7);
  EXPECT_EQ(io::load_checkpoint(path_, fresh.state).step, 0);
}

TEST_F(CheckpointDisk, CorruptOrForeignFilesThrowIoErrorNamingTheFile) {
  CkptRun run(1);
  io::save_checkpoint(path_, run.state, 5);
  const std::string bytes = ckpt_read_bytes(path_);
  const fs::path truncated = dir_ / "truncated.safetensors";
  std::ofstream(truncated, std::ios::binary) << bytes.substr(0, bytes.size() - 9);
  EXPECT_THAT([&] { io::load_checkpoint(truncated, run.state); }, ThrowsMessage<IoError>(HasSubstr(truncated.string())));

  const fs::path weights_only = dir_ / "weights.safetensors";
  io::save_module(run.model, weights_only);
  EXPECT_THAT([&] { io::load_checkpoint(weights_only, run.state); },
              ThrowsMessage<IoError>(AllOf(HasSubstr(weights_only.string()), HasSubstr("not a foundry training checkpoint"))));
  EXPECT_THAT([&] { io::load_checkpoint(dir_ / "absent.safetensors", run.state); },
              ThrowsMessage<IoError>(HasSubstr("absent.safetensors")));

  const fs::path float_step = dir_ / "float_step.safetensors";
  const float five = 5.0f;
  ckpt_rewrite(path_, float_step, [&](auto& entries, auto&) {
    for (auto& e : entries)
      if (e.name == "step") e = {"step", io::Dtype::F32, {}, std::as_bytes(std::span<const float>(&five, 1))};
  });
  EXPECT_THAT([&] { io::load_checkpoint(float_step, run.state); },
              ThrowsMessage<IoError>(AllOf(HasSubstr(float_step.string()), HasSubstr("'step' must be I64 of shape []"))));
}

TEST_F(CheckpointDisk, ModelMismatchNamesFileAndKeyAndChangesNothing) {
  CkptRun one_layer(1);
  one_layer.train_step();
  io::save_checkpoint(path_, one_layer.state, 1);

  CkptRun two_layers(2, ckpt_config(/*layers=*/2));
  const auto weights = ckpt_snapshot(two_layers.model.state_dict());
  const auto rng = std::pair{default_generator().seed(), default_generator().offset()};
  EXPECT_THAT([&] { io::load_checkpoint(path_, two_layers.state); },
              ThrowsMessage<ValueError>(AllOf(HasSubstr("load_checkpoint: '" + path_.string() + "'"),
                                              HasSubstr("missing 'model.bert.encoder.layer.1.attention.output.LayerNorm.bias'"))));
  EXPECT_TRUE(ckpt_bit_equal(two_layers.model.state_dict(), weights));
  EXPECT_EQ(two_layers.optimizer.steps(), 0);
  EXPECT_EQ(two_layers.schedule.last_step(), 0);
  EXPECT_EQ(std::pair(default_generator().seed(), default_generator().offset()), rng);
  EXPECT_EQ(two_layers.data.offset(), 0u);

  const fs::path deeper = dir_ / "deeper.safetensors";
  io::save_checkpoint(deeper, two_layers.state, 0);
  EXPECT_THAT([&] { io::load_checkpoint(deeper, one_layer.state); },
              ThrowsMessage<ValueError>(HasSubstr("unexpected 'model.bert.encoder.layer.1.attention.output.LayerNorm.bias'")));

  CkptRun wider_vocab(3, ckpt_config(1, kCkptVocab + 1));
  EXPECT_THAT([&] { io::load_checkpoint(path_, wider_vocab.state); },
              ThrowsMessage<ShapeError>(AllOf(HasSubstr(path_.string()), HasSubstr("'model.bert.embeddings.word_embeddings.weight' has "
                                                                                   "shape [13, 8] in the checkpoint but [14, 8] in the model"))));
}

TEST_F(CheckpointDisk, OptimizerScheduleGeneratorAndDtypeMismatchesAreNamed) {
  CkptRun run(1);
  run.train_step();
  io::save_checkpoint(path_, run.state, 1);

  optim::Sgd<float> sgd(run.model.parameters(), {.lr = 0.1});
  io::TrainingState with_sgd(run.model, sgd);  // T deduced through the derived classes
  static_assert(std::is_same_v<decltype(with_sgd), io::TrainingState<float>>);
  with_sgd.add_generator("data", run.data);
  EXPECT_THAT([&] { io::load_checkpoint(path_, with_sgd); },
              ThrowsMessage<ValueError>(HasSubstr("written by optimizer AdamW but the optimizer is Sgd")));

  io::TrainingState<float> no_schedule(run.model, run.optimizer);
  no_schedule.add_generator("data", run.data);
  EXPECT_THAT([&] { io::load_checkpoint(path_, no_schedule); },
              ThrowsMessage<ValueError>(HasSubstr("holds schedule state ('schedule.base_lr.0', ...) but no schedule was given")));
  const fs::path unscheduled = dir_ / "unscheduled.safetensors";
  io::save_checkpoint(unscheduled, no_schedule, 1);
  EXPECT_THAT([&] { io::load_checkpoint(unscheduled, run.state); },
              ThrowsMessage<ValueError>(HasSubstr("a schedule was given but the checkpoint holds no schedule state")));

  io::TrainingState<float> without_data(run.model, run.optimizer, &run.schedule);
  EXPECT_THAT([&] { io::load_checkpoint(path_, without_data); },
              ThrowsMessage<ValueError>(HasSubstr("unexpected key 'rng.data' (register that generator with add_generator(\"data\"")));
  Generator noise(9);
  io::TrainingState<float> extra(run.model, run.optimizer, &run.schedule);
  extra.add_generator("data", run.data).add_generator("noise", noise);
  EXPECT_THAT([&] { io::load_checkpoint(path_, extra); }, ThrowsMessage<ValueError>(HasSubstr("missing key 'rng.noise'")));
  Generator other(3);
  EXPECT_THAT([&] { extra.add_generator("noise", other); },
              ThrowsMessage<ValueError>(HasSubstr("a generator named 'noise' is already registered")));
  EXPECT_THAT([&] { extra.add_generator("model", default_generator()); },
              ThrowsMessage<ValueError>(HasSubstr("this generator is already registered as 'default'")));

  nn::Linear<double> linear64(2, 3, true, run.data);
  optim::Sgd<double> sgd64(linear64.parameters(), {.lr = 0.1});
  io::TrainingState<double> state64(linear64, sgd64);
  const fs::path doubles = dir_ / "doubles.safetensors";
  io::save_checkpoint(doubles, state64, 0);
  nn::Linear<float> linear32(2, 3, true, run.data);
  optim::Sgd<float> sgd32(linear32.parameters(), {.lr = 0.1});
  io::TrainingState<float> state32(linear32, sgd32);
  EXPECT_THAT([&] { io::load_checkpoint(doubles, state32); },
              ThrowsMessage<ValueError>(HasSubstr("written from a model of F64 but the model is F32")));
}

TEST_F(CheckpointDisk, EditedOptimizerOrScheduleStateIsRejectedWithoutChangingAnything) {
  CkptRun run(1);
  for (int i = 0; i < 3; ++i) run.train_step();
  io::save_checkpoint(path_, run.state, 3);

  CkptRun fresh(4);
  const auto weights = ckpt_snapshot(fresh.model.state_dict());
  const double lr = fresh.optimizer.lr(0);
  const auto expect_untouched = [&] {
    EXPECT_TRUE(ckpt_bit_equal(fresh.model.state_dict(), weights));
    EXPECT_EQ(fresh.optimizer.steps(), 0);
    EXPECT_EQ(fresh.optimizer.lr(0), lr);
    EXPECT_EQ(fresh.schedule.last_step(), 0);
    EXPECT_EQ(fresh.data.offset(), 0u);
  };

  const fs::path no_base_lr = dir_ / "no_base_lr.safetensors";
  ckpt_rewrite(path_, no_base_lr, [](auto& entries, auto&) { ckpt_drop(entries, "schedule.base_lr.1"); });
  EXPECT_THAT([&] { io::load_checkpoint(no_base_lr, fresh.state); },
              ThrowsMessage<ValueError>(AllOf(HasSubstr(no_base_lr.string()), HasSubstr("keys 'schedule.*'"),
                                              HasSubstr("missing key 'base_lr.1'"))));
  expect_untouched();

  // The schedule's part is fine here, so its rate reached the optimizer before the optimizer refused.
  const fs::path no_exp_avg = dir_ / "no_exp_avg.safetensors";
  ckpt_rewrite(path_, no_exp_avg, [](auto& entries, auto&) { ckpt_drop(entries, "optimizer.state.0.0.exp_avg"); });
  EXPECT_THAT([&] { io::load_checkpoint(no_exp_avg, fresh.state); },
              ThrowsMessage<ValueError>(AllOf(HasSubstr(no_exp_avg.string()), HasSubstr("keys 'optimizer.*'"),
                                              HasSubstr("missing key 'state.0.0.exp_avg'"))));
  expect_untouched();

  const fs::path stray = dir_ / "stray.safetensors";
  const std::int64_t one = 1;
  ckpt_rewrite(path_, stray, [&](auto& entries, auto&) {
    entries.push_back({"epoch", io::Dtype::I64, {}, std::as_bytes(std::span<const std::int64_t>(&one, 1))});
  });
  EXPECT_THAT([&] { io::load_checkpoint(stray, fresh.state); }, ThrowsMessage<ValueError>(HasSubstr("unexpected key 'epoch'")));
  expect_untouched();

  EXPECT_EQ(io::load_checkpoint(path_, fresh.state).step, 3);  // the unedited file still loads
  EXPECT_TRUE(ckpt_bit_equal(fresh.model.state_dict(), run.model.state_dict()));
}

TEST_F(CheckpointDisk, SaveRejectsReservedMetadataAndNegativeStepsBeforeWriting) {
  CkptRun run(1);
  EXPECT_THAT([&] { io::save_checkpoint(path_, run.state, 0, {{"foundry.format", "mine"}}); },
              ThrowsMessage<ValueError>(HasSubstr("metadata key 'foundry.format' uses the reserved prefix 'foundry.'")));
  EXPECT_THAT([&] { io::save_checkpoint(path_, run.state, -1); },
              ThrowsMessage<ValueError>(HasSubstr("step must be >= 0, got -1")));
  EXPECT_TRUE(listing().empty());
}

}  // namespace
}  // namespace foundry::checkpoint_test
