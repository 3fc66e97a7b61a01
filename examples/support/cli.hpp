// examples/support/cli.hpp: what the example programs share and the library does not need:
// command-line flags, JSON-lines metric logs, a progress line, and Ctrl-C handling.
//
//   examples::Flags flags("finetune_classifier", "Fine-tunes a BERT sequence classifier.");
//   std::string train;  flags.add("--train", train, "FILE.tsv", "labelled examples (label<TAB>text)");
//   int epochs = 3;     flags.add("--epochs", epochs, "N", "passes over the training set");
//   bool scratch = false; flags.add("--from-scratch", scratch, "", "random initialisation");
//   flags.parse(argc, argv);  // --help prints the usage; a bad flag prints it and exits with 2
#pragma once

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include <foundry/io/json.hpp>

namespace examples {

class Flags {
 public:
  Flags(std::string program, std::string summary) : program_(std::move(program)), summary_(std::move(summary)) {}

  // A flag bound to a variable whose current value is the default. bool flags are switches.
  template <class V>
  void add(std::string name, V& target, std::string value_name, std::string help) {
    flags_.push_back({std::move(name), Target(&target), std::move(value_name), std::move(help), describe(target)});
  }

  void parse(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
      std::string arg = argv[i];
      if (arg == "--help" || arg == "-h") {
        usage(std::cout);
        std::exit(0);
      }
      if (!arg.starts_with("--") || arg == "--") {
        positional_.push_back(arg);
        continue;
      }
      std::string value;
      bool has_value = false;
      if (const auto eq = arg.find('='); eq != std::string::npos) {
        value = arg.substr(eq + 1);
        arg = arg.substr(0, eq);
        has_value = true;
      }
      Flag* flag = find(arg);
      if (flag == nullptr) die("unknown flag '" + arg + "'");
      if (auto* b = std::get_if<bool*>(&flag->target)) {
        if (has_value) die("flag '" + arg + "' takes no value");
        **b = true;
        continue;
      }
      if (!has_value) {
        if (i + 1 >= argc) die("flag '" + arg + "' needs a value (" + flag->value_name + ")");
        value = argv[++i];
      }
      assign(*flag, value);
      flag->seen = true;
    }
  }

  bool seen(const std::string& name) const {
    for (const auto& f : flags_)
      if (f.name == name) return f.seen;
    return false;
  }
  const std::vector<std::string>& positional() const { return positional_; }

  [[noreturn]] void die(const std::string& message) const {
    std::cerr << program_ << ": " << message << "\n\n";
    usage(std::cerr);
    std::exit(2);
  }

  void usage(std::ostream& os) const {
    os << "usage: " << program_ << " [flags]\n" << summary_ << "\n\nflags:\n";
    for (const auto& f : flags_) {
      std::string head = "  " + f.name + (f.value_name.empty() ? "" : " " + f.value_name);
      os << std::left << std::setw(34) << head << " " << f.help;
      if (!f.default_text.empty()) os << " (default " << f.default_text << ")";
      os << "\n";
    }
  }

 private:
  using Target = std::variant<std::string*, int*, std::int64_t*, double*, bool*, std::vector<std::string>*>;
  struct Flag {
    std::string name;
    Target target;
    std::string value_name, help, default_text;
    bool seen = false;
  };

  template <class V>
  static std::string describe(const V& v) {
    if constexpr (std::is_same_v<V, bool>) {
      return "";
    } else if constexpr (std::is_same_v<V, std::string>) {
      return v.empty() ? "" : "'" + v + "'";
    } else if constexpr (std::is_same_v<V, std::vector<std::string>>) {
      return "";
    } else {
      std::ostringstream os;
      os << v;
      return os.str();
    }
  }

  Flag* find(const std::string& name) {
    for (auto& f : flags_)
      if (f.name == name) return &f;
    return nullptr;
  }

