#include "foundry/heads/classification_metrics.hpp"

#include <gtest/gtest.h>

namespace foundry {
namespace {

// y_true = [0,0,0,1,1,2], y_pred = [0,1,0,1,2,2]; scikit-learn's classification_report gives
// precision [1, .5, .5], recall [2/3, .5, 1], f1 [.8, .5, 2/3], accuracy 4/6.
TEST(ClassificationReport, MatchesScikitLearnOnAThreeClassExample) {
  heads::ClassificationReport r(3);
  const int truth[] = {0, 0, 0, 1, 1, 2}, pred[] = {0, 1, 0, 1, 2, 2};
  for (int i = 0; i < 6; ++i) r.add(truth[i], pred[i]);
  EXPECT_EQ(r.total(), 6);
  EXPECT_DOUBLE_EQ(r.accuracy(), 4.0 / 6.0);
  EXPECT_DOUBLE_EQ(r.precision(0), 1.0);
  EXPECT_DOUBLE_EQ(r.precision(1), 0.5);
  EXPECT_DOUBLE_EQ(r.precision(2), 0.5);
  EXPECT_DOUBLE_EQ(r.recall(0), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(r.recall(2), 1.0);
  EXPECT_DOUBLE_EQ(r.f1(0), 0.8);
  EXPECT_DOUBLE_EQ(r.f1(1), 0.5);
  EXPECT_NEAR(r.f1(2), 2.0 / 3.0, 1e-15);
  EXPECT_NEAR(r.macro_f1(), (0.8 + 0.5 + 2.0 / 3.0) / 3.0, 1e-15);
  EXPECT_EQ(r.confusion(0, 1), 1);
  EXPECT_EQ(r.confusion(1, 2), 1);
  EXPECT_EQ(r.support(0), 3);
  EXPECT_EQ(r.predicted(2), 2);
}

TEST(ClassificationReport, NeverPredictedClassScoresZeroNotNan) {
  heads::ClassificationReport r(2);
  r.add(0, 0);
  r.add(1, 0);
  EXPECT_DOUBLE_EQ(r.precision(1), 0.0);
  EXPECT_DOUBLE_EQ(r.f1(1), 0.0);
  EXPECT_DOUBLE_EQ(r.precision(0), 0.5);
  EXPECT_DOUBLE_EQ(r.accuracy(), 0.5);
}

TEST(ClassificationReport, AddBatchTakesTheArgMaxAndChecksShapes) {
  heads::ClassificationReport r(3);
  const auto labels = Tensor<std::int64_t>::from({2, 0});
  const auto logits = Tensor<float>::from({{0.1f, 0.2f, 0.9f}, {0.5f, 0.5f, -1.0f}});  // tie -> first
  r.add_batch(labels, logits);
  EXPECT_DOUBLE_EQ(r.accuracy(), 1.0);
  EXPECT_THROW(r.add_batch(labels, Tensor<float>::zeros({2, 2})), ShapeError);
  EXPECT_THROW(r.add(3, 0), IndexError);
}

}  // namespace
}  // namespace foundry
