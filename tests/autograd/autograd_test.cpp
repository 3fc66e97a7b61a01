// tests/autograd/autograd_test.cpp mirrors include/foundry/autograd/{node,engine,grad_mode,gradcheck}.hpp
#include "support/testing.hpp"

namespace foundry {
namespace {

using ::testing::HasSubstr;
using ::testing::ThrowsMessage;

// y = x·w through matmul, with a view in between: the graph has three nodes.
TEST(Autograd, BackwardAccumulatesIntoLeavesAcrossCalls) {
  auto x = Tensor<double>::from({{1, 2}, {3, 4}}).requires_grad_(true);
  auto w = Tensor<double>::from({{1}, {-1}}).requires_grad_(true);
  auto y = matmul(x, w);  // [[-1], [-1]]
  EXPECT_EQ(y, Tensor<double>::from({{-1}, {-1}}));
  y.backward(Tensor<double>::from({{1}, {2}}));
  // grad_w = xᵀ·g = [[1*1 + 3*2], [2*1 + 4*2]]
  EXPECT_EQ(w.grad(), Tensor<double>::from({{7}, {10}}));
  EXPECT_EQ(x.grad(), Tensor<double>::from({{1, -1}, {2, -2}}));
  matmul(x, w).backward(Tensor<double>::from({{1}, {2}}));
  EXPECT_EQ(w.grad(), Tensor<double>::from({{14}, {20}}));
  w.zero_grad();
  EXPECT_FALSE(w.grad().defined());
}

TEST(Autograd, TensorUsedTwiceGetsBothContributions) {
  auto x = Tensor<double>::from({{2}}).requires_grad_(true);
  auto y = matmul(x, x);  // x², dy/dx = 2x
  y.backward(Tensor<double>::from({{1}}));
  EXPECT_EQ(x.grad().item(), 4.0);
}

// The first contribution to a gradient assigns into an uninitialised buffer and later ones add
// (GradSlot). Here one leaf reaches the loss through a scatter (embedding: zero-filled buffer), a GEMM
// (linear, tied weight), elementwise ops, a layer norm and a retained view, in every order.
TEST(Autograd, FirstContributionAssignsLaterOnesAdd) {
  Generator rng(11);
  const auto ids = Tensor<std::int64_t>::from({4, 0, 4});
  auto f = [&](const Tensor<double>& w) {
    const auto e = embedding(w, ids);                                       // [3, 3]
    const auto h = layer_norm(e + e * e, Tensor<double>(), Tensor<double>(), 1e-5) + e;
    return linear(h, w).sum() + linear(h.t().contiguous().t().contiguous(), w).pow(2.0).sum();
  };
  auto w = support::random_tensor<double>({5, 3}, rng).requires_grad_(true);
  EXPECT_TRUE(gradcheck(f, w));
  f(w).backward();
  const Tensor<double> once = w.grad().clone_data();
  f(w).backward();  // adds into the existing leaf gradient
  EXPECT_TRUE(support::allclose(w.grad(), mul(once, 2.0), 1e-12, 1e-12));
}

// q, k and v one tensor: the attention backward's three slots share one buffer; the first assigns.
TEST(Autograd, FusedOpWithOneTensorInSeveralInputs) {
  Generator rng(12);
  auto x = support::random_tensor<double>({1, 2, 3, 4}, rng);
  EXPECT_TRUE(gradcheck([](const Tensor<double>& a) { return scaled_dot_product_attention(a, a, a).pow(2.0).sum(); }, x));
  EXPECT_TRUE(gradcheck([](const Tensor<double>& a) { return matmul(a, a.transpose(-1, -2)).sum() + (a + a).sum(); }, x));
}

TEST(Autograd, LeafAndNonLeafSemantics) {
  auto x = Tensor<double>::from({1, 2, 3}).requires_grad_(true);
  EXPECT_TRUE(x.is_leaf());
  auto v = x.reshape({3, 1});
  EXPECT_FALSE(v.is_leaf());
  EXPECT_TRUE(v.requires_grad());
  v.retain_grad();
  auto y = x.reshape({1, 3});
  auto z = matmul(y, v);  // |x|² = 14
  EXPECT_EQ(z.item(), 14.0);
  z.backward();
  EXPECT_EQ(x.grad(), Tensor<double>::from({2, 4, 6}));
  EXPECT_EQ(v.grad(), Tensor<double>::from({{1}, {2}, {3}}));  // retained
  EXPECT_FALSE(y.grad().defined());                            // not retained
  EXPECT_THAT([&] { v.requires_grad_(false); }, ThrowsMessage<AutogradError>(HasSubstr("non-leaf")));
}

TEST(Autograd, GraphIsFreedUnlessRetained) {
  auto x = Tensor<double>::from({{1, 2}}).requires_grad_(true);
  auto w = Tensor<double>::from({{3}, {4}});
  auto y = matmul(x, w);
  y.backward(Tensor<double>::ones({1, 1}), /*retain_graph=*/true);
  y.backward(Tensor<double>::ones({1, 1}));
  EXPECT_EQ(x.grad(), Tensor<double>::from({{6, 8}}));
  EXPECT_THAT([&] { y.backward(Tensor<double>::ones({1, 1})); },
              ThrowsMessage<AutogradError>(HasSubstr("already freed by an earlier backward")));
}

TEST(Autograd, NoGradGuardAndDetachRecordNothing) {
  auto x = Tensor<double>::from({{1, 2}}).requires_grad_(true);
  {
    NoGradGuard guard;
    EXPECT_FALSE(matmul(x, x.t()).requires_grad());
  }
  EXPECT_TRUE(matmul(x, x.t()).requires_grad());
  auto d = x.detach();
  EXPECT_FALSE(d.requires_grad());
  EXPECT_TRUE(d.shares_storage_with(x));
}

TEST(Autograd, GradModeGuardNestsAndRestoresOnThrow) {
  auto x = Tensor<double>::from({{1, 2}}).requires_grad_(true);
  {
    NoGradGuard off;
    {
      GradModeGuard on(true);  // as checkpoint's recomputation inside a backward closure
      EXPECT_TRUE(autograd::is_grad_enabled());
      EXPECT_TRUE(matmul(x, x.t()).requires_grad());
    }
    EXPECT_FALSE(autograd::is_grad_enabled());
    try {
      GradModeGuard on(true);
      throw std::runtime_error("inside");
    } catch (const std::runtime_error&) {
    }
    EXPECT_FALSE(autograd::is_grad_enabled());
  }
  EXPECT_TRUE(autograd::is_grad_enabled());
}

TEST(Autograd, BackwardErrors) {
  auto x = Tensor<double>::from({1, 2});
  EXPECT_THAT([&] { x.backward(); }, ThrowsMessage<AutogradError>(HasSubstr("does not require grad")));
  auto y = x.requires_grad_(true).reshape({2, 1});
  EXPECT_THAT([&] { y.backward(); }, ThrowsMessage<AutogradError>(HasSubstr("only for a one-element tensor, got shape [2, 1]")));
  EXPECT_THAT([&] { y.backward(Tensor<double>::ones({2})); },
              ThrowsMessage<ShapeError>(HasSubstr("grad_output shape [2] does not match tensor shape [2, 1]")));
  EXPECT_THAT([] { Tensor<std::int64_t>::from({1}).requires_grad_(true); },
              ThrowsMessage<AutogradError>(HasSubstr("only floating-point tensors")));
}

TEST(Autograd, InPlaceChangeOfSavedTensorIsCaught) {
  auto w = Tensor<double>::from({{1}, {2}}).requires_grad_(true);
  auto x = Tensor<double>::from({{3, 4}});
  auto y = matmul(x, w);
  x.storage()->bump_version();  // what any in-place op on x does
  EXPECT_THAT([&] { y.backward(Tensor<double>::ones({1, 1})); },
              ThrowsMessage<AutogradError>(HasSubstr("modified by an in-place operation")));
}

// A node keeps an input's values only when its backward reads them: add, the views and dropout
// need the input's place in the graph, not its buffer, which is freed once nothing else holds it.
// The in-place check still covers what is kept (above).
TEST(Autograd, InputsWhoseValuesBackwardDoesNotReadAreNotKept) {
  auto x = Tensor<double>::from({1, 2, 3, 4}).requires_grad_(true);
  std::weak_ptr<Storage<double>> h_storage, v_storage;
  Tensor<double> y;
  {
    const auto h = x * 3.0;  // a non-leaf
    h_storage = h.storage();
    const auto v = (h + 1.0).reshape({2, 2}).permute({1, 0});
    v_storage = v.storage();
    Generator gen(3);
    y = dropout(v, 0.5, true, gen) + v.t().contiguous().t() - h.reshape({2, 2});
  }
  EXPECT_TRUE(h_storage.expired());
  EXPECT_TRUE(v_storage.expired());
  y.backward(Tensor<double>::ones({2, 2}));
  // d/dx: dropout keeps (2 or 0) x 3, plus 3 from the copy, minus 3 from h.
  const auto g = x.grad().to_vector();
  for (double gi : g) EXPECT_TRUE(gi == 0.0 || gi == 6.0) << gi;
}

TEST(Autograd, DeepChainDoesNotRecurse) {
  auto x = Tensor<double>::from({1, 2, 3, 4}).requires_grad_(true);
  auto y = x;
  for (int i = 0; i < 20000; ++i) y = y.reshape({i % 2 ? 4 : 2, -1});
  y.reshape({4}).backward(Tensor<double>::from({1, 1, 1, 1}));
  EXPECT_EQ(x.grad(), Tensor<double>::from({1, 1, 1, 1}));
}

TEST(Gradcheck, DetectsAWrongBackward) {
  auto x = Tensor<double>::from({0.5, -1.0, 2.0});
  auto wrong = [](const Tensor<double>& a) {
    Tensor<double> y = a.clone_data();
    y.array() *= 3.0;
    return autograd::record<double>("times3_wrong", y, {a}, [a](const Tensor<double>& g) { a.grad_array() += 2.0 * g.array(); });
  };
  auto r = gradcheck(wrong, x);
  EXPECT_FALSE(r);
  EXPECT_THAT(r.message, HasSubstr("input 0 [3] element 0: backward"));
  auto right = [](const Tensor<double>& a) {
    Tensor<double> y = a.clone_data();
    y.array() *= 3.0;
    return autograd::record<double>("times3", y, {a}, [a](const Tensor<double>& g) { a.grad_array() += 3.0 * g.array(); });
  };
  EXPECT_TRUE(gradcheck(right, x));
  EXPECT_FALSE(x.requires_grad());  // restored
}

}  // namespace
}  // namespace foundry
