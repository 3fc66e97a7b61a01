// core/error.hpp: the exceptions foundry throws for caller mistakes.
// Every message names the operation and the offending shapes, values, file or line, so a
// failure can be understood from the message alone. `assert` guards only our own invariants.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace foundry {

// Base of every foundry exception; catch this to catch them all.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Operand shapes that do not fit the operation: "matmul: cannot multiply [2, 3] by [4, 5]".
class ShapeError : public Error {
 public:
  using Error::Error;
};

// An index or axis outside its range: "select: index 7 out of range for axis 0 of size 4".
class IndexError : public Error {
 public:
  using Error::Error;
};

// A value outside what the operation accepts: "dropout: p must be in [0, 1), got 1.5".
class ValueError : public Error {
 public:
  using Error::Error;
};

// Reading or writing a file failed or the file is malformed; the message names the file.
class IoError : public Error {
 public:
  using Error::Error;
};

// Autograd misuse: backward through a freed graph, in-place change of a saved tensor, ...
class AutogradError : public Error {
 public:
  using Error::Error;
};

namespace detail {

// Builds a message from streamable parts: fail<ShapeError>("matmul: cannot multiply ", a, " by ", b).
template <class E, class... Parts>
[[noreturn]] void fail(Parts&&... parts) {
  std::ostringstream msg;
  (msg << ... << std::forward<Parts>(parts));
  throw E(msg.str());
}

}  // namespace detail
}  // namespace foundry
