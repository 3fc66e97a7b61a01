// examples/fill_mask.cpp: Hugging Face's fill-mask pipeline from the command line. Loads a model
// directory in HF's layout (config.json, model.safetensors, vocab.txt, and tokenizer_config.json's
// do_lower_case when present) into BertForMaskedLM and prints, for every [MASK] of each text, the
// top-k tokens with their probabilities. --json prints what the pipeline returns, as one JSON array:
// per text a list of {score, token, token_str, sequence}, or a list of such lists when the text has
// several masks; several texts give a list of those.
//   build/examples/fill_mask --model DIR [--top-k 5] [--json] "the capital of france is [MASK]." ...
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <foundry/foundry.hpp>
#include <foundry/text/bert_tokenizer.hpp>

using namespace foundry;
namespace fs = std::filesystem;

namespace {

constexpr const char* kUsage =
    "usage: fill_mask --model DIR [--top-k N] [--json] TEXT [TEXT...]\n"
    "  DIR holds config.json, model.safetensors and vocab.txt (a Hugging Face BERT directory);\n"
    "  each TEXT contains [MASK] at least once.\n";

struct Args {
  fs::path model;
  Index top_k = 5;
  bool json = false;
  std::vector<std::string> texts;
};

// Parses argv; on a mistake prints why and the usage, and returns false.
bool parse_args(int argc, char** argv, Args& args) {
  bool flags_done = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (flags_done || arg.empty() || arg[0] != '-' || arg == "-") {
      args.texts.push_back(arg);
      continue;
    }
    const auto value = [&]() -> const char* {
      if (i + 1 >= argc) return nullptr;
      return argv[++i];
    };
    if (arg == "--") {
      flags_done = true;
    } else if (arg == "--json") {
      args.json = true;
    } else if (arg == "--model") {
      const char* v = value();
      if (v == nullptr) return std::cerr << "fill_mask: --model needs a directory\n" << kUsage, false;
      args.model = v;
    } else if (arg == "--top-k") {
      const char* v = value();
      const std::string_view s = v ? v : "";
      const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), args.top_k);
      if (v == nullptr || ec != std::errc() || end != s.data() + s.size() || args.top_k < 1)
        return std::cerr << "fill_mask: --top-k needs a whole number >= 1, got '" << s << "'\n" << kUsage, false;
    } else if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      std::exit(0);
    } else {
      return std::cerr << "fill_mask: unknown flag " << arg << "\n" << kUsage, false;
    }
  }
  if (args.model.empty()) return std::cerr << "fill_mask: --model DIR is required\n" << kUsage, false;
  if (args.texts.empty()) return std::cerr << "fill_mask: no text given\n" << kUsage, false;
  return true;
}

// do_lower_case from tokenizer_config.json when the directory has one; uncased (true) otherwise, as
// HF's BertTokenizer defaults.
bool read_do_lower_case(const fs::path& dir) {
  const fs::path path = dir / "tokenizer_config.json";
  if (!fs::exists(path)) return true;
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return io::Json::parse(text.str(), path.string()).get_or("do_lower_case", true);
}

io::Json to_json(const std::vector<heads::FillMaskCandidate>& candidates) {
  io::Json::Array list;
  for (const auto& c : candidates)
    list.emplace_back(io::Json::Object{{"score", c.score}, {"token", c.token}, {"token_str", c.token_str}, {"sequence", c.sequence}});
  return list;
}

// HF's shapes: one mask -> a list of candidates; several -> a list of such lists.
io::Json to_json(const std::vector<std::vector<heads::FillMaskCandidate>>& masks) {
  if (masks.size() == 1) return to_json(masks[0]);
  io::Json::Array list;
  for (const auto& m : masks) list.push_back(to_json(m));
  return list;
}

void print_table(const std::string& text, const std::vector<std::vector<heads::FillMaskCandidate>>& masks) {
  std::cout << text << "\n";
  for (std::size_t m = 0; m < masks.size(); ++m) {
    if (masks.size() > 1) std::cout << "  mask " << m + 1 << " of " << masks.size() << "\n";
    std::cout << "  " << std::left << std::setw(8) << "score" << std::right << std::setw(7) << "token" << "  "
              << std::left << std::setw(14) << "token_str" << "sequence\n";
    for (const auto& c : masks[m])
      std::cout << "  " << std::left << std::fixed << std::setprecision(4) << std::setw(8) << c.score << std::right
                << std::setw(7) << c.token << "  " << std::left << std::setw(14) << c.token_str << c.sequence << "\n";
  }
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  if (!parse_args(argc, argv, args)) return 2;
  try {
    if (!fs::is_directory(args.model)) {
      std::cerr << "fill_mask: model directory '" << args.model.string() << "' does not exist or is not a directory\n";
      return 1;
    }
    const fs::path vocab = args.model / "vocab.txt";
    if (!fs::exists(vocab)) {
      std::cerr << "fill_mask: '" << vocab.string() << "' not found; the model directory needs the tokenizer's vocabulary\n";
      return 1;
    }
    const models::BertConfig config = io::read_bert_config(args.model);
    heads::BertForMaskedLM<float> model(config);
    io::load_pretrained_weights(model, args.model, /*verbose=*/true);  // HF-style warnings on stderr
    model.eval();
    const text::BertTokenizer tokenizer = text::BertTokenizer::from_file(vocab, {.lowercase = read_do_lower_case(args.model)});
    if (tokenizer.vocab().size() > config.vocab_size) {
      std::cerr << "fill_mask: vocab.txt has " << tokenizer.vocab().size() << " tokens but the model only "
                << config.vocab_size << " (config.json vocab_size)\n";
      return 1;
    }

    // Every text first, so a text without [MASK] fails before anything is printed.
    std::vector<std::vector<std::vector<heads::FillMaskCandidate>>> results;
    for (const std::string& text : args.texts) results.push_back(heads::fill_mask(model, tokenizer, text, {.top_k = args.top_k}));

    if (args.json) {
      io::Json::Array out;
      for (const auto& r : results) out.push_back(to_json(r));
      std::cout << (results.size() == 1 ? out[0] : io::Json(std::move(out))).dump(2) << "\n";
    } else {
      for (std::size_t t = 0; t < results.size(); ++t) {
        if (t > 0) std::cout << "\n";
        print_table(args.texts[t], results[t]);
      }
    }
  } catch (const std::exception& e) {
    std::cerr << (std::string_view(e.what()).starts_with("fill_mask:") ? "" : "fill_mask: ") << e.what() << "\n";
    return 1;
  }
  return 0;
}
