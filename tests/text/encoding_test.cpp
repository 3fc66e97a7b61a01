// tests/text/encoding_test.cpp mirrors include/foundry/text/encoding.hpp
#include "foundry/text/encoding.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

namespace foundry::text {
namespace {

using Ids = std::vector<std::int32_t>;
using testing::StrEq;
using testing::ThrowsMessage;

TEST(Truncate, LongestFirstTakesFromTheLongerSecondOnTies) {
  Ids a = {1, 2, 3, 4, 5}, b = {6, 7, 8};
  truncate(a, &b, 3, 8, Truncation::kLongestFirst);  // 11 tokens, 3 to go: a, a, then b on the 3-3 tie
  EXPECT_EQ(a, (Ids{1, 2, 3}));
  EXPECT_EQ(b, (Ids{6, 7}));
}

TEST(Truncate, OnlyFirstOnlySecondAndSingle) {
  Ids a = {1, 2, 3, 4, 5}, b = {6, 7, 8};
  truncate(a, &b, 3, 9, Truncation::kOnlyFirst);
  EXPECT_EQ(a, (Ids{1, 2, 3}));
  EXPECT_EQ(b.size(), 3u);
  truncate(a, &b, 3, 7, Truncation::kOnlySecond);
  EXPECT_EQ(b, (Ids{6}));
  Ids single = {1, 2, 3, 4};
  truncate(single, nullptr, 2, 5, Truncation::kLongestFirst);
  EXPECT_EQ(single, (Ids{1, 2, 3}));
  truncate(single, nullptr, 2, 100, Truncation::kOnlyFirst);  // fits: untouched
  EXPECT_EQ(single.size(), 3u);
}

TEST(Truncate, ImpossibleCutsNameTheNumbers) {
  Ids a = {1, 2}, b = {3, 4, 5, 6};
  EXPECT_THAT([&] { truncate(a, &b, 3, 5, Truncation::kOnlyFirst); },
              ThrowsMessage<ValueError>(StrEq("truncate: max_length 5 needs 4 tokens removed but the first sequence has "
                                              "only 2; 9 tokens with 3 special tokens")));
  EXPECT_THAT([&] { truncate(a, nullptr, 2, 3, Truncation::kOnlySecond); },
              ThrowsMessage<ValueError>(StrEq("truncate: only_second needs a pair of sequences")));
  EXPECT_THAT([&] { truncate(a, &b, 3, 2, Truncation::kLongestFirst); },
              ThrowsMessage<ValueError>(StrEq("truncate: max_length 2 is below the 3 special tokens")));
}

TEST(Assemble, AddsClsAndSepWithSegments) {
  const Ids a = {10, 11}, b = {20};
  const Encoding e = assemble(a, &b, true, 101, 102);
  EXPECT_EQ(e.ids, (Ids{101, 10, 11, 102, 20, 102}));
  EXPECT_EQ(e.token_type_ids, (Ids{0, 0, 0, 0, 1, 1}));
  EXPECT_EQ(e.attention_mask, (Ids{1, 1, 1, 1, 1, 1}));
  EXPECT_EQ(e.special_tokens_mask, (Ids{1, 0, 0, 1, 0, 1}));
  EXPECT_EQ(assemble(a, nullptr, false, 101, 102).ids, a);
}

TEST(Pad, ToLongestToMaxLengthAndToMultiples) {
  std::vector<Encoding> batch = {assemble(Ids{5}, nullptr, true, 1, 2), assemble(Ids{5, 6, 7}, nullptr, true, 1, 2)};
  pad(batch, {.padding = Padding::kLongest}, 0);
  EXPECT_EQ(batch[0].ids, (Ids{1, 5, 2, 0, 0}));
  EXPECT_EQ(batch[0].attention_mask, (Ids{1, 1, 1, 0, 0}));
  EXPECT_EQ(batch[0].token_type_ids, (Ids{0, 0, 0, 0, 0}));
  EXPECT_EQ(batch[0].special_tokens_mask, (Ids{1, 0, 1, 1, 1}));
  EXPECT_EQ(batch[1].size(), 5u);
  pad(batch, {.padding = Padding::kLongest, .pad_to_multiple_of = 4}, 0);
  EXPECT_EQ(batch[1].size(), 8u);
  pad(batch, {.max_length = 6, .padding = Padding::kMaxLength}, 0);  // already longer: left alone
  EXPECT_EQ(batch[0].size(), 8u);
  EXPECT_THAT([&] { pad(batch, {.padding = Padding::kMaxLength}, 0); },
              ThrowsMessage<ValueError>(StrEq("pad: Padding::kMaxLength needs max_length")));
}

}  // namespace
}  // namespace foundry::text