  void assign(Flag& flag, const std::string& value) {
    const auto bad = [&](const char* what) { die("flag '" + flag.name + "' wants " + what + ", got '" + value + "'"); };
    std::visit(
        [&](auto* target) {
          using V = std::remove_pointer_t<decltype(target)>;
          if constexpr (std::is_same_v<V, std::string>) {
            *target = value;
          } else if constexpr (std::is_same_v<V, std::vector<std::string>>) {
            target->push_back(value);  // repeatable: --corpus a.txt --corpus b.txt
          } else if constexpr (std::is_same_v<V, bool>) {
            *target = true;
          } else {
            std::size_t used = 0;
            try {
              if constexpr (std::is_same_v<V, double>) {
                *target = std::stod(value, &used);
              } else {
                const long long parsed = std::stoll(value, &used);
                if (parsed < std::numeric_limits<V>::min() || parsed > std::numeric_limits<V>::max()) bad("a smaller number");
                *target = static_cast<V>(parsed);
              }
            } catch (const std::logic_error&) {
              used = 0;
            }
            if (used != value.size() || value.empty()) bad(std::is_same_v<V, double> ? "a number" : "a whole number");
          }
        },
        flag.target);
  }

  std::string program_, summary_;
  std::vector<Flag> flags_;
  std::vector<std::string> positional_;
};

// One JSON object per line, flushed at once so that a crash keeps what was logged. No path: no log.
class JsonLog {
 public:
  explicit JsonLog(const std::string& path) {
    if (path.empty()) return;
    if (const auto parent = std::filesystem::path(path).parent_path(); !parent.empty()) std::filesystem::create_directories(parent);
    out_.open(path, std::ios::app);
    if (!out_) throw std::runtime_error("cannot open log file '" + path + "'");
  }
  void write(const foundry::io::Json& record) {
    if (!out_.is_open()) return;
    out_ << record.dump() << "\n";
    out_.flush();
  }

 private:
  std::ofstream out_;
};

inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

inline std::string format_duration(double seconds) {
  if (!(seconds >= 0) || seconds > 1e7) return "--:--";
  const auto s = static_cast<long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%02ld:%02ld", s / 60, s % 60);
  }
  return buf;
}

// A progress bar redrawn in place when stdout is a terminal; otherwise one plain line every
// `every` steps (and at the last), which is what a log file or CI wants.
class Progress {
 public:
  Progress(std::int64_t total, std::int64_t every, std::int64_t first = 0)
      : total_(total), every_(std::max<std::int64_t>(every, 1)), first_(first), tty_(isatty(fileno(stdout)) != 0),
        start_(std::chrono::steady_clock::now()) {}

  // step: 1-based count of finished steps; `text` is appended ("loss 3.21 | 5,400 tok/s").
  void update(std::int64_t step, const std::string& text) {
    const double elapsed = seconds_since(start_);
    const double rate = static_cast<double>(step - first_) / std::max(elapsed, 1e-9);
    const double eta = rate > 0 ? static_cast<double>(total_ - step) / rate : -1;
    std::ostringstream line;
    if (tty_) {
      constexpr int width = 24;
      const int filled = total_ > 0 ? static_cast<int>(width * step / total_) : 0;
      line << "\r[" << std::string(static_cast<std::size_t>(filled), '#') << std::string(static_cast<std::size_t>(width - filled), '.')
           << "] " << step << "/" << total_ << " | " << text << " | " << format_duration(elapsed) << " < " << format_duration(eta)
           << "   ";
      std::cout << line.str() << std::flush;
      drawn_ = true;
    } else if (step % every_ == 0 || step == total_) {
      line << "step " << step << "/" << total_ << " | " << text << " | elapsed " << format_duration(elapsed) << " | eta "
           << format_duration(eta) << "\n";
      std::cout << line.str() << std::flush;
    }
  }
  // Ends the in-place line before other output.
  void break_line() {
    if (drawn_) std::cout << "\n";
    drawn_ = false;
  }

 private:
  std::int64_t total_, every_, first_;
  bool tty_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_;
};

// Ctrl-C (SIGINT) or SIGTERM sets a flag the training loop polls so it can save and exit cleanly;
// a second Ctrl-C exits at once.
inline volatile std::sig_atomic_t& interrupt_flag() {
  static volatile std::sig_atomic_t flag = 0;
  return flag;
}
inline void install_interrupt_handler() {
  const auto handler = [](int) {
    if (interrupt_flag()) std::_Exit(130);
    interrupt_flag() = 1;
  };
  std::signal(SIGINT, handler);
  std::signal(SIGTERM, handler);
}
inline bool interrupted() { return interrupt_flag() != 0; }

}  // namespace examples
