// tests/ops/sgemm_test.cpp mirrors include/foundry/ops/sgemm.hpp: foundry's AVX2 float GEMM. The tests
// are built without -march=native, and the kernel is still the one float matmuls use wherever the CPU
// has AVX2 and FMA (it is chosen at run time); elsewhere they are skipped.
#include <cmath>
#include <vector>

#include "support/testing.hpp"

namespace foundry {
namespace {

#ifdef FOUNDRY_SGEMM_X86
namespace sg = ops::detail::sgemm;

// A [rows, cols] float matrix inside a larger buffer, element (i, j) at data[offset + i*rs + j*cs].
struct Operand {
  std::vector<float> buffer;
  Index rs, cs, offset;
  const float* data() const { return buffer.data() + offset; }
  float at(Index i, Index j) const { return data()[i * rs + j * cs]; }
};

// layout 0: row-major, 1: column-major, 2: neither stride unit (every other element of a wider row).
Operand random_operand(Index rows, Index cols, int layout, Index offset, Generator& rng) {
  Operand m{{}, 0, 0, offset};
  if (layout == 0) m.rs = cols + 3, m.cs = 1;
  if (layout == 1) m.rs = 1, m.cs = rows + 5;
  if (layout == 2) m.rs = 2 * cols + 1, m.cs = 2;
  const Index span = (rows - 1) * m.rs + (cols - 1) * m.cs + 1;
  const auto values = randn<float>({offset + span}, rng);
  m.buffer.assign(values.data(), values.data() + values.numel());
  return m;
}

// C (+)= A·B through the kernel, C [M, N] rows ldc = N + 7 apart, pre-filled with `init`; checks every
// element against a double-precision product (error bound: K float roundings of the |a|·|b| sum) and
// that the 7 padding floats after each row are untouched.
void expect_matches_double(Index M, Index N, Index K, int a_layout, int b_layout, bool accumulate, Generator& rng) {
  const Operand a = random_operand(M, K, a_layout, 1, rng), b = random_operand(K, N, b_layout, 3, rng);
  const Index ldc = N + 7;
  std::vector<float> c(static_cast<std::size_t>(M * ldc));
  for (std::size_t i = 0; i < c.size(); ++i) c[i] = static_cast<float>(i % 13) - 6.0f;
  const std::vector<float> before = c;
  sg::gemm(M, N, K, a.data(), a.rs, a.cs, b.data(), b.rs, b.cs, c.data(), ldc, accumulate);
  for (Index i = 0; i < M; ++i) {
    for (Index j = 0; j < N; ++j) {
      double want = accumulate ? before[static_cast<std::size_t>(i * ldc + j)] : 0.0, magnitude = std::abs(want);
      for (Index p = 0; p < K; ++p) {
        want += static_cast<double>(a.at(i, p)) * b.at(p, j);
        magnitude += std::abs(static_cast<double>(a.at(i, p)) * b.at(p, j));
      }
      const double bound = 1e-6 * static_cast<double>(K + 2) * magnitude + 1e-30;
      ASSERT_NEAR(c[static_cast<std::size_t>(i * ldc + j)], want, bound)
          << "M " << M << " N " << N << " K " << K << " layouts " << a_layout << "," << b_layout << " acc " << accumulate << " at ("
          << i << ", " << j << ")";
    }
    for (Index j = N; j < ldc; ++j) ASSERT_EQ(c[static_cast<std::size_t>(i * ldc + j)], before[static_cast<std::size_t>(i * ldc + j)]);
  }
}

class Sgemm : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!ops::detail::own_sgemm_enabled()) GTEST_SKIP() << "this CPU has no AVX2+FMA (or FOUNDRY_GEMM=eigen): Eigen's GEMM is used";
  }
};

// Every edge of the blocking: tiles of 1..6 rows and 1..16 columns, depth across the 256-deep blocks
// (K = 257 and 513 add one more block; K = 13 leaves 5 past the packing's 8-deep transposes), more
// rows than one packed A block (168), every operand layout.
TEST_F(Sgemm, EveryShapeAndLayoutMatchesDoubleProduct) {
  Generator rng(21);
  for (Index M : {1, 5, 6, 7, 13, 175})
    for (Index N : {1, 15, 16, 17, 40})
      for (Index K : {1, 8, 13, 257})
        for (int la = 0; la < 3; ++la)
          for (int lb = 0; lb < 3; ++lb) expect_matches_double(M, N, K, la, lb, (M + N + K + la + lb) % 2 == 0, rng);
  expect_matches_double(170, 4100, 40, 0, 1, true, rng);  // wider than one packed B block (4080 columns)
  expect_matches_double(30, 20, 600, 1, 0, false, rng);   // three depth blocks
}

TEST_F(Sgemm, ZeroDepthWritesZerosOrLeavesCAlone) {
  std::vector<float> c(6, 5.0f);
  const float dummy = 1.0f;
  sg::gemm(2, 3, 0, &dummy, 1, 1, &dummy, 1, 1, c.data(), 3, true);
  EXPECT_EQ(c, std::vector<float>(6, 5.0f));
  sg::gemm(2, 3, 0, &dummy, 1, 1, &dummy, 1, 1, c.data(), 3, false);
  EXPECT_EQ(c, std::vector<float>(6, 0.0f));
}

