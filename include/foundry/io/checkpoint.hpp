// io/checkpoint.hpp: training checkpoints: everything a run needs to stop and later continue
// bit-identically (model, optimizer, schedule, global step, random generators, the caller's notes)
// in ONE safetensors file, written atomically. Weights alone, for inference or sharing, are
// module_io.hpp's and pretrained.hpp's job; this file never guesses names or converts dtypes.
//
//   io::TrainingState state(model, optimizer, &schedule);  // the default generator is always included
//   state.add_generator("data", shuffle_rng);               // and any other generator the run draws from
//   io::save_checkpoint("run/last.safetensors", state, step, {{"epoch", "2"}, {"batch", "1500"}});
//   ...  // later, in a new process, with freshly built model / optimizer / schedule / generators:
//   io::CheckpointInfo info = io::load_checkpoint("run/last.safetensors", state);
//   for (std::int64_t step = info.step; step < total; ++step) { ... }
//
// The file's keys: model.<parameter path> (Module::state_dict), optimizer.<key> (Optimizer::state_dict),
// schedule.<key> (Schedule::state_dict, present exactly when a schedule is given), step (I64 []),
// rng.<name> (I64 [2]: seed and offset, bit patterns of the uint64s). Float tensors are stored in the
// model's T. The __metadata__ holds the caller's strings plus foundry.format, foundry.dtype and
// foundry.optimizer, which are checked on load.
#pragma once

#include <bit>
#include <cstdint>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "foundry/core/generator.hpp"
#include "foundry/io/tensor_file.hpp"
#include "foundry/nn/module.hpp"
#include "foundry/optim/optimizer.hpp"
#include "foundry/optim/schedule.hpp"

namespace foundry::io {

inline constexpr std::string_view kCheckpointFormat = "foundry.training_checkpoint.v1";

// What a training run consists of, by reference: the objects must outlive the TrainingState. Build it
// once beside the training loop and pass it to every save and to the load that resumes the run.
template <class T>
class TrainingState {
 public:
  // schedule may be null (a run without one); the default generator is registered as "default".
  TrainingState(nn::Module<T>& model, optim::Optimizer<T>& optimizer, optim::Schedule* schedule = nullptr)
      : model_(&model), optimizer_(&optimizer), schedule_(schedule) {
    generators_.emplace("default", &default_generator());
  }

  // Another generator to save and restore under `name` (a data shuffler, a model built with its own).
  TrainingState& add_generator(const std::string& name, Generator& generator) {
    if (name.empty()) foundry::detail::fail<ValueError>("TrainingState::add_generator: the name is empty");
    if (generators_.count(name))
      foundry::detail::fail<ValueError>("TrainingState::add_generator: a generator named '", name, "' is already registered");
    for (const auto& [other, g] : generators_)
      if (g == &generator)
        foundry::detail::fail<ValueError>("TrainingState::add_generator: this generator is already registered as '", other,
                                          "' (one generator, one name)");
    generators_.emplace(name, &generator);
    return *this;
  }

  nn::Module<T>& model() const { return *model_; }
  optim::Optimizer<T>& optimizer() const { return *optimizer_; }
  optim::Schedule* schedule() const { return schedule_; }
  const std::map<std::string, Generator*>& generators() const { return generators_; }

 private:
  nn::Module<T>* model_;
  optim::Optimizer<T>* optimizer_;
  optim::Schedule* schedule_;
  std::map<std::string, Generator*> generators_;
};

// What load_checkpoint hands back besides the restored objects.
struct CheckpointInfo {
  std::int64_t step = 0;                        // as passed to save_checkpoint
  std::map<std::string, std::string> metadata;  // the caller's pairs, without foundry.* keys
};

namespace detail {

inline constexpr std::string_view kReservedMetadataPrefix = "foundry.";

// Owns the bytes that the entries of one checkpoint view.
struct CheckpointEntries {
  std::vector<std::vector<std::byte>> buffers;
  std::vector<SafetensorsEntry> entries;

