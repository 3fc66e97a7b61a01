// tests/ops/embedding_test.cpp mirrors include/foundry/ops/embedding.hpp
#include "foundry/ops/embedding.hpp"

#include "support/fixtures.hpp"
#include "support/testing.hpp"

namespace foundry {
namespace {

using support::allclose;
using support::random_tensor;
using ::testing::ThrowsMessage;
using Ids = Tensor<std::int64_t>;

TEST(EmbeddingOp, MatchesHandWorkedValue) {
  const auto w = Tensor<double>::from({{0, 1}, {10, 11}, {20, 21}, {30, 31}});
  const auto y = ops::embedding(w, Ids::from({{0, 2}, {3, 3}}));
  EXPECT_EQ(y, Tensor<double>::from({{{0, 1}, {20, 21}}, {{30, 31}, {30, 31}}}));
  // Any ids shape, including 0-d and empty.
  EXPECT_EQ(ops::embedding(w, Ids::scalar(1)), Tensor<double>::from({10, 11}));
  EXPECT_EQ(ops::embedding(w, Ids::zeros({2, 0})).shape(), (Shape{2, 0, 2}));
  // The padding row still reads its value in the forward.
  EXPECT_EQ(ops::embedding(w, Ids::from({1}), 1), Tensor<double>::from({{10, 11}}));
}

TEST(EmbeddingOp, GradientsMatchFiniteDifferencesWithRepeatedIds) {
  Generator rng(1);
  const auto ids = Ids::from({{1, 4, 1}, {0, 4, 4}});
  EXPECT_TRUE(gradcheck([&](const Tensor<double>& w) { return ops::embedding(w, ids); }, random_tensor<double>({5, 3}, rng)));
  // A non-contiguous table and non-contiguous ids.
  const auto ids_t = Ids::from({{2, 0}, {2, 1}, {3, 2}}).t();
  EXPECT_TRUE(gradcheck([&](const Tensor<double>& w) { return ops::embedding(w, ids_t); }, random_tensor<double>({3, 4}, rng).t()));
  // padding_idx 3 while no id is 3: the check covers the skip logic on the other rows.
  EXPECT_TRUE(gradcheck([&](const Tensor<double>& w) { return ops::embedding(w, ids, 3); }, random_tensor<double>({5, 3}, rng)));
}

TEST(EmbeddingOp, RepeatedIdsAddUpAndPaddingRowGetsNoGradient) {
  const auto w = Tensor<double>::zeros({5, 2}).requires_grad_();
  const auto ids = Ids::from({{1, 1, 4}, {0, 1, 2}});
  const auto gy = Tensor<double>::from({{{1, 2}, {3, 4}, {5, 6}}, {{7, 8}, {9, 10}, {11, 12}}});
  ops::embedding(w, ids, 0).backward(gy);
  // Row 0 is padding (gets nothing), row 1 = [1,2]+[3,4]+[9,10], row 2 = [11,12], row 3 unused, row 4 = [5,6].
  EXPECT_EQ(w.grad(), Tensor<double>::from({{0, 0}, {13, 16}, {11, 12}, {0, 0}, {5, 6}}));
}

TEST(EmbeddingOp, ThreadedBackwardMatchesSerialSum) {
  Generator rng(2);
  const Index V = 50, C = 96, n = 4096;
  const auto ids = randint(0, V, {n}, rng);
  const auto w = random_tensor<float>({V, C}, rng).requires_grad_();
  const auto gy = random_tensor<float>({n, C}, rng);
  const int saved = get_num_threads();
  set_num_threads(2);
  ops::embedding(w, ids, 7).backward(gy);
  set_num_threads(saved);
  Tensor<float> expected = Tensor<float>::zeros({V, C});  // the same sums, in the same order, serially
  for (Index p = 0; p < n; ++p) {
    const Index id = ids.data()[p];
    if (id == 7) continue;
    for (Index c = 0; c < C; ++c) expected.data()[id * C + c] += gy.data()[p * C + c];
  }
  EXPECT_EQ(w.grad(), expected);
}

// tests/reference/make_norm_fixtures.py: torch.nn.functional.embedding with padding_idx, repeated ids.
TEST(EmbeddingOp, MatchesPyTorchWithPaddingIdx) {
  const auto f = support::load_fixture<float>("ops/embedding.safetensors");
  const auto fi = support::load_fixture<std::int64_t>("ops/embedding.safetensors");
  const auto w = support::fixture_tensor(f, "weight").clone_data().requires_grad_();
  const auto y = ops::embedding(w, support::fixture_tensor(fi, "ids"), support::fixture_tensor(fi, "padding_idx").item());
  EXPECT_EQ(y.detach(), support::fixture_tensor(f, "y"));  // a copy: exact
  y.backward(support::fixture_tensor(f, "grad_y"));
  EXPECT_TRUE(allclose(w.grad(), support::fixture_tensor(f, "grad_weight"), 1e-6, 1e-6));
}

TEST(EmbeddingOp, BadIdsNameTheIdItsPositionAndV) {
  const auto w = Tensor<float>::zeros({10, 4});
  EXPECT_THAT([&] { ops::embedding(w, Ids::from({{1, 2}, {12, 3}})); },
              ThrowsMessage<IndexError>(testing::StrEq(
                  "embedding: id 12 at position [1, 0] out of range for vocabulary of size 10 (weight is [10, 4], ids are [2, 2])")));
  EXPECT_THAT([&] { ops::embedding(w, Ids::from({0, -1})); },
              ThrowsMessage<IndexError>(testing::HasSubstr("embedding: id -1 at position [1] out of range for vocabulary of size 10")));
  EXPECT_THAT([&] { ops::embedding(w, Ids::from({0}), 10); },
              ThrowsMessage<IndexError>(testing::StrEq(
                  "embedding: padding_idx 10 out of range for vocabulary of size 10 (weight is [10, 4]); use -1 for none")));
  EXPECT_THAT([&] { ops::embedding(Tensor<float>::zeros({10}), Ids::from({0})); },
              ThrowsMessage<ShapeError>(testing::StrEq("embedding: weight must be 2-D [V, C], got shape [10]")));
}

}  // namespace
}  // namespace foundry
