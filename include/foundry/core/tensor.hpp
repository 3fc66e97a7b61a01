// core/tensor.hpp: Tensor<T>, a shared handle to a strided view of a Storage<T>.
// Copying a Tensor copies the handle (like torch.Tensor): views made by reshape, transpose, slice,
// select or expand share memory with their base. Math lives in ops/, the graph in autograd/; this
// header holds the data layout, the view machinery and the autograd fields every tensor carries.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include <Eigen/Core>

#include "foundry/core/error.hpp"
#include "foundry/core/shape.hpp"
#include "foundry/core/storage.hpp"

namespace foundry {

namespace autograd {
class Node;
}

template <class T>
inline constexpr bool is_supported_element_v =
    std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, std::int64_t> ||
    std::is_same_v<T, std::int32_t> || std::is_same_v<T, bool> || std::is_same_v<T, std::uint8_t>;

// Element type names as PyTorch prints them.
template <class T>
constexpr const char* dtype_name() {
  if constexpr (std::is_same_v<T, float>) return "float32";
  else if constexpr (std::is_same_v<T, double>) return "float64";
  else if constexpr (std::is_same_v<T, std::int64_t>) return "int64";
  else if constexpr (std::is_same_v<T, std::int32_t>) return "int32";
  else if constexpr (std::is_same_v<T, bool>) return "bool";
  else return "uint8";
}

template <class T>
struct TensorImpl {
  std::shared_ptr<Storage<T>> storage;
  Index offset = 0;  // in elements
  Shape shape;
  Strides strides;  // in elements; 0 on broadcast (expanded) axes
  // Autograd: a leaf that requires grad accumulates into `grad`; a non-leaf has `grad_fn`.
  bool requires_grad = false;
  bool retains_grad = false;
  std::shared_ptr<TensorImpl<T>> grad;
  std::shared_ptr<autograd::Node> grad_fn;
};

template <class T>
struct GradSlot;  // below: where a backward closure writes a gradient

template <class T>
class Tensor {
  static_assert(is_supported_element_v<T>, "Tensor<T>: T must be float, double, int64, int32, uint8 or bool");

 public:
  using value_type = T;
  using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using MatrixMap = Eigen::Map<RowMatrix>;
  using ArrayMap = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>;
  using VectorMap = Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, 1>>;

  // An undefined tensor (no storage): what grad() returns before any backward.
  Tensor() = default;

  // A new contiguous tensor of the given shape, filled with zeros.
  explicit Tensor(const Shape& shape) : Tensor(empty(shape)) { std::fill_n(data(), numel(), T(0)); }
  Tensor(std::initializer_list<Index> shape) : Tensor(Shape(shape)) {}

  // Uninitialised contiguous storage; fill it before reading.
  static Tensor empty(const Shape& shape) {
    detail::check_shape_values("empty", shape);
    auto impl = std::make_shared<TensorImpl<T>>();
    impl->storage = std::make_shared<Storage<T>>(shape.numel());
    impl->shape = shape;
    impl->strides = contiguous_strides(shape);
    return Tensor(std::move(impl));
  }
  static Tensor zeros(const Shape& shape) { return full(shape, T(0)); }
  static Tensor ones(const Shape& shape) { return full(shape, T(1)); }
  static Tensor full(const Shape& shape, T value) {
    Tensor t = empty(shape);
    std::fill_n(t.data(), t.numel(), value);
    return t;
  }
  static Tensor scalar(T value) { return full(Shape{}, value); }

