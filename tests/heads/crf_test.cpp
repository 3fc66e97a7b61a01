// tests/heads/crf_test.cpp mirrors include/foundry/heads/crf.hpp: the fused NLL against finite
// differences, brute-force enumeration of every tag path, and pytorch-crf's formulas
// (tests/fixtures/heads/crf.safetensors from tests/reference/make_head_fixtures.py).
#include <algorithm>
#include <cmath>

#include "foundry/heads/crf.hpp"
#include "support/fixtures.hpp"

namespace foundry {
namespace {

using ::testing::HasSubstr;
using ::testing::ThrowsMessage;

// Every path of the first L timesteps of row b, by odometer; fn(path, score).
template <class F>
void for_each_path(const heads::Crf<double>& crf, const Tensor<double>& e, Index b, Index L, F&& fn) {
  const Index K = crf.num_tags();
  std::vector<std::int64_t> path(static_cast<std::size_t>(L), 0);
  while (true) {
    double s = crf.start_transitions().data()[path[0]] + e(b, 0, path[0]);
    for (Index t = 1; t < L; ++t) s += crf.transitions()(path[t - 1], path[t]) + e(b, t, path[t]);
    s += crf.end_transitions().data()[path[L - 1]];
    fn(path, s);
    Index t = L - 1;
    while (t >= 0 && ++path[t] == K) path[t--] = 0;
    if (t < 0) return;
  }
}

Tensor<std::int64_t> prefix_mask(const std::vector<Index>& lengths, Index S) {
  Tensor<std::int64_t> m = Tensor<std::int64_t>::zeros({static_cast<Index>(lengths.size()), S});
  for (std::size_t b = 0; b < lengths.size(); ++b)
    for (Index t = 0; t < lengths[b]; ++t) m(static_cast<Index>(b), t) = 1;
  return m;
}

TEST(Crf, ParametersHavePytorchCrfNamesShapesAndInit) {
  Generator g(1);
  heads::Crf<float> crf(5, g);
  const auto named = crf.named_parameters();
  ASSERT_EQ(named.size(), 3u);
  EXPECT_EQ(named[0].first, "start_transitions");
  EXPECT_EQ(named[1].first, "end_transitions");
  EXPECT_EQ(named[2].first, "transitions");
  EXPECT_EQ(named[0].second.shape(), Shape({5}));
  EXPECT_EQ(named[1].second.shape(), Shape({5}));
  EXPECT_EQ(named[2].second.shape(), Shape({5, 5}));
  for (const auto& [name, p] : named)
    for (float v : p.to_vector()) {
      EXPECT_GE(v, -0.1f) << name;
      EXPECT_LT(v, 0.1f) << name;
    }
  EXPECT_EQ(crf.type_name(), "CRF");
}

TEST(Crf, NllGradientsMatchFiniteDifferencesWithMasks) {
  Generator g(2);
  const Index B = 3, S = 4, K = 3;
  const auto e = support::random_tensor<double>({B, S, K}, g);
  const auto start = support::random_tensor<double>({K}, g, 0.5), end = support::random_tensor<double>({K}, g, 0.5);
  const auto trans = support::random_tensor<double>({K, K}, g, 0.5);
  auto tags = randint(0, K, {B, S}, g);
  tags(1, 3) = -100;  // padding: never read
  const std::vector<Index> lengths{4, 3, 1};
  for (Reduction r : {Reduction::None, Reduction::Sum, Reduction::Mean}) {
    EXPECT_TRUE(gradcheck([&](auto& x, auto& s, auto& en, auto& tr) { return heads::crf_nll(x, tags, lengths, s, en, tr, r); },
                          e, start, end, trans))
        << "reduction " << static_cast<int>(r);
  }
}

TEST(Crf, PaddedEmissionsGetNoGradientAndDoNotChangeTheLoss) {
  Generator g(3);
  heads::Crf<double> crf(3, g);
  auto e = support::random_tensor<double>({2, 5, 3}, g).requires_grad_();
  const auto tags = randint(0, 3, {2, 5}, g);
  const auto mask = prefix_mask({5, 2}, 5);
  crf.forward(e, tags, mask).backward();
  for (Index t = 2; t < 5; ++t)
    for (Index k = 0; k < 3; ++k) EXPECT_EQ(e.grad()(1, t, k), 0.0);
  const double before = crf.forward(e, tags, mask).item();
  Tensor<double> changed = e.detach().clone_data();
  changed(1, 4, 2) += 100;
  EXPECT_EQ(crf.forward(changed, tags, mask).item(), before);
}

TEST(Crf, LogPartitionNllAndViterbiMatchBruteForceOverAllPaths) {
  Generator g(4);
  const Index B = 4, S = 4, K = 3;
  heads::Crf<double> crf(K, g);
  nn::init::fill_from(crf.transitions(), support::random_tensor<double>({K, K}, g));  // larger than the init's ±0.1
  nn::init::fill_from(crf.start_transitions(), support::random_tensor<double>({K}, g));
  nn::init::fill_from(crf.end_transitions(), support::random_tensor<double>({K}, g));
  const auto e = support::random_tensor<double>({B, S, K}, g, 2.0);
  const auto tags = randint(0, K, {B, S}, g);
  const std::vector<Index> lengths{4, 3, 2, 1};
  const auto mask = prefix_mask(lengths, S);
  const auto log_z = crf.log_partition(e, mask);
  const auto nll = crf.forward(e, tags, mask, Reduction::None);
  const auto gold = crf.score(e, tags, mask);
  const auto best = crf.decode(e, mask);
  for (Index b = 0; b < B; ++b) {
    std::vector<double> scores;
    double best_score = -INFINITY, gold_score = 0;
    std::vector<std::int64_t> argmax;
    std::vector<std::int64_t> gold_path(tags.data() + b * S, tags.data() + b * S + lengths[b]);
    for_each_path(crf, e, b, lengths[b], [&](const std::vector<std::int64_t>& path, double s) {
      scores.push_back(s);
      if (s > best_score) best_score = s, argmax = path;
      if (path == gold_path) gold_score = s;
    });
    EXPECT_EQ(scores.size(), static_cast<std::size_t>(std::pow(K, lengths[b])));
    const double m = *std::max_element(scores.begin(), scores.end());
    double sum = 0;
    for (double s : scores) sum += std::exp(s - m);
    const double brute_log_z = m + std::log(sum);
    EXPECT_NEAR(log_z.data()[b], brute_log_z, 1e-12) << "row " << b;
    EXPECT_NEAR(gold.data()[b], gold_score, 1e-12) << "row " << b;
    EXPECT_NEAR(nll.data()[b], brute_log_z - gold_score, 1e-12) << "row " << b;
    EXPECT_EQ(best[b], argmax) << "row " << b;
  }
  EXPECT_NEAR(crf.forward(e, tags, mask).item(), nll.sum().item(), 1e-12);                       // Sum (default)
  EXPECT_NEAR(crf.forward(e, tags, mask, Reduction::Mean).item(), nll.sum().item() / B, 1e-12);  // mean over the batch
}

TEST(Crf, MatchesPytorchCrfLikelihoodGradientsAndViterbi) {
  const auto f = support::load_fixture<double>("heads/crf.safetensors");
  const auto ints = support::load_fixture<std::int64_t>("heads/crf.safetensors");
  heads::Crf<double> crf(4);
  crf.load_state_dict({{"start_transitions", f.at("start_transitions")}, {"end_transitions", f.at("end_transitions")},
                       {"transitions", f.at("transitions")}});
  const auto e = f.at("input.emissions").clone_data().requires_grad_();
  const auto& tags = ints.at("input.tags");
  const auto& mask = ints.at("input.mask");
  // Inputs are float32 values; the reference ran in float64 from them and was rounded to float32.
  EXPECT_TRUE(support::allclose(crf.forward(e, tags, mask, Reduction::None), -f.at("output.llh"), 1e-6, 1e-6));
  EXPECT_TRUE(support::allclose(crf.log_partition(e, mask), f.at("output.log_partition"), 1e-6, 1e-6));
  EXPECT_NEAR(crf.forward(e, tags, mask).item(), f.at("output.nll_sum").item(), 1e-5);
  EXPECT_NEAR(crf.forward(e, tags, mask, Reduction::Mean).item(), f.at("output.nll_mean").item(), 1e-5);
  const Tensor<double> loss = (crf.forward(e, tags, mask, Reduction::None) * f.at("loss.r")).sum();
  EXPECT_NEAR(loss.item(), f.at("output.loss").item(), 1e-5);
  loss.backward();
  EXPECT_TRUE(support::allclose(e.grad(), f.at("grad.emissions"), 1e-6, 1e-5));
  for (const auto& [name, p] : crf.named_parameters())
    EXPECT_TRUE(support::allclose(p.grad(), f.at("grad." + name), 1e-6, 1e-5)) << name;
  const auto best = crf.decode(e, mask);
  const auto& want = ints.at("output.viterbi");
  for (Index b = 0; b < 3; ++b) {
    std::vector<std::int64_t> expected;
    for (Index t = 0; t < 5 && want(b, t) >= 0; ++t) expected.push_back(want(b, t));
    EXPECT_EQ(best[b], expected) << "row " << b;
  }
}

TEST(Crf, FloatMatchesDoubleAndBoolMaskMatchesIntegerMask) {
  Generator g(5);
  heads::Crf<double> crf64(4, g);
  heads::Crf<float> crf32(4, g);
  crf32.load_state_dict({{"start_transitions", crf64.start_transitions().to<float>()},
                         {"end_transitions", crf64.end_transitions().to<float>()},
                         {"transitions", crf64.transitions().to<float>()}});
  const auto e = support::random_tensor<double>({2, 6, 4}, g, 3.0);
  const auto tags = randint(0, 4, {2, 6}, g);
  const auto mask = prefix_mask({6, 3}, 6);
  Tensor<bool> bool_mask = Tensor<bool>::empty({2, 6});
  for (Index i = 0; i < 12; ++i) bool_mask.data()[i] = mask.data()[i] != 0;
  const auto nll = crf64.forward(e, tags, mask, Reduction::None);
  EXPECT_TRUE(support::allclose(crf64.forward(e, tags, bool_mask, Reduction::None), nll, 0, 0));
  EXPECT_TRUE(support::allclose(crf32.forward(e.to<float>(), tags, mask, Reduction::None), nll.to<float>(), 1e-5, 1e-5));
  EXPECT_EQ(crf32.decode(e.to<float>(), bool_mask), crf64.decode(e, mask));
  // No mask means every timestep is on.
  EXPECT_TRUE(support::allclose(crf64.forward(e, tags), crf64.forward(e, tags, Tensor<std::int64_t>::ones({2, 6})), 0, 0));
}

TEST(Crf, LargeScoresStayFinite) {
  Generator g(6);
  heads::Crf<float> crf(5, g);
  const auto e = support::random_tensor<float>({2, 8, 5}, g, 1000.0);  // exp would overflow float (and double)
  const auto tags = randint(0, 5, {2, 8}, g);
  const auto nll = crf.forward(e, tags, {}, Reduction::None);
  for (float v : nll.to_vector()) {
    EXPECT_TRUE(std::isfinite(v));
    EXPECT_GE(v, -1e-3f * 1000);  // log Z >= any path's score, up to float rounding of scores near 1e4
  }
}

TEST(Crf, SingleTagAndSingleTimestep) {
  heads::Crf<double> crf(1);
  const auto e = Tensor<double>::from({0.5, 1.5}, {1, 2, 1});
  // One tag: one path, so log Z is its score and the NLL is 0.
  EXPECT_NEAR(crf.forward(e, Tensor<std::int64_t>::zeros({1, 2})).item(), 0.0, 1e-12);
  EXPECT_EQ(crf.decode(e), (std::vector<std::vector<std::int64_t>>{{0, 0}}));
}

TEST(Crf, BadInputsNameTheProblem) {
  heads::Crf<double> crf(3);
  const auto e = Tensor<double>::zeros({2, 4, 3});
  const auto tags = Tensor<std::int64_t>::zeros({2, 4});
  auto mask = prefix_mask({4, 2}, 4);
  mask(1, 0) = 0;
  EXPECT_THAT([&] { crf.forward(e, tags, mask); },
              ThrowsMessage<ValueError>(HasSubstr("mask[1, 0] is off; the first timestep of every sequence must be on")));
  auto holes = prefix_mask({4, 2}, 4);
  holes(1, 3) = 1;
  EXPECT_THAT([&] { crf.decode(e, holes); },
              ThrowsMessage<ValueError>(HasSubstr("mask row 1 is on again at timestep 3 after padding began at 2")));
  auto bad_tags = tags.clone_data();
  bad_tags(0, 2) = 3;
  EXPECT_THAT([&] { crf.forward(e, bad_tags); }, ThrowsMessage<IndexError>(HasSubstr("tag 3 at [0, 2] is outside [0, 3)")));
  bad_tags(0, 2) = -100;
  EXPECT_THAT([&] { crf.forward(e, bad_tags); }, ThrowsMessage<IndexError>(HasSubstr("tag -100 at [0, 2]")));
  EXPECT_THAT([&] { crf.forward(Tensor<double>::zeros({2, 4, 5}), tags); },
              ThrowsMessage<ShapeError>(HasSubstr("for emissions [2, 4, 5] start_transitions and end_transitions must be [5]")));
  EXPECT_THAT([&] { crf.forward(e, Tensor<std::int64_t>::zeros({2, 3})); },
              ThrowsMessage<ShapeError>(HasSubstr("tags shape [2, 3] must be [B, S] = [2, 4]")));
  EXPECT_THAT([&] { crf.forward(e, tags, Tensor<std::int64_t>::ones({2, 3})); },
              ThrowsMessage<ShapeError>(HasSubstr("mask shape [2, 3] must equal tags shape [2, 4]")));
  EXPECT_THAT([&] { crf.forward(Tensor<double>::zeros({2, 4}), tags); },
              ThrowsMessage<ShapeError>(HasSubstr("emissions must be [B, S, K], got [2, 4]")));
  EXPECT_THAT([] { heads::Crf<double>(0); }, ThrowsMessage<ValueError>(HasSubstr("num_tags must be at least 1, got 0")));
  EXPECT_THAT([&] { heads::crf_nll(e, tags, {4, 5}, crf.start_transitions(), crf.end_transitions(), crf.transitions()); },
              ThrowsMessage<ValueError>(HasSubstr("sequence 1 has length 5, outside [1, 4]")));
}

}  // namespace
}  // namespace foundry
