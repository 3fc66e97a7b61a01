// tests/ops/view_test.cpp mirrors include/foundry/ops/view.hpp: gradients of every view op.
#include "support/testing.hpp"

namespace foundry {
namespace {

class ViewGrad : public ::testing::Test {
 protected:
  Generator rng{11};
  Tensor<double> x = support::random_tensor<double>({3, 4, 2}, rng);
  Tensor<double> xt = support::random_tensor<double>({4, 3}, rng).t();  // non-contiguous [3, 4]
};

TEST_F(ViewGrad, Reshape) {
  EXPECT_TRUE(gradcheck([](const Tensor<double>& a) { return ops::reshape(a, {4, -1}); }, x));
  EXPECT_TRUE(gradcheck([](const Tensor<double>& a) { return ops::reshape(a, {12}); }, xt));  // copies
  EXPECT_TRUE(gradcheck([](const Tensor<double>& a) { return ops::flatten(a, 1); }, x));
}

TEST_F(ViewGrad, PermuteAndTranspose) {
  EXPECT_TRUE(gradcheck([](const Tensor<double>& a) { return ops::permute(a, {2, 0, 1}); }, x));
  EXPECT_TRUE(gradcheck([](const Tensor<double>& a) { return ops::transpose(a, 0, 1); }, xt));
}

TEST_F(ViewGrad, SliceNarrowSelect) {
  EXPECT_TRUE(gradcheck([](const Tensor<double>& a) { return ops::slice(a, 1, 1, 4, 2); }, x));
  EXPECT_TRUE(gradcheck([](const Tensor<double>& a) { return ops::slice(a, 0, -2, 10); }, xt));
  EXPECT_TRUE(gradcheck([](const Tensor<double>& a) { return ops::narrow(a, 2, 1, 1); }, x));
  EXPECT_TRUE(gradcheck([](const Tensor<double>& a) { return ops::select(a, 1, -1); }, x));
  EXPECT_TRUE(gradcheck([](const Tensor<double>& a) { return ops::select(a, 0, 2); }, xt));
}

TEST_F(ViewGrad, ExpandSqueezeUnsqueeze) {
  auto col = support::random_tensor<double>({3, 1}, rng);
  EXPECT_TRUE(gradcheck([](const Tensor<double>& a) { return ops::expand(a, {2, 3, 5}); }, col));
  EXPECT_TRUE(gradcheck([](const Tensor<double>& a) { return ops::squeeze(a); }, col));
  EXPECT_TRUE(gradcheck([](const Tensor<double>& a) { return ops::squeeze(a, 1); }, col));
  EXPECT_TRUE(gradcheck([](const Tensor<double>& a) { return ops::unsqueeze(a, 1); }, xt));
}

TEST_F(ViewGrad, ChainsOfViewsOverNonContiguousInput) {
  EXPECT_TRUE(gradcheck(
      [](const Tensor<double>& a) { return a.transpose(0, 1).slice(0, 0, 4, 3).unsqueeze(0).expand({2, 2, 3}).select(2, 1); },
      xt));
  EXPECT_TRUE(gradcheck([](const Tensor<double>& a) { return a.clone().contiguous(); }, xt));
}

TEST(ViewValues, SliceClampsLikePython) {
  auto x = arange<double>(5);
  EXPECT_EQ(x.slice(0, -3, 100), Tensor<double>::from({2, 3, 4}));
  EXPECT_EQ(x.slice(0, 4, 2).numel(), 0);
  EXPECT_EQ(x.slice(0, 0, 5, 2), Tensor<double>::from({0, 2, 4}));
}

}  // namespace
}  // namespace foundry