  // From a flat list of values in row-major order plus a shape.
  static Tensor from(const std::vector<T>& values, const Shape& shape) {
    if (static_cast<Index>(values.size()) != shape.numel())
      detail::fail<ShapeError>("Tensor::from: ", values.size(), " values cannot fill shape ", shape, " (",
                               shape.numel(), " elements)");
    Tensor t = empty(shape);
    std::copy(values.begin(), values.end(), t.data());
    return t;
  }
  // A 1-D list. Its elements are wrapped so that from({{1}, {2}}) picks the 2-D overload unambiguously.
  struct Element {
    T value;
    Element(T v) : value(v) {}  // NOLINT: implicit on purpose
  };
  static Tensor from(std::initializer_list<Element> v) {
    Tensor t = empty(Shape{static_cast<Index>(v.size())});
    Index i = 0;
    for (const auto& e : v) t.data()[i++] = e.value;
    return t;
  }
  static Tensor from(std::initializer_list<std::initializer_list<T>> rows) {
    std::vector<T> flat;
    const Index cols = rows.size() ? static_cast<Index>(rows.begin()->size()) : 0;
    for (const auto& r : rows) {
      if (static_cast<Index>(r.size()) != cols)
        detail::fail<ShapeError>("Tensor::from: ragged rows (", r.size(), " values after ", cols, ")");
      flat.insert(flat.end(), r.begin(), r.end());
    }
    return from(flat, Shape{static_cast<Index>(rows.size()), cols});
  }
  static Tensor from(std::initializer_list<std::initializer_list<std::initializer_list<T>>> blocks) {
    std::vector<T> flat;
    Index rows = -1, cols = -1;
    for (const auto& b : blocks) {
      Tensor m = from(b);
      if (rows >= 0 && (m.size(0) != rows || m.size(1) != cols))
        detail::fail<ShapeError>("Tensor::from: ragged blocks ", m.shape(), " after [", rows, ", ", cols, "]");
      rows = m.size(0);
      cols = m.size(1);
      flat.insert(flat.end(), m.data(), m.data() + m.numel());
    }
    return from(flat, Shape{static_cast<Index>(blocks.size()), std::max<Index>(rows, 0), std::max<Index>(cols, 0)});
  }

  // ---- layout -------------------------------------------------------------------------------
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl().shape; }
  const Strides& strides() const { return impl().strides; }
  Index offset() const { return impl().offset; }
  int dim() const { return impl().shape.size(); }
  Index numel() const { return impl().shape.numel(); }
  // Extent of an axis; negative axes count from the end.
  Index size(Index axis) const { return shape()[detail::normalize_axis("size", axis, dim())]; }
  Index stride(Index axis) const { return strides()[detail::normalize_axis("stride", axis, dim())]; }

  bool is_contiguous() const {
    Index expected = 1;
    for (int i = dim() - 1; i >= 0; --i) {
      if (shape()[i] != 1 && strides()[i] != expected) return false;
      expected *= shape()[i];
    }
    return true;
  }

  T* data() const { return impl().storage->data() + impl().offset; }
  const std::shared_ptr<Storage<T>>& storage() const { return impl().storage; }
  bool shares_storage_with(const Tensor& other) const { return storage() == other.storage(); }

  // The single value of a one-element tensor.
  T item() const {
    if (numel() != 1) detail::fail<ValueError>("item: tensor of shape ", shape(), " has ", numel(), " elements, not 1");
    return data()[0];
  }

  // Element access by full index, bounds-checked (always: this is not a hot path).
  T& at(std::initializer_list<Index> index) const {
    if (static_cast<int>(index.size()) != dim())
      detail::fail<IndexError>("at: ", index.size(), " indices for a tensor of shape ", shape());
    Index pos = offset(), axis = 0;
    for (Index i : index) {
      const Index n = shape()[static_cast<int>(axis)];
      if (i < -n || i >= n) detail::fail<IndexError>("at: index ", i, " out of range for axis ", axis, " of size ", n);
      pos += (i < 0 ? i + n : i) * strides()[static_cast<int>(axis++)];
    }
    return impl().storage->data()[pos];
  }
  template <class... I>
    requires(std::is_integral_v<I> && ...)
  T& operator()(I... index) const {
#ifndef NDEBUG
    return at({static_cast<Index>(index)...});
#else
    Index pos = offset(), axis = 0;
    ((pos += static_cast<Index>(index) * strides()[static_cast<int>(axis++)]), ...);
    return impl().storage->data()[pos];
#endif
  }

  // ---- Eigen views of contiguous data (no copies) ----------------------------------------------
  // The tensor as a [numel / last, last] row-major matrix: a [B, T, C] activation is a [B*T, C] matrix.
  MatrixMap matrix() const {
    expect_contiguous("matrix");
    const Index cols = dim() == 0 ? 1 : shape().back();
    return MatrixMap(data(), cols == 0 ? 0 : numel() / cols, cols);
  }
  ArrayMap array() const {
    expect_contiguous("array");
    return ArrayMap(data(), numel());
  }
  VectorMap vector() const {
    expect_contiguous("vector");
    return VectorMap(data(), numel());
  }
  std::vector<T> to_vector() const;  // row-major copy of the values (any layout)

  // ---- views (share storage; no autograd: the differentiable forms are in ops/) ----------------
  // A tensor over the same storage with the given geometry. Callers guarantee it stays in bounds.
  Tensor as_strided(const Shape& shape, const Strides& strides, Index offset) const {
    auto impl = std::make_shared<TensorImpl<T>>();
    impl->storage = storage();
    impl->shape = shape;
    impl->strides = strides;
    impl->offset = offset;
    return Tensor(std::move(impl));
  }

