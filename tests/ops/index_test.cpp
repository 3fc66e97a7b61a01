// tests/ops/index_test.cpp mirrors include/foundry/ops/index.hpp
#include "foundry/ops/index.hpp"

#include "support/testing.hpp"

namespace foundry {
namespace {

using support::allclose;
using support::random_tensor;
using ::testing::ThrowsMessage;
using Ids = Tensor<std::int64_t>;

TEST(IndexSelectOp, MatchesHandWorkedValue) {
  const auto x = Tensor<double>::from({{1, 2, 3}, {4, 5, 6}});
  EXPECT_EQ(ops::index_select(x, 0, Ids::from({1, 1, 0})), Tensor<double>::from({{4, 5, 6}, {4, 5, 6}, {1, 2, 3}}));
  EXPECT_EQ(ops::index_select(x, -1, Ids::from({2, 0})), Tensor<double>::from({{3, 1}, {6, 4}}));
  EXPECT_EQ(ops::index_select(x.t(), 1, Ids::from({1})), Tensor<double>::from({{4}, {5}, {6}}));  // non-contiguous x
  EXPECT_EQ(ops::index_select(x, 1, Ids::scalar(2)), Tensor<double>::from({{3}, {6}}));            // 0-d index counts as [1]
  EXPECT_EQ(ops::index_select(x, 0, Ids::zeros({0})).shape(), (Shape{0, 3}));
}

TEST(IndexSelectOp, GradientsMatchFiniteDifferencesWithRepeats) {
  Generator rng(1);
  const auto x = random_tensor<double>({3, 4, 2}, rng), xt = random_tensor<double>({4, 3}, rng).t();
  EXPECT_TRUE(gradcheck([](const Tensor<double>& a) { return ops::index_select(a, 0, Ids::from({2, 0, 2, 2})); }, x));
  EXPECT_TRUE(gradcheck([](const Tensor<double>& a) { return ops::index_select(a, 1, Ids::from({3, 1, 3})); }, x));
  EXPECT_TRUE(gradcheck([](const Tensor<double>& a) { return ops::index_select(a, 2, Ids::from({1, 1})); }, x));
  EXPECT_TRUE(gradcheck([](const Tensor<double>& a) { return ops::index_select(a, 1, Ids::from({0, 3, 0})); }, xt));
}

TEST(IndexSelectOp, ThreadedScatterAddMatchesSerialSum) {
  Generator rng(2);
  const int saved = get_num_threads();
  set_num_threads(2);
  for (Index axis : {0, 1}) {  // axis 0: threads split columns; axis 1: threads split the outer axis
    const auto x = random_tensor<float>({64, 64, 32}, rng).requires_grad_();
    const auto idx = randint(0, 64, {200}, rng);
    const auto y = ops::index_select(x, axis, idx);
    const auto gy = random_tensor<float>(y.shape(), rng);
    y.backward(gy);
    Tensor<float> expected = Tensor<float>::zeros(x.shape());
    const Index outer = axis == 0 ? 1 : 64, inner = axis == 0 ? 64 * 32 : 32;
    for (Index o = 0; o < outer; ++o)
      for (Index j = 0; j < 200; ++j)
        for (Index c = 0; c < inner; ++c)
          expected.data()[(o * 64 + idx.data()[j]) * inner + c] += gy.data()[(o * 200 + j) * inner + c];
    EXPECT_EQ(x.grad(), expected) << "axis " << axis;
  }
  set_num_threads(saved);
}

TEST(IndexSelectOp, BadIndexNamesValuePositionAndShape) {
  const auto x = Tensor<double>::zeros({3, 5});
  EXPECT_THAT([&] { ops::index_select(x, 1, Ids::from({0, 4, 5})); },
              ThrowsMessage<IndexError>(testing::StrEq("index_select: index 5 at position 2 out of range for axis 1 of size 5 (x is [3, 5])")));
  EXPECT_THAT([&] { ops::index_select(x, 0, Ids::from({-1})); },
              ThrowsMessage<IndexError>(testing::HasSubstr("index_select: index -1 at position 0 out of range for axis 0 of size 3")));
  EXPECT_THAT([&] { ops::index_select(x, 0, Ids::zeros({2, 2})); },
              ThrowsMessage<ShapeError>(testing::StrEq("index_select: index must be 1-D, got shape [2, 2] (x is [3, 5])")));
  EXPECT_THAT([&] { ops::index_select(x, 2, Ids::from({0})); }, ThrowsMessage<IndexError>(testing::HasSubstr("index_select: axis 2")));
}

TEST(GatherOp, MatchesTorchGatherExample) {
  // torch.gather(torch.tensor([[1, 2], [3, 4]]), 1, torch.tensor([[0, 0], [1, 0]])) == [[1, 1], [4, 3]]
  const auto x = Tensor<double>::from({{1, 2}, {3, 4}});
  EXPECT_EQ(ops::gather(x, 1, Ids::from({{0, 0}, {1, 0}})), Tensor<double>::from({{1, 1}, {4, 3}}));
  EXPECT_EQ(ops::gather(x, 0, Ids::from({{1, 0}, {1, 1}, {0, 0}})), Tensor<double>::from({{3, 2}, {3, 4}, {1, 2}}));
  // index may be smaller than x on the other axes: the logits of targets [N, 1] from [N, V].
  const auto logits = Tensor<double>::from({{0, 1, 2, 3}, {10, 11, 12, 13}, {20, 21, 22, 23}});
  EXPECT_EQ(ops::gather(logits, 1, Ids::from({{3}, {0}, {2}})), Tensor<double>::from({{3}, {10}, {22}}));
  EXPECT_EQ(ops::gather(logits.t(), 0, Ids::from({{3, 0, 2}})), Tensor<double>::from({{3, 10, 22}}));  // non-contiguous x
}

TEST(GatherOp, GradientsMatchFiniteDifferencesAlongEachAxis) {
  Generator rng(3);
  const auto x = random_tensor<double>({3, 4, 5}, rng);
  const auto xt = random_tensor<double>({5, 4, 3}, rng).permute({2, 1, 0});  // non-contiguous [3, 4, 5]
  for (Index axis = 0; axis < 3; ++axis) {
    // index [2, 3, 4] (smaller than x elsewhere) with repeated values along the gather axis.
    const Index n = x.size(axis);
    Ids idx = Ids::empty({2, 3, 4});
    for (Index i = 0; i < idx.numel(); ++i) idx.data()[i] = (i * 7 + 1) % n;
    const auto fn = [idx, axis](const Tensor<double>& a) { return ops::gather(a, axis, idx); };
    EXPECT_TRUE(gradcheck(fn, x)) << "axis " << axis;
    EXPECT_TRUE(gradcheck(fn, xt)) << "axis " << axis;
  }
}

TEST(GatherOp, ThreadedScatterAddMatchesSerialSum) {
  Generator rng(4);
  const int saved = get_num_threads();
  set_num_threads(2);
  for (Index axis : {0, 1}) {  // threads split the other axis
    const Index n = axis == 0 ? 256 : 300;
    const auto x = random_tensor<float>({256, 300}, rng).requires_grad_();
    const auto idx = randint(0, n / 4, {256, 300}, rng);  // many repeats
    const auto y = ops::gather(x, axis, idx);
    const auto gy = random_tensor<float>({256, 300}, rng);
    y.backward(gy);
    Tensor<float> expected_y = Tensor<float>::empty({256, 300}), expected_g = Tensor<float>::zeros({256, 300});
    for (Index i = 0; i < 256; ++i)
      for (Index j = 0; j < 300; ++j) {
        const Index p = i * 300 + j, k = idx.data()[p], src = axis == 0 ? k * 300 + j : i * 300 + k;
        expected_y.data()[p] = x.data()[src];
        expected_g.data()[src] += gy.data()[p];
      }
    EXPECT_EQ(y.detach(), expected_y) << "axis " << axis;
    EXPECT_EQ(x.grad(), expected_g) << "axis " << axis;
  }
  set_num_threads(saved);
}

TEST(GatherOp, BadIndexNamesValuePositionAndShapes) {
  const auto x = Tensor<double>::zeros({2, 4});
  EXPECT_THAT([&] { ops::gather(x, 1, Ids::from({{0, 1}, {4, 0}})); },
              ThrowsMessage<IndexError>(testing::StrEq("gather: index 4 at position [1, 0] out of range for axis 1 of size 4 (x is [2, 4])")));
  EXPECT_THAT([&] { ops::gather(x, 0, Ids::from({{0, -2}})); },
              ThrowsMessage<IndexError>(testing::HasSubstr("gather: index -2 at position [0, 1] out of range for axis 0 of size 2")));
  EXPECT_THAT([&] { ops::gather(x, 1, Ids::from({0, 1})); },
              ThrowsMessage<ShapeError>(testing::StrEq("gather: index rank 1 must equal x rank 2; index is [2], x is [2, 4]")));
  EXPECT_THAT([&] { ops::gather(x, 1, Ids::zeros({3, 1})); },
              ThrowsMessage<ShapeError>(testing::StrEq(
                  "gather: index axis 0 (3) exceeds x axis 0 (2); only the gather axis 1 may differ; index is [3, 1], x is [2, 4]")));
}

}  // namespace
}  // namespace foundry
