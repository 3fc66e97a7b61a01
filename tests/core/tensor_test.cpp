// tests/core/tensor_test.cpp mirrors include/foundry/core/tensor.hpp (+ shape, storage, factory, print)
#include "support/testing.hpp"

namespace foundry {
namespace {

using ::testing::HasSubstr;
using ::testing::ThrowsMessage;

TEST(Shape, NumelStridesAndPrinting) {
  const Shape s{2, 3, 4};
  EXPECT_EQ(s.numel(), 24);
  EXPECT_EQ(contiguous_strides(s), (Shape{12, 4, 1}));
  EXPECT_EQ(s.str(), "[2, 3, 4]");
  EXPECT_EQ(Shape{}.numel(), 1);
  EXPECT_THAT([] { Shape({1, 1, 1, 1, 1, 1, 1, 1, 1}); }, ThrowsMessage<ShapeError>(HasSubstr("9 dimensions given, at most 8")));
}

TEST(Shape, BroadcastRulesAndErrors) {
  EXPECT_EQ(detail::broadcast_shapes("add", {3, 1, 4}, {2, 4}), (Shape{3, 2, 4}));
  EXPECT_EQ(detail::broadcast_shapes("add", {}, {2}), (Shape{2}));
  EXPECT_THAT([] { detail::broadcast_shapes("add", {2, 3}, {4}); },
              ThrowsMessage<ShapeError>(HasSubstr("add: shapes [2, 3] and [4] cannot be broadcast")));
}

TEST(Tensor, StorageIsSixtyFourByteAligned) {
  for (Index n : {1, 3, 17, 1000}) {
    auto t = zeros<float>({n});
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(t.data()) % 64, 0u);
  }
}

TEST(Tensor, FactoriesFillValues) {
  EXPECT_EQ(zeros<double>({2, 2}), Tensor<double>::from({{0, 0}, {0, 0}}));
  EXPECT_EQ(full<float>({3}, 2.5f), Tensor<float>::from({2.5f, 2.5f, 2.5f}));
  EXPECT_EQ(arange<double>(0, 1, 0.25), Tensor<double>::from({0, 0.25, 0.5, 0.75}));
  EXPECT_EQ(arange<std::int64_t>(4), Tensor<std::int64_t>::from({0, 1, 2, 3}));
  EXPECT_EQ(eye<double>(2, 3), Tensor<double>::from({{1, 0, 0}, {0, 1, 0}}));
  EXPECT_EQ(Tensor<double>::from({{{1, 2}}, {{3, 4}}}).shape(), (Shape{2, 1, 2}));
}

TEST(Tensor, FromRejectsWrongCountAndRaggedRows) {
  EXPECT_THAT([] { Tensor<float>::from(std::vector<float>{1, 2, 3}, {2, 2}); },
              ThrowsMessage<ShapeError>(HasSubstr("3 values cannot fill shape [2, 2]")));
  EXPECT_THAT([] { Tensor<float>::from({{1.f, 2.f}, {3.f}}); }, ThrowsMessage<ShapeError>(HasSubstr("ragged rows")));
}

TEST(Tensor, ViewsShareStorage) {
  auto x = arange<double>(12).reshape({3, 4});
  auto t = x.t();
  EXPECT_TRUE(t.shares_storage_with(x));
  EXPECT_EQ(t.shape(), (Shape{4, 3}));
  EXPECT_EQ(t.strides(), (Shape{1, 4}));
  EXPECT_FALSE(t.is_contiguous());
  EXPECT_EQ(t.at({1, 2}), 9);
  x.at({2, 1}) = 100;  // visible through the view
  EXPECT_EQ(t.at({1, 2}), 100);
  auto s = x.slice(1, 1, 4, 2);  // columns 1 and 3
  EXPECT_EQ(s, Tensor<double>::from({{1, 3}, {5, 7}, {100, 11}}));
  EXPECT_EQ(x.select(0, 1), Tensor<double>::from({4, 5, 6, 7}));
  EXPECT_EQ(x.narrow(0, 1, 2).shape(), (Shape{2, 4}));
  auto e = Tensor<double>::from({1, 2, 3}).unsqueeze(0).expand({2, 3});
  EXPECT_EQ(e.strides(), (Shape{0, 1}));
  EXPECT_EQ(e, Tensor<double>::from({{1, 2, 3}, {1, 2, 3}}));
}

TEST(Tensor, ContiguousCopiesOnlyWhenNeeded) {
  auto x = arange<float>(6).reshape({2, 3});
  EXPECT_TRUE(x.contiguous().same(x));
  auto c = x.t().contiguous();
  EXPECT_FALSE(c.shares_storage_with(x));
  EXPECT_TRUE(c.is_contiguous());
  EXPECT_EQ(c, Tensor<float>::from({{0, 3}, {1, 4}, {2, 5}}));
  auto r = x.t().reshape({6});  // not viewable: copies
  EXPECT_EQ(r, Tensor<float>::from({0, 3, 1, 4, 2, 5}));
  EXPECT_TRUE(x.reshape({3, 2}).shares_storage_with(x));
}

TEST(Tensor, ItemAndCheckedAccess) {
  EXPECT_EQ(scalar_tensor(3.5).item(), 3.5);
  auto x = zeros<float>({2, 3});
  EXPECT_THAT([&] { x.item(); }, ThrowsMessage<ValueError>(HasSubstr("item: tensor of shape [2, 3] has 6 elements")));
  EXPECT_THAT([&] { x.at({2, 0}); }, ThrowsMessage<IndexError>(HasSubstr("index 2 out of range for axis 0 of size 2")));
  EXPECT_THAT([&] { x.at({0}); }, ThrowsMessage<IndexError>(HasSubstr("1 indices for a tensor of shape [2, 3]")));
  EXPECT_EQ(x.at({-1, -1}), 0.f);
}

TEST(Tensor, ViewErrorsNameOpAndShape) {
  auto x = zeros<float>({2, 3});
  EXPECT_THAT([&] { x.reshape({4, 2}); }, ThrowsMessage<ShapeError>(HasSubstr("reshape: cannot reshape [2, 3] (6 elements) to [4, 2]")));
  EXPECT_THAT([&] { x.t().view({6}); }, ThrowsMessage<ShapeError>(HasSubstr("view: input of shape [3, 2]")));
  EXPECT_THAT([&] { x.select(1, 3); }, ThrowsMessage<IndexError>(HasSubstr("select: index 3 out of range for axis 1 of size 3")));
  EXPECT_THAT([&] { x.expand({2, 4}); }, ThrowsMessage<ShapeError>(HasSubstr("expand: cannot expand [2, 3] to [2, 4]")));
  EXPECT_THAT([&] { x.transpose(0, 2); }, ThrowsMessage<IndexError>(HasSubstr("transpose: axis 2 out of range")));
  EXPECT_THAT([&] { x.permute({0, 0}); }, ThrowsMessage<ShapeError>(HasSubstr("permute: axis 0 repeated")));
  EXPECT_THAT([&] { x.narrow(1, 2, 2); }, ThrowsMessage<IndexError>(HasSubstr("narrow: [2, 4) out of range for axis 1 of size 3")));
}

TEST(Tensor, SqueezeUnsqueezeFlatten) {
  auto x = zeros<float>({2, 1, 3, 1});
  EXPECT_EQ(x.squeeze().shape(), (Shape{2, 3}));
  EXPECT_EQ(x.squeeze(1).shape(), (Shape{2, 3, 1}));
  EXPECT_EQ(x.squeeze(0).shape(), (Shape{2, 1, 3, 1}));
  EXPECT_EQ(x.unsqueeze(-1).shape(), (Shape{2, 1, 3, 1, 1}));
  EXPECT_EQ(x.flatten(0, 2).shape(), (Shape{6, 1}));
  EXPECT_EQ(x.reshape({-1, 3}).shape(), (Shape{2, 3}));
}

TEST(Tensor, PrintsLikePyTorch) {
  std::ostringstream os;
  os << Tensor<float>::from({{0.5f, -1.25f}, {2.f, 3.f}});
  EXPECT_EQ(os.str(), "tensor([[ 0.5000, -1.2500],\n        [ 2.0000,  3.0000]], shape=[2, 2], dtype=float32)");
  os.str("");
  os << arange<double>(3);
  EXPECT_EQ(os.str(), "tensor([0., 1., 2.], shape=[3], dtype=float64)");
  os.str("");
  os << arange<std::int64_t>(2000);
  EXPECT_THAT(os.str(), HasSubstr("[   0,    1,    2, ..., 1997, 1998, 1999], shape=[2000], dtype=int64"));
  os.str("");
  os << scalar_tensor(true);
  EXPECT_EQ(os.str(), "tensor(True, shape=[], dtype=bool)");
}

TEST(Tensor, TypeConversion) {
  auto x = Tensor<double>::from({1.7, -2.2});
  EXPECT_EQ(x.to<std::int64_t>(), Tensor<std::int64_t>::from({1, -2}));
  EXPECT_EQ(x.to<float>(), Tensor<float>::from({1.7f, -2.2f}));
}

}  // namespace
}  // namespace foundry