  // Same values, fresh contiguous storage; contiguous() returns *this when already contiguous.
  Tensor clone_data() const;
  Tensor contiguous_data() const { return is_contiguous() ? detach() : clone_data(); }

  // A handle over the same storage that is cut off from the graph.
  Tensor detach() const { return as_strided(shape(), strides(), offset()); }

  // ---- autograd fields (the logic is in autograd/) ------------------------------------------
  bool requires_grad() const { return impl().requires_grad; }
  bool is_leaf() const { return impl().grad_fn == nullptr; }
  const std::shared_ptr<autograd::Node>& grad_fn() const { return impl().grad_fn; }
  // The accumulated gradient of a leaf (or of a non-leaf that called retain_grad()); undefined before backward.
  Tensor grad() const { return impl().grad ? Tensor(impl().grad) : Tensor(); }
  void set_grad(const Tensor& g) const { impl().grad = g.impl_; }
  // Sets requires_grad on a leaf; returns the handle so it chains: randn<double>({4, 3}).requires_grad_(true).
  Tensor requires_grad_(bool on = true) const {
    if (!is_leaf() && !on)
      detail::fail<AutogradError>("requires_grad_: cannot turn off gradients of a non-leaf tensor; use detach()");
    if (on && !std::is_floating_point_v<T>)
      detail::fail<AutogradError>("requires_grad_: only floating-point tensors can require gradients, not ", dtype_name<T>());
    impl().requires_grad = on;
    return *this;
  }
  // Keep the gradient of this non-leaf after backward, as torch.Tensor.retain_grad().
  Tensor retain_grad() const {
    impl().retains_grad = true;
    return *this;
  }
  // Zeroes (drops) the accumulated gradient.
  void zero_grad() const { impl().grad.reset(); }
  // What a backward closure captures of an input whose VALUES it does not read (add, dropout, views):
  // the input's shape, strides and place in the graph, without its storage, so the closure does not
  // keep the input's buffer alive until backward (for BERT, a third of a layer's activations). Its
  // grad_slot() and grad_ref() work; its data() must not be called. A leaf that requires grad is
  // returned as itself: its gradient accumulates in its own impl.
  Tensor grad_target() const {
    if (!impl_ || (is_leaf() && requires_grad())) return *this;
    auto ghost = std::make_shared<TensorImpl<T>>();
    ghost->offset = impl().offset;
    ghost->shape = impl().shape;
    ghost->strides = impl().strides;
    ghost->requires_grad = impl().requires_grad;
    ghost->grad_fn = impl().grad_fn;
    return Tensor(std::move(ghost));
  }

  // ---- declared here, defined with the op they forward to (include foundry/foundry.hpp) ------
  void backward(const Tensor& grad_output = Tensor(), bool retain_graph = false) const;
  Tensor grad_ref() const;  // autograd/: the gradient buffer a backward closure adds into (zeros on first use)
  GradSlot<T> grad_slot() const;  // autograd/: the same buffer for a closure that writes every element
  MatrixMap grad_matrix() const { return grad_ref().matrix(); }
  ArrayMap grad_array() const { return grad_ref().array(); }
  VectorMap grad_vector() const { return grad_ref().vector(); }

  Tensor clone() const;
  Tensor contiguous() const;
  Tensor reshape(const Shape& shape) const;
  Tensor view(const Shape& shape) const;
  Tensor flatten(Index start = 0, Index end = -1) const;
  Tensor permute(const Shape& order) const;
  Tensor transpose(Index a, Index b) const;
  Tensor t() const;  // transpose of a 2-D tensor
  Tensor narrow(Index axis, Index start, Index length) const;
  Tensor slice(Index axis, Index start, Index end, Index step = 1) const;
  Tensor select(Index axis, Index index) const;
  Tensor expand(const Shape& shape) const;
  Tensor broadcast_to(const Shape& shape) const;
  Tensor squeeze() const;
  Tensor squeeze(Index axis) const;
  Tensor unsqueeze(Index axis) const;

  Tensor pow(double exponent) const;
  Tensor exp() const;
  Tensor log() const;
  Tensor sqrt() const;
  Tensor rsqrt() const;
  Tensor abs() const;
  Tensor tanh() const;
  Tensor sigmoid() const;
  Tensor relu() const;
  Tensor neg() const;
  Tensor sum() const;
  Tensor sum(const Shape& axes, bool keepdim = false) const;
  Tensor mean() const;
  Tensor mean(const Shape& axes, bool keepdim = false) const;
  Tensor matmul(const Tensor& other) const;