  template <class E>
  void add(std::string name, Dtype dtype, std::vector<std::int64_t> shape, const E* values, std::size_t count) {
    const auto* p = reinterpret_cast<const std::byte*>(values);
    buffers.emplace_back(p, p + count * sizeof(E));
    entries.push_back({std::move(name), dtype, std::move(shape), {}});
  }
  template <class T>
  void add_tensors(const std::string& prefix, const std::map<std::string, Tensor<T>>& tensors) {
    for (const auto& [name, t] : tensors) {
      const Tensor<T> c = t.contiguous_data();
      add(prefix + name, dtype_of<T>(), c.shape().to_vector(), c.data(), static_cast<std::size_t>(c.numel()));
    }
  }
  // Points each entry at its buffer once no more buffers are added (the vector may have moved them).
  std::span<const SafetensorsEntry> finish() {
    for (std::size_t i = 0; i < entries.size(); ++i) entries[i].data = buffers[i];
    return entries;
  }
};

// "'a', 'b', 'c' (and 4 more)": keys for a message, cut short when there are many.
inline std::string quoted_keys(const std::vector<std::string>& keys, std::size_t limit = 5) {
  std::string s;
  for (std::size_t i = 0; i < keys.size() && i < limit; ++i) s += (i ? ", '" : "'") + keys[i] + "'";
  if (keys.size() > limit) s += " (and " + std::to_string(keys.size() - limit) + " more)";
  return s;
}

}  // namespace detail

// Writes the whole training state and `step` to `path` atomically: through a temporary file that is
// flushed, fsync'ed and renamed over `path`, so a crash or a full disk mid-write leaves the previous
// checkpoint byte-identical (see write_safetensors; `options` carries its fault hook for tests).
// metadata keys starting with "foundry." are reserved and throw ValueError.
template <class T>
void save_checkpoint(const std::filesystem::path& path, const TrainingState<T>& state, std::int64_t step,
                     const std::map<std::string, std::string>& metadata = {}, const SafetensorsWriteOptions& options = {}) {
  if (step < 0) foundry::detail::fail<ValueError>("save_checkpoint: '", path.string(), "': step must be >= 0, got ", step);
  std::map<std::string, std::string> meta;
  for (const auto& [key, value] : metadata) {
    if (key.starts_with(detail::kReservedMetadataPrefix))
      foundry::detail::fail<ValueError>("save_checkpoint: '", path.string(), "': metadata key '", key,
                                        "' uses the reserved prefix 'foundry.'");
    meta.emplace(key, value);
  }
  meta.emplace("foundry.format", std::string(kCheckpointFormat));
  meta.emplace("foundry.dtype", std::string(dtype_name(dtype_of<T>())));
  meta.emplace("foundry.optimizer", state.optimizer().type_name());

  detail::CheckpointEntries out;
  out.add_tensors("model.", state.model().state_dict());
  out.add_tensors("optimizer.", state.optimizer().state_dict());
  if (state.schedule() != nullptr) out.add_tensors("schedule.", state.schedule()->template state_dict<T>());
  out.add("step", Dtype::I64, {}, &step, 1);
  for (const auto& [name, gen] : state.generators()) {
    const std::int64_t seed_offset[2] = {std::bit_cast<std::int64_t>(gen->seed()), std::bit_cast<std::int64_t>(gen->offset())};
    out.add("rng." + name, Dtype::I64, {2}, seed_offset, 2);
  }
  write_safetensors(path, out.finish(), meta, options);
}

// Restores a checkpoint written by save_checkpoint into `state` (typically freshly built objects of the
// same configuration) and returns its step and metadata. Everything is checked before anything changes:
// a malformed file throws IoError; a checkpoint that does not fit the objects (missing or unexpected
// key, other dtype or optimizer type, schedule or generator present on one side only) throws ValueError,
// and a shape mismatch ShapeError; each message names the file and the key. On any error the model,
// optimizer, schedule and generators are left as they were.
template <class T>
CheckpointInfo load_checkpoint(const std::filesystem::path& path, const TrainingState<T>& state) {
  const SafetensorsFile file = SafetensorsFile::open(path);
  const std::string where = "load_checkpoint: '" + path.string() + "': ";
  const auto& meta = file.metadata();
  const auto meta_value = [&](const std::string& key) {
    const auto it = meta.find(key);
    return it == meta.end() ? std::string() : it->second;
  };

  const std::string format = meta_value("foundry.format");
  if (format != kCheckpointFormat)
    foundry::detail::fail<IoError>(where, "not a foundry training checkpoint (__metadata__ 'foundry.format' is ",
                                   format.empty() ? std::string("absent") : "'" + format + "'", ", expected '",
                                   kCheckpointFormat, "'); weights alone load with io::load_module");
  const std::string dtype = meta_value("foundry.dtype");
  if (dtype != dtype_name(dtype_of<T>()))
    foundry::detail::fail<ValueError>(where, "written from a model of ", dtype, " but the model is ", dtype_of<T>());
  const std::string optimizer_type = meta_value("foundry.optimizer");
  if (optimizer_type != state.optimizer().type_name())
    foundry::detail::fail<ValueError>(where, "written by optimizer ", optimizer_type, " but the optimizer is ",
                                      state.optimizer().type_name());

  // Sort the entries into their sections; anything else is unexpected.
  std::map<std::string, Tensor<T>> model_dict, optimizer_dict, schedule_dict;
  std::map<std::string, const SafetensorsEntry*> rng_entries;
  const SafetensorsEntry* step_entry = nullptr;
  for (const SafetensorsEntry& e : file.entries()) {
    std::map<std::string, Tensor<T>>* section = nullptr;
    std::string_view name = e.name;
    for (auto [prefix, dict] : {std::pair{std::string_view("model."), &model_dict},
                                std::pair{std::string_view("optimizer."), &optimizer_dict},
                                std::pair{std::string_view("schedule."), &schedule_dict}}) {
      if (name.starts_with(prefix)) {
        section = dict;
        name.remove_prefix(prefix.size());
        break;
      }
    }
    if (section != nullptr) {
      if (e.dtype != dtype_of<T>())
        foundry::detail::fail<ValueError>(where, "tensor '", e.name, "' is ", e.dtype, " but the model is ", dtype_of<T>());
      section->emplace(std::string(name), to_tensor<T>(e, file.source()));
    } else if (e.name == "step") {
      step_entry = &e;
    } else if (e.name.starts_with("rng.")) {
      rng_entries.emplace(e.name.substr(4), &e);
    } else {
      foundry::detail::fail<ValueError>(where, "unexpected key '", e.name,
                                        "' (keys are model.*, optimizer.*, schedule.*, step and rng.*)");
    }
  }

  const auto read_i64 = [&](const SafetensorsEntry& e, const std::vector<std::int64_t>& shape) {
    if (e.dtype != Dtype::I64 || e.shape != shape)
      foundry::detail::fail<IoError>(where, "'", e.name, "' must be I64 of shape ", foundry::io::detail::format_dims(shape),
                                     ", got ", e.dtype, " of shape ", foundry::io::detail::format_dims(e.shape));
    return copy_values<std::int64_t>(e);
  };
  if (step_entry == nullptr) foundry::detail::fail<ValueError>(where, "missing key 'step'");
  const std::int64_t step = read_i64(*step_entry, {})[0];
  if (step < 0) foundry::detail::fail<IoError>(where, "'step' is ", step, ", expected a count >= 0");

  // Generators: exactly the registered ones.
  std::map<Generator*, std::pair<std::uint64_t, std::uint64_t>> rng_states;
  for (const auto& [name, gen] : state.generators()) {
    const auto it = rng_entries.find(name);
    if (it == rng_entries.end())
      foundry::detail::fail<ValueError>(where, "missing key 'rng.", name, "' (generator '", name,
                                        "' is registered but the checkpoint has no state for it)");
    const std::vector<std::int64_t> v = read_i64(*it->second, {2});
    rng_states[gen] = {std::bit_cast<std::uint64_t>(v[0]), std::bit_cast<std::uint64_t>(v[1])};
  }
  for (const auto& [name, e] : rng_entries)
    if (!state.generators().count(name))
      foundry::detail::fail<ValueError>(where, "unexpected key 'rng.", name, "' (register that generator with add_generator(\"",
                                        name, "\", ...) to restore it)");

  // Model: every key and shape, before copying anything.
  std::vector<std::string> missing, unexpected;
  const std::map<std::string, Tensor<T>> current = state.model().state_dict();
  for (const auto& [name, t] : current) {
    const auto it = model_dict.find(name);
    if (it == model_dict.end()) {
      missing.push_back("model." + name);
    } else if (it->second.shape() != t.shape()) {
      foundry::detail::fail<ShapeError>(where, "'model.", name, "' has shape ", it->second.shape(),
                                        " in the checkpoint but ", t.shape(), " in the model");
    }
  }
  for (const auto& [name, t] : model_dict)
    if (!current.count(name)) unexpected.push_back("model." + name);
  if (!missing.empty() || !unexpected.empty()) {
    std::string msg = where + "the checkpoint does not match the model " + state.model().type_name() + ":";
    if (!missing.empty()) msg += " missing " + detail::quoted_keys(missing) + ";";
    if (!unexpected.empty()) msg += " unexpected " + detail::quoted_keys(unexpected) + ";";
    msg.pop_back();
    throw ValueError(msg);
  }

  if (state.schedule() == nullptr && !schedule_dict.empty())
    foundry::detail::fail<ValueError>(where, "holds schedule state ('schedule.", schedule_dict.begin()->first,
                                      "', ...) but no schedule was given");
  if (state.schedule() != nullptr && schedule_dict.empty())
    foundry::detail::fail<ValueError>(where, "a schedule was given but the checkpoint holds no schedule state (keys 'schedule.*')");

  // The schedule and the optimizer check their own keys and change nothing when they throw. The
  // schedule is tried on a copy first: loading re-applies its rate to the optimizer, which is undone
  // until the optimizer has accepted its part, so a failure anywhere leaves both as they were.
  if (optim::Schedule* schedule = state.schedule()) {
    std::vector<double> lrs;
    for (std::size_t g = 0; g < state.optimizer().num_groups(); ++g) lrs.push_back(state.optimizer().lr(g));
    optim::Schedule probe = *schedule;
    try {
      probe.load_state_dict(schedule_dict);
    } catch (const ValueError& e) {
      throw ValueError(where + "keys 'schedule.*': " + e.what());
    }
    for (std::size_t g = 0; g < lrs.size(); ++g) state.optimizer().set_lr(g, lrs[g]);
  }
  try {
    state.optimizer().load_state_dict(optimizer_dict);
  } catch (const ValueError& e) {
    throw ValueError(where + "keys 'optimizer.*': " + e.what());
  }
  if (state.schedule() != nullptr) state.schedule()->load_state_dict(schedule_dict);  // passed on the copy
  state.model().load_state_dict(model_dict, /*strict=*/true);  // cannot fail: checked above
  for (const auto& [gen, seed_offset] : rng_states) gen->set_state(seed_offset.first, seed_offset.second);

  CheckpointInfo info;
  info.step = step;
  for (const auto& [key, value] : meta)
    if (!key.starts_with(detail::kReservedMetadataPrefix)) info.metadata.emplace(key, value);
  return info;
}

}  // namespace foundry::io
