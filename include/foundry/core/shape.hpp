// core/shape.hpp: Shape, the list of a tensor's extents (rank 0..8), and the row-major strides
// that go with it. A Shape is a small fixed-capacity value: copying one never allocates.
// Strides, broadcasting rules and axis normalisation live here too; storage does not.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "foundry/core/error.hpp"

namespace foundry {

using Index = std::int64_t;

inline constexpr int kMaxDims = 8;

// A short list of Index values with inline storage: used for both shapes and strides.
class Shape {
 public:
  Shape() = default;
  Shape(std::initializer_list<Index> dims) { assign(dims.begin(), dims.end()); }
  explicit Shape(std::span<const Index> dims) { assign(dims.begin(), dims.end()); }
  explicit Shape(const std::vector<Index>& dims) { assign(dims.begin(), dims.end()); }

  static Shape filled(int rank, Index value) {
    Shape s;
    s.resize(rank, value);
    return s;
  }

  int size() const { return rank_; }
  bool empty() const { return rank_ == 0; }
  Index operator[](int i) const { return dims_[static_cast<std::size_t>(i)]; }
  Index& operator[](int i) { return dims_[static_cast<std::size_t>(i)]; }
  const Index* begin() const { return dims_.data(); }
  const Index* end() const { return dims_.data() + rank_; }
  Index* begin() { return dims_.data(); }
  Index* end() { return dims_.data() + rank_; }
  Index back() const { return dims_[static_cast<std::size_t>(rank_ - 1)]; }

  void push_back(Index d) {
    if (rank_ == kMaxDims) detail::fail<ShapeError>("Shape: more than ", kMaxDims, " dimensions");
    dims_[static_cast<std::size_t>(rank_++)] = d;
  }
  void insert(int pos, Index d) {
    push_back(0);
    for (int i = rank_ - 1; i > pos; --i) dims_[i] = dims_[i - 1];
    dims_[static_cast<std::size_t>(pos)] = d;
  }
  void erase(int pos) {
    for (int i = pos; i + 1 < rank_; ++i) dims_[i] = dims_[i + 1];
    --rank_;
  }
  void resize(int rank, Index value = 0) {
    if (rank < 0 || rank > kMaxDims) detail::fail<ShapeError>("Shape: rank ", rank, " outside [0, ", kMaxDims, "]");
    for (int i = rank_; i < rank; ++i) dims_[static_cast<std::size_t>(i)] = value;
    rank_ = rank;
  }

  // Number of elements a tensor of this shape holds (1 for rank 0).
  Index numel() const {
    Index n = 1;
    for (int i = 0; i < rank_; ++i) n *= dims_[static_cast<std::size_t>(i)];
    return n;
  }

  std::vector<Index> to_vector() const { return {begin(), end()}; }

  friend bool operator==(const Shape& a, const Shape& b) {
    return a.rank_ == b.rank_ && std::equal(a.begin(), a.end(), b.begin());
  }

  friend std::ostream& operator<<(std::ostream& os, const Shape& s) {
    os << '[';
    for (int i = 0; i < s.rank_; ++i) os << (i ? ", " : "") << s[i];
    return os << ']';
  }

  std::string str() const {
    std::ostringstream os;
    os << *this;
    return os.str();
  }

 private:
  template <class It>
  void assign(It first, It last) {
    const auto n = std::distance(first, last);
    if (n > kMaxDims) detail::fail<ShapeError>("Shape: ", n, " dimensions given, at most ", kMaxDims, " supported");
    rank_ = static_cast<int>(n);
    std::copy(first, last, dims_.begin());
  }

  std::array<Index, kMaxDims> dims_{};
  int rank_ = 0;
};

using Strides = Shape;

// Row-major (C order) strides: the last axis moves fastest.
inline Strides contiguous_strides(const Shape& shape) {
  Strides s = Shape::filled(shape.size(), 1);
  for (int i = shape.size() - 2; i >= 0; --i) s[i] = s[i + 1] * std::max<Index>(shape[i + 1], 1);
  return s;
}

namespace detail {

// Maps a possibly negative axis into [0, rank): normalize_axis("sum", -1, 3) == 2.
inline int normalize_axis(const char* op, Index axis, int rank) {
  const Index r = std::max(rank, 1);
  if (axis < -r || axis >= r)
    fail<IndexError>(op, ": axis ", axis, " out of range for a tensor of rank ", rank);
  return static_cast<int>(axis < 0 ? axis + r : axis);
}

// NumPy broadcasting: shapes are aligned on the right; an extent of 1 stretches to match.
inline Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b) {
  const int rank = std::max(a.size(), b.size());
  Shape out = Shape::filled(rank, 1);
  for (int i = 0; i < rank; ++i) {
    const int ia = a.size() - rank + i, ib = b.size() - rank + i;
    const Index da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
    if (da != db && da != 1 && db != 1)
      fail<ShapeError>(op, ": shapes ", a, " and ", b, " cannot be broadcast (axis ", i, ": ", da, " vs ", db, ")");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

inline void check_shape_values(const char* op, const Shape& shape) {
  for (Index d : shape)
    if (d < 0) fail<ShapeError>(op, ": negative extent in shape ", shape);
}

}  // namespace detail
}  // namespace foundry
