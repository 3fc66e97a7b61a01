// core/print.hpp: operator<< for tensors, laid out like PyTorch's repr:
//   tensor([[ 0.1940,  2.1614],
//           [-0.1721,  0.8491]], shape=[2, 2], dtype=float32)
// Large tensors show their first and last three entries per axis around "...".
#pragma once

#include <cmath>
#include <iomanip>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "foundry/core/tensor.hpp"

namespace foundry {
namespace detail {

struct PrintFormat {
  bool summarize = false;
  bool integral = true;  // every shown value is a whole number: print "1." like PyTorch
  bool scientific = false;
  int width = 1;
};

template <class T>
std::string format_value(T v, const PrintFormat& f) {
  std::ostringstream os;
  if constexpr (std::is_same_v<T, bool>) {
    os << (v ? "True" : "False");
  } else if constexpr (std::is_integral_v<T>) {
    os << static_cast<long long>(v);
  } else {
    if (std::isnan(v)) os << "nan";
    else if (std::isinf(v)) os << (v > 0 ? "inf" : "-inf");
    else if (f.scientific) os << std::scientific << std::setprecision(4) << static_cast<double>(v);
    else if (f.integral) os << std::fixed << std::setprecision(0) << static_cast<double>(v) << '.';
    else os << std::fixed << std::setprecision(4) << static_cast<double>(v);
  }
  return os.str();
}

constexpr Index kSummarizeAbove = 1000, kEdgeItems = 3;

// Recursively prints axis `axis` of the row-major values starting at flat position `base`.
template <class T>
void print_axis(std::ostream& os, const std::vector<T>& v, const Shape& shape, int axis, Index base,
                const PrintFormat& f, int indent) {
  const Index n = shape[axis];
  Index inner = 1;
  for (int i = axis + 1; i < shape.size(); ++i) inner *= shape[i];
  os << '[';
  for (Index i = 0; i < n; ++i) {
    if (f.summarize && n > 2 * kEdgeItems && i == kEdgeItems) {
      os << "...";
      i = n - kEdgeItems - 1;
      os << (axis + 1 == shape.size() ? ", " : ",\n" + std::string(static_cast<std::size_t>(indent + 1), ' '));
      continue;
    }
    if (axis + 1 == shape.size()) {
      const std::string s = format_value<T>(v[static_cast<std::size_t>(base + i)], f);
      os << std::string(static_cast<std::size_t>(std::max<int>(0, f.width - static_cast<int>(s.size()))), ' ') << s;
    } else {
      print_axis(os, v, shape, axis + 1, base + i * inner, f, indent + 1);
    }
    if (i + 1 < n) {
      if (axis + 1 == shape.size()) os << ", ";
      else os << ',' << std::string(static_cast<std::size_t>(shape.size() - axis - 1), '\n')
              << std::string(static_cast<std::size_t>(indent + 1), ' ');
    }
  }
  os << ']';
}

}  // namespace detail

template <class T>
std::ostream& operator<<(std::ostream& os, const Tensor<T>& t) {
  if (!t.defined()) return os << "tensor(undefined)";
  const auto values = t.to_vector();
  detail::PrintFormat f;
  f.summarize = t.numel() > detail::kSummarizeAbove;
  if constexpr (std::is_floating_point_v<T>) {
    double max_abs = 0, min_abs = INFINITY;
    for (T v : values) {
      if (!std::isfinite(v)) continue;
      f.integral = f.integral && std::nearbyint(v) == v;
      max_abs = std::max(max_abs, std::abs(static_cast<double>(v)));
      if (v != 0) min_abs = std::min(min_abs, std::abs(static_cast<double>(v)));
    }
    f.scientific = max_abs >= 1e8 || (min_abs < 1e-4 && !f.integral) || (max_abs / min_abs > 1e3 && !f.integral && min_abs < 1e-2);
  }
  for (const auto& v : values) f.width = std::max<int>(f.width, static_cast<int>(detail::format_value<T>(v, f).size()));
  os << "tensor(";
  if (t.dim() == 0) os << detail::format_value<T>(values[0], f);
  else detail::print_axis(os, values, t.shape(), 0, 0, f, 7);
  os << ", shape=" << t.shape() << ", dtype=" << dtype_name<T>();
  if (t.requires_grad()) os << (t.is_leaf() ? ", requires_grad=True" : ", grad_fn=<backward>");
  return os << ')';
}

}  // namespace foundry