  // In-place writes (refused on tensors autograd tracks; they bump the storage version).
  Tensor fill_(T value) const;
  Tensor zero_() const { return fill_(T(0)); }
  Tensor copy_(const Tensor& src) const;

  template <class U>
  Tensor<U> to() const;  // element type conversion (no gradient)

  // ---- internals shared with autograd/ and ops/ ------------------------------------------
  explicit Tensor(std::shared_ptr<TensorImpl<T>> impl) : impl_(std::move(impl)) {}
  TensorImpl<T>& impl() const {
    if (!impl_) detail::fail<ValueError>("Tensor: use of an undefined tensor");
    return *impl_;
  }
  const std::shared_ptr<TensorImpl<T>>& impl_ptr() const { return impl_; }
  bool same(const Tensor& other) const { return impl_ == other.impl_; }

  void expect_contiguous(const char* what) const {
    if (!is_contiguous())
      detail::fail<ValueError>(what, ": needs contiguous data, got shape ", shape(), " with strides ", strides(),
                               "; call contiguous() first");
  }

 private:
  std::shared_ptr<TensorImpl<T>> impl_;
};

// Where a backward closure writes one input's gradient (Tensor::grad_slot()). The first contribution
// to a gradient finds `accumulate` false and an UNINITIALISED buffer, and must assign every element;
// later ones find the running sum and add to it. That spares each gradient buffer a zero fill and
// the read of those zeros (for a GEMM it is the choice between beta = 0 and beta = 1).
template <class T>
struct GradSlot {
  Tensor<T> buffer;  // contiguous, with the input's shape
  bool accumulate;   // false: first contribution, assign; true: add
  T* data() const { return buffer.data(); }
};

namespace detail {

// Calls fn(linear_output_index, storage_offset) for every element of a strided view in row-major
// order. The innermost axis runs as a plain loop, so a contiguous last axis streams.
template <class F>
void for_each_offset(const Shape& shape, const Strides& strides, Index offset, F&& fn) {
  const int rank = shape.size();
  const Index n = shape.numel();
  if (n == 0) return;
  if (rank == 0) {
    fn(Index{0}, offset);
    return;
  }
  const Index inner = shape[rank - 1], inner_stride = strides[rank - 1];
  Shape idx = Shape::filled(rank, 0);
  Index base = offset;
  for (Index out = 0; out < n; out += inner) {
    for (Index j = 0; j < inner; ++j) fn(out + j, base + j * inner_stride);
    for (int ax = rank - 2; ax >= 0; --ax) {  // odometer step over the outer axes
      base += strides[ax];
      if (++idx[ax] < shape[ax]) break;
      base -= strides[ax] * shape[ax];
      idx[ax] = 0;
    }
  }
}

// Copies any strided view into contiguous memory at dst.
template <class T>
void copy_to_contiguous(const Tensor<T>& src, T* dst) {
  if (src.is_contiguous()) {
    std::copy_n(src.data(), src.numel(), dst);
    return;
  }
  const T* base = src.storage()->data();
  for_each_offset(src.shape(), src.strides(), src.offset(), [&](Index i, Index off) { dst[i] = base[off]; });
}

}  // namespace detail

template <class T>
std::vector<T> Tensor<T>::to_vector() const {
  if constexpr (std::is_same_v<T, bool>) {  // std::vector<bool> has no data(): go element by element
    std::vector<bool> out(static_cast<std::size_t>(numel()));
    const bool* base = storage()->data();
    detail::for_each_offset(shape(), strides(), offset(), [&](Index i, Index off) { out[i] = base[off]; });
    return out;
  } else {
    std::vector<T> out(static_cast<std::size_t>(numel()));
    detail::copy_to_contiguous(*this, out.data());
    return out;
  }
}

template <class T>
Tensor<T> Tensor<T>::clone_data() const {
  Tensor out = empty(shape());
  detail::copy_to_contiguous(*this, out.data());
  return out;
}

template <class T>
template <class U>
Tensor<U> Tensor<T>::to() const {
  Tensor<T> src = contiguous_data();
  Tensor<U> out = Tensor<U>::empty(shape());
  std::transform(src.data(), src.data() + numel(), out.data(), [](T v) { return static_cast<U>(v); });
  return out;
}

// Exact equality of shape and values (for tests; use allclose for floating point tolerance).
template <class T>
bool operator==(const Tensor<T>& a, const Tensor<T>& b) {
  return a.shape() == b.shape() && a.to_vector() == b.to_vector();
}

}  // namespace foundry
