// tests/ops/concat_test.cpp mirrors include/foundry/ops/concat.hpp
#include "foundry/ops/concat.hpp"

#include "support/testing.hpp"

namespace foundry {
namespace {

using support::allclose;
using support::random_tensor;
using ::testing::ThrowsMessage;
using List = std::vector<Tensor<double>>;

TEST(CatOp, MatchesHandWorkedValue) {
  const auto a = Tensor<double>::from({{1, 2}, {3, 4}}), b = Tensor<double>::from({{5, 6}});
  EXPECT_EQ(ops::cat(List{a, b}), Tensor<double>::from({{1, 2}, {3, 4}, {5, 6}}));
  const auto c = Tensor<double>::from({{7}, {8}});
  EXPECT_EQ(ops::cat(List{a, c, a}, -1), Tensor<double>::from({{1, 2, 7, 1, 2}, {3, 4, 8, 3, 4}}));
  // A single input is copied; an empty piece is allowed.
  const auto one = ops::cat(List{a});
  EXPECT_EQ(one, a);
  EXPECT_FALSE(one.shares_storage_with(a));
  EXPECT_EQ(ops::cat(List{a, Tensor<double>::zeros({0, 2})}), a);
  // Non-contiguous inputs are read through their strides.
  EXPECT_EQ(ops::cat(List{a.t(), c.t()}, 0), Tensor<double>::from({{1, 3}, {2, 4}, {7, 8}}));
}

TEST(CatOp, GradientsMatchFiniteDifferencesAlongEachAxis) {
  Generator rng(1);
  const auto a = random_tensor<double>({2, 3, 4}, rng);
  for (Index axis = 0; axis < 3; ++axis) {
    Shape sb = a.shape(), sc = a.shape();
    sb[static_cast<int>(axis)] = 2;
    sc[static_cast<int>(axis)] = 1;
    const auto b = random_tensor<double>(sb, rng);
    // c is a non-contiguous view: permute a tensor of the reversed shape.
    const auto c = random_tensor<double>({sc[2], sc[1], sc[0]}, rng).permute({2, 1, 0});
    EXPECT_TRUE(gradcheck([axis](const Tensor<double>& x, const Tensor<double>& y, const Tensor<double>& z) {
      return ops::cat(List{x, y, z, x}, axis);
    }, a, b, c)) << "axis " << axis;
  }
}

TEST(CatOp, OnlyInputsThatRequireGradReceiveIt) {
  const auto a = Tensor<double>::ones({2, 2}).requires_grad_(), b = Tensor<double>::ones({2, 1});
  ops::cat(List{a, b}, 1).backward(Tensor<double>::from({{1, 2, 3}, {4, 5, 6}}));
  EXPECT_EQ(a.grad(), Tensor<double>::from({{1, 2}, {4, 5}}));
  EXPECT_FALSE(b.grad().defined());
}

TEST(CatOp, LargeThreadedJoinMatchesSlices) {
  Generator rng(2);
  const auto a = random_tensor<float>({600, 70}, rng), b = random_tensor<float>({600, 130}, rng).t().t();
  const auto c = random_tensor<float>({130, 600}, rng).t();  // strided [600, 130]
  const int saved = get_num_threads();
  set_num_threads(2);
  const auto y = ops::cat(std::vector<Tensor<float>>{a, b, c}, 1);
  set_num_threads(saved);
  EXPECT_EQ(y.narrow(1, 0, 70).clone_data(), a);
  EXPECT_EQ(y.narrow(1, 70, 130).clone_data(), b);
  EXPECT_EQ(y.narrow(1, 200, 130).clone_data(), c.clone_data());
}

TEST(CatOp, MismatchNamesOpAxisInputAndShapes) {
  const auto a = Tensor<double>::zeros({2, 3}), b = Tensor<double>::zeros({3, 5});
  EXPECT_THAT([&] { ops::cat(List{a, a, b}, 1); },
              ThrowsMessage<ShapeError>(testing::StrEq(
                  "cat: input 2 has shape [3, 5] but input 0 has shape [2, 3]; all axes except axis 1 must match (axis 0: 3 vs 2)")));
  EXPECT_THAT([&] { ops::cat(List{a, Tensor<double>::zeros({2, 3, 1})}); },
              ThrowsMessage<ShapeError>(testing::StrEq(
                  "cat: input 1 has shape [2, 3, 1] but input 0 has shape [2, 3]; inputs must have the same rank (joining along axis 0)")));
  EXPECT_THAT([&] { ops::cat(List{}); }, ThrowsMessage<ValueError>(testing::StrEq("cat: expects a non-empty list of tensors")));
  EXPECT_THAT([&] { ops::cat(List{Tensor<double>::scalar(1)}); }, ThrowsMessage<ShapeError>(testing::HasSubstr("zero-dimensional")));
  EXPECT_THAT([&] { ops::cat(List{a}, 2); }, ThrowsMessage<IndexError>(testing::HasSubstr("cat: axis 2 out of range")));
}

TEST(StackOp, MatchesHandWorkedValue) {
  const auto a = Tensor<double>::from({1, 2, 3}), b = Tensor<double>::from({4, 5, 6});
  EXPECT_EQ(ops::stack(List{a, b}), Tensor<double>::from({{1, 2, 3}, {4, 5, 6}}));
  EXPECT_EQ(ops::stack(List{a, b}, 1), Tensor<double>::from({{1, 4}, {2, 5}, {3, 6}}));
  EXPECT_EQ(ops::stack(List{a, b}, -1), Tensor<double>::from({{1, 4}, {2, 5}, {3, 6}}));
  EXPECT_EQ(ops::stack(List{Tensor<double>::scalar(7), Tensor<double>::scalar(8)}), Tensor<double>::from({7, 8}));
}

TEST(StackOp, GradientsMatchFiniteDifferencesWithNonContiguousInputs) {
  Generator rng(3);
  const auto a = random_tensor<double>({3, 4}, rng), b = random_tensor<double>({4, 3}, rng).t(),
             c = random_tensor<double>({3, 8}, rng).slice(1, 0, 8, 2);
  for (Index axis : {0, 1, 2, -1})
    EXPECT_TRUE(gradcheck([axis](const Tensor<double>& x, const Tensor<double>& y, const Tensor<double>& z) {
      return ops::stack(List{x, y, z, y}, axis);
    }, a, b, c)) << "axis " << axis;
}

TEST(StackOp, MismatchNamesOpInputAndShapes) {
  EXPECT_THAT([&] { ops::stack(List{Tensor<double>::zeros({2, 3}), Tensor<double>::zeros({2, 4})}); },
              ThrowsMessage<ShapeError>(testing::StrEq(
                  "stack: input 1 has shape [2, 4] but input 0 has shape [2, 3]; stack needs equal shapes (new axis 0)")));
  EXPECT_THAT([&] { ops::stack(List{}); }, ThrowsMessage<ValueError>(testing::StrEq("stack: expects a non-empty list of tensors")));
  EXPECT_THAT([&] { ops::stack(List{Tensor<double>::zeros({2})}, 2); }, ThrowsMessage<IndexError>(testing::HasSubstr("stack: axis 2")));
}

TEST(SplitOp, PiecesAreViewsOfTheInput) {
  const auto x = Tensor<double>::from({{0, 1, 2, 3, 4}, {5, 6, 7, 8, 9}});
  const auto by_size = ops::split(x, 2, 1);
  ASSERT_EQ(by_size.size(), 3u);
  EXPECT_EQ(by_size[0], Tensor<double>::from({{0, 1}, {5, 6}}));
  EXPECT_EQ(by_size[2], Tensor<double>::from({{4}, {9}}));
  EXPECT_TRUE(by_size[1].shares_storage_with(x));
  const auto by_list = ops::split(x, std::vector<Index>{1, 0, 4}, -1);
  ASSERT_EQ(by_list.size(), 3u);
  EXPECT_EQ(by_list[0], Tensor<double>::from({{0}, {5}}));
  EXPECT_EQ(by_list[1].shape(), (Shape{2, 0}));
  EXPECT_EQ(by_list[2], Tensor<double>::from({{1, 2, 3, 4}, {6, 7, 8, 9}}));
  EXPECT_EQ(ops::split(x, 5, 0).size(), 1u);
  EXPECT_EQ(ops::split(Tensor<double>::zeros({0, 3}), 2).size(), 1u);
}

TEST(ChunkOp, FollowsTorchChunkSizes) {
  auto sizes = [](const std::vector<Tensor<double>>& pieces) {
    std::vector<Index> s;
    for (const auto& p : pieces) s.push_back(p.size(0));
    return s;
  };
  EXPECT_EQ(sizes(ops::chunk(Tensor<double>::zeros({5, 2}), 3)), (std::vector<Index>{2, 2, 1}));
  EXPECT_EQ(sizes(ops::chunk(Tensor<double>::zeros({6, 2}), 4)), (std::vector<Index>{2, 2, 2}));  // fewer pieces
  EXPECT_EQ(sizes(ops::chunk(Tensor<double>::zeros({0, 2}), 3)), (std::vector<Index>{0, 0, 0}));
  EXPECT_EQ(ops::chunk(Tensor<double>::from({{1, 2, 3, 4}}), 2, 1)[1], Tensor<double>::from({{3, 4}}));
}

TEST(SplitOp, GradientsFlowBackThroughPiecesAndCat) {
  Generator rng(4);
  const auto x = random_tensor<double>({4, 6}, rng), xt = random_tensor<double>({6, 4}, rng).t();
  EXPECT_TRUE(gradcheck([](const Tensor<double>& a) { return ops::split(a, 4, 1)[1]; }, x));
  EXPECT_TRUE(gradcheck([](const Tensor<double>& a) { return ops::chunk(a, 3, 1)[2]; }, xt));
  // Cutting and re-joining in another order: every piece routes its gradient back.
  EXPECT_TRUE(gradcheck([](const Tensor<double>& a) {
    auto p = ops::split(a, std::vector<Index>{1, 3, 2}, 1);
    return ops::cat(std::vector<Tensor<double>>{p[2], p[0], p[1], p[2]}, 1);
  }, xt));
}

TEST(SplitOp, BadSizesNameOpAxisAndShape) {
  const auto x = Tensor<double>::zeros({3, 5});
  EXPECT_THAT([&] { ops::split(x, std::vector<Index>{2, 2}, 1); },
              ThrowsMessage<ShapeError>(testing::StrEq(
                  "split: sizes [2, 2] must be non-negative and sum to axis 1 of x [3, 5] (5), got sum 4")));
  EXPECT_THAT([&] { ops::split(x, 0, 1); },
              ThrowsMessage<ValueError>(testing::StrEq("split: piece size must be positive, got 0 for axis 1 of x [3, 5]")));
  EXPECT_THAT([&] { ops::chunk(x, 0); }, ThrowsMessage<ValueError>(testing::StrEq("chunk: number of chunks must be positive, got 0")));
  EXPECT_THAT([&] { ops::split(Tensor<double>::scalar(1), 1); }, ThrowsMessage<ShapeError>(testing::HasSubstr("zero-dimensional")));
}

}  // namespace
}  // namespace foundry