// Each element sums its products in one fixed order, so computing C in row blocks or column blocks
// (as matmul does, one per thread) or from operands at other addresses gives the very same bits.
TEST_F(Sgemm, BitsIndependentOfSplitAndAddresses) {
  Generator rng(22);
  const Index M = 100, N = 70, K = 300;
  const Operand a = random_operand(M, K, 0, 0, rng), b = random_operand(K, N, 1, 0, rng);
  std::vector<float> whole(static_cast<std::size_t>(M * N));
  sg::gemm(M, N, K, a.data(), a.rs, a.cs, b.data(), b.rs, b.cs, whole.data(), N, false);

  std::vector<float> split(whole.size());
  for (Index r0 : {0, 37, 61}) {
    const Index r1 = r0 == 0 ? 37 : r0 == 37 ? 61 : M;
    sg::gemm(r1 - r0, N, K, a.data() + r0 * a.rs, a.rs, a.cs, b.data(), b.rs, b.cs, split.data() + r0 * N, N, false);
  }
  EXPECT_EQ(split, whole);
  for (Index c0 : {0, 19})
    sg::gemm(M, c0 == 0 ? 19 : N - 19, K, a.data(), a.rs, a.cs, b.data() + c0 * b.cs, b.rs, b.cs, split.data() + c0, N, false);
  EXPECT_EQ(split, whole);

  for (Index shift = 1; shift < 8; ++shift) {  // the same values, one float further on each time
    Operand a2 = a;
    a2.buffer.insert(a2.buffer.begin(), static_cast<std::size_t>(shift), 0.0f);
    a2.offset += shift;
    std::vector<float> moved(whole.size() + 8);
    sg::gemm(M, N, K, a2.data(), a2.rs, a2.cs, b.data(), b.rs, b.cs, moved.data() + shift, N, false);
    EXPECT_TRUE(std::equal(whole.begin(), whole.end(), moved.begin() + shift)) << "shift " << shift;
  }
}

// A deep, narrow B is packed whole and C is walked row block first; a wide one block by block. The two
// loop orders sum every element in the same order: the same columns come out bit-identical.
TEST_F(Sgemm, WholePackedAndBlockwiseBPathsGiveTheSameBits) {
  Generator rng(24);
  const Index M = 200, N = 900, K = 300;  // 912 x 300 floats exceed sg::kWholeB: the blockwise path
  ASSERT_GT((N + 15) / 16 * 16 * K, sg::kWholeB);
  const Operand a = random_operand(M, K, 0, 0, rng), b = random_operand(K, N, 0, 0, rng);
  std::vector<float> wide(static_cast<std::size_t>(M * N)), narrow(static_cast<std::size_t>(M * N));
  sg::gemm(M, N, K, a.data(), a.rs, a.cs, b.data(), b.rs, b.cs, wide.data(), N, false);
  for (Index c0 = 0; c0 < N; c0 += 100)  // 100 x 300 floats: packed whole
    sg::gemm(M, 100, K, a.data(), a.rs, a.cs, b.data() + c0, b.rs, b.cs, narrow.data() + c0, N, false);
  EXPECT_EQ(narrow, wide);
}

// A linear layer's bias added in the last depth block's store gives the bits of adding it after the
// product, on both loop orders, with edge tiles, and on top of an accumulated C; with K = 0, C is the bias.
TEST_F(Sgemm, BiasInTheStoreEqualsAddingItAfter) {
  Generator rng(25);
  for (Index M : {7, 200})
    for (Index N : {21, 900})
      for (Index K : {0, 5, 300})
        for (bool accumulate : {false, true}) {
          const Operand a = random_operand(M, K + 1, 0, 0, rng), b = random_operand(K + 1, N, 1, 0, rng);
          const auto bias = randn<float>({N}, rng);
          std::vector<float> fused(static_cast<std::size_t>(M * N), 0.5f), after = fused;
          sg::gemm(M, N, K, a.data(), a.rs, a.cs, b.data(), b.rs, b.cs, fused.data(), N, accumulate, bias.data());
          sg::gemm(M, N, K, a.data(), a.rs, a.cs, b.data(), b.rs, b.cs, after.data(), N, accumulate);
          for (Index i = 0; i < M; ++i)
            for (Index j = 0; j < N; ++j) after[static_cast<std::size_t>(i * N + j)] += bias.data()[j];
          ASSERT_EQ(fused, after) << "M " << M << " N " << N << " K " << K << " accumulate " << accumulate;
        }
}

// matmul on floats goes through the kernel; the Eigen path (FOUNDRY_GEMM=eigen) agrees to rounding.
TEST_F(Sgemm, MatmulUsesItAndAgreesWithEigen) {
  Generator rng(23);
  const auto x = randn<float>({64, 200}, rng), w = randn<float>({96, 200}, rng);
  const Tensor<float> ours = matmul(x, w.t());
  ops::detail::own_sgemm_enabled() = false;
  const Tensor<float> eigen = matmul(x, w.t());
  ops::detail::own_sgemm_enabled() = true;
  EXPECT_TRUE(support::allclose(ours, eigen, 1e-5, 1e-4));
  std::vector<float> direct(64 * 96);
  sg::gemm(64, 96, 200, x.data(), 200, 1, w.data(), 1, 200, direct.data(), 96, false);
  EXPECT_TRUE(std::equal(direct.begin(), direct.end(), ours.data()));
}
#endif

}  // namespace
}  // namespace foundry
