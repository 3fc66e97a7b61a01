// tests/ops/compare_test.cpp mirrors include/foundry/ops/compare.hpp: comparisons with broadcasting
// and numbers, logic on masks, isfinite/isnan.
#include <cmath>
#include <limits>

#include "foundry/ops/compare.hpp"
#include "support/testing.hpp"

namespace foundry {
namespace {

using ::testing::StrEq;
using ::testing::ThrowsMessage;
using B = Tensor<bool>;
using D = Tensor<double>;

TEST(CompareOp, TensorAgainstTensorBroadcasts) {
  auto m = D::from({{1, 2, 3}, {4, 5, 6}});
  auto row = D::from({1, 5, 7});
  EXPECT_EQ(ops::eq(m, row), B::from({{true, false, false}, {false, true, false}}));
  EXPECT_EQ(ops::ne(m, row), B::from({{false, true, true}, {true, false, true}}));
  EXPECT_EQ(ops::lt(m, row), B::from({{false, true, true}, {false, false, true}}));
  EXPECT_EQ(ops::le(m, row), B::from({{true, true, true}, {false, true, true}}));
  EXPECT_EQ(ops::gt(m, row), B::from({{false, false, false}, {true, false, false}}));
  EXPECT_EQ(ops::ge(m, row), B::from({{true, false, false}, {true, true, false}}));
  EXPECT_EQ(ops::gt(D::from({{1}, {3}}), D::from({0, 2, 4})), B::from({{true, false, false}, {true, true, false}}));
}

TEST(CompareOp, TensorAgainstANumber) {
  auto x = D::from({-1, 0, 2.5});
  EXPECT_EQ(ops::gt(x, 0), B::from({false, false, true}));
  EXPECT_EQ(ops::le(x, 0.0), B::from({true, true, false}));
  EXPECT_EQ(ops::eq(x, 2.5f), B::from({false, false, true}));
  EXPECT_EQ(ops::ne(x, 0), B::from({true, false, true}));
  EXPECT_EQ(ops::lt(x, -1), B::from({false, false, false}));
  EXPECT_EQ(ops::ge(x, -1), B::from({true, true, true}));
  // float tensors meet the number rounded to float, like PyTorch with a Python number
  EXPECT_EQ(ops::eq(Tensor<float>::from({0.1f}), 0.1), B::from({true}));
  // integer tensors meet a fractional number without truncating it
  auto ids = Tensor<std::int64_t>::from({1, 2, 3});
  EXPECT_EQ(ops::lt(ids, 2.5), B::from({true, true, false}));
  EXPECT_EQ(ops::eq(ids, 2), B::from({false, true, false}));
  EXPECT_EQ(ops::eq(ids, Tensor<std::int64_t>::from({3, 2, 1})), B::from({false, true, false}));
}

TEST(CompareOp, NonContiguousInputs) {
  auto a = D::from({{1, 2}, {3, 4}, {5, 6}}).t();  // [2, 3]
  EXPECT_EQ(ops::ge(a, D::from({{1}, {5}})), B::from({{true, true, true}, {false, false, true}}));
  EXPECT_EQ(ops::eq(a.slice(1, 0, 3, 2), 5), B::from({{false, true}, {false, false}}));
}

TEST(CompareOp, NaNComparesUnequalToEverything) {
  auto x = D::from({NAN, 1});
  EXPECT_EQ(ops::eq(x, x), B::from({false, true}));
  EXPECT_EQ(ops::ne(x, x), B::from({true, false}));
  EXPECT_EQ(ops::lt(x, 2), B::from({false, true}));
}

TEST(CompareOp, IncompatibleShapesNameOpAndBothShapes) {
  EXPECT_THAT([] { ops::lt(D::zeros({2, 3}), D::zeros({4})); },
              ThrowsMessage<ShapeError>(StrEq("lt: shapes [2, 3] and [4] cannot be broadcast (axis 1: 3 vs 4)")));
  EXPECT_THAT([] { ops::logical_and(B::zeros({2}), B::zeros({3})); },
              ThrowsMessage<ShapeError>(StrEq("logical_and: shapes [2] and [3] cannot be broadcast (axis 0: 2 vs 3)")));
}

TEST(LogicalOp, TruthTablesWithBroadcasting) {
  auto a = B::from({{true}, {false}});  // [2, 1]
  auto b = B::from({true, false});      // [2]
  EXPECT_EQ(ops::logical_not(b), B::from({false, true}));
  EXPECT_EQ(ops::logical_and(a, b), B::from({{true, false}, {false, false}}));
  EXPECT_EQ(ops::logical_or(a, b), B::from({{true, true}, {true, false}}));
  EXPECT_EQ(ops::logical_xor(a, b), B::from({{false, true}, {true, false}}));
  EXPECT_EQ(ops::logical_not(ops::gt(D::from({1, -1}), 0)), B::from({false, true}));
}

TEST(FiniteOp, IsFiniteAndIsNaN) {
  const double inf = std::numeric_limits<double>::infinity();
  auto x = D::from({1, inf, -inf, NAN, 0});
  EXPECT_EQ(ops::isfinite(x), B::from({true, false, false, false, true}));
  EXPECT_EQ(ops::isnan(x), B::from({false, false, false, true, false}));
  EXPECT_EQ(ops::isfinite(Tensor<float>::from({1e38f, NAN})), B::from({true, false}));
  EXPECT_EQ(ops::isfinite(Tensor<std::int64_t>::from({7})), B::from({true}));
  EXPECT_EQ(ops::isnan(Tensor<std::int64_t>::from({7})), B::from({false}));
}

TEST(CompareOp, ResultsFeedWhereAndMaskedFill) {
  auto x = D::from({-2, 3, -1});
  EXPECT_EQ(ops::where(ops::gt(x, 0), x, 0.0), D::from({0, 3, 0}));
  EXPECT_EQ(ops::masked_fill(x, ops::lt(x, -1.5), 9), D::from({9, 3, -1}));
}

}  // namespace
}  // namespace foundry
