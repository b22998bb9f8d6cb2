// Unit tests of the sketches: accuracy, exact (bitwise) merges, round trips, hostile input.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <unordered_map>
#include <unordered_set>

#include "core/sketch/hash.hpp"
#include "core/sketch/hll.hpp"
#include "core/sketch/qsketch.hpp"
#include "core/sketch/registers.hpp"
#include "core/sketch/topk.hpp"

using namespace strata::core;
using namespace strata::core::sketch;

namespace {

template <class S>
std::vector<uint8_t> Bytes(S s) {  // by value: serialization compacts
  std::vector<uint8_t> out;
  s.Serialize(&out);
  return out;
}

Hll HllOf(uint64_t from, uint64_t to, int p = kHllDefaultPrecision) {
  Hll h(p);
  for (uint64_t i = from; i < to; i++) h.AddHash(HashInt64(int64_t(i)));
  return h;
}

// Zipf(s) sampler over [1, n] by inverse CDF.
struct Zipf {
  Zipf(uint64_t n, double s, uint64_t seed) : rng(seed) {
    cdf.reserve(n);
    double sum = 0;
    for (uint64_t i = 1; i <= n; i++) cdf.push_back(sum += 1.0 / std::pow(double(i), s));
    for (double& c : cdf) c /= sum;
  }
  uint64_t operator()() {
    const double u = std::uniform_real_distribution<double>(0, 1)(rng);
    return uint64_t(std::lower_bound(cdf.begin(), cdf.end(), u) - cdf.begin()) + 1;
  }
  std::mt19937_64 rng;
  std::vector<double> cdf;
};

}  // namespace

TEST(SketchHash, KnownAnswersAreStable) {
  // XXH3-64 of the empty input, from the XXH3 specification; and strata's integer hashing.
  EXPECT_EQ(HashBytes("", 0), 0x2D06800538D394C2ULL);
  EXPECT_EQ(HashInt64(1), HashBytes("\x01\0\0\0\0\0\0\0", 8));
  EXPECT_EQ(HashInt64(-1), HashBytes("\xff\xff\xff\xff\xff\xff\xff\xff", 8));
}

TEST(Hll, SmallSetsAreCountedExactly) {
  for (uint64_t n : {0, 1, 2, 10, 100, 300, 1000, 3000}) {
    Hll h = HllOf(0, n);
    EXPECT_TRUE(h.is_sparse()) << n;
    EXPECT_NEAR(h.Estimate(), double(n), std::max(0.5, n * 0.001)) << n;
  }
}

TEST(Hll, AccuracyAcrossScalesWithinFourSigma) {
  const double sigma = 1.04 / std::sqrt(double(1 << kHllDefaultPrecision));
  for (uint64_t n : {1000ULL, 10000ULL, 100000ULL, 1000000ULL, 10000000ULL}) {
    Hll h = HllOf(n * 7, n * 8);
    EXPECT_NEAR(h.Estimate() / double(n), 1.0, 4 * sigma) << n;
  }
}

TEST(Hll, NoMidRangeBias) {
  // The mean of 40 independent estimates at 5,000 distinct values (dense, where linear counting and the
  // raw estimator hand over) is within 4 standard errors of the mean.
  const double sigma = 1.04 / std::sqrt(double(1 << kHllDefaultPrecision));
  double sum = 0;
  for (uint64_t run = 0; run < 40; run++) {
    Hll h = HllOf(run * 1000003, run * 1000003 + 5000);
    ASSERT_FALSE(h.is_sparse());
    sum += h.Estimate() / 5000.0;
  }
  EXPECT_NEAR(sum / 40, 1.0, 4 * sigma / std::sqrt(40.0));
}

TEST(Hll, ZipfAndLogNormalKeysCountDistinctValues) {
  Zipf z(2000000, 1.1, 7);
  std::unordered_set<uint64_t> exact;
  Hll h;
  for (int i = 0; i < 2000000; i++) {
    const uint64_t v = z();
    exact.insert(v);
    h.AddHash(HashInt64(int64_t(v)));
  }
  EXPECT_NEAR(h.Estimate() / double(exact.size()), 1.0, 0.033);
  std::lognormal_distribution<double> ln(8, 2);
  std::mt19937_64 rng(3);
  exact.clear();
  Hll h2;
  for (int i = 0; i < 300000; i++) {
    const uint64_t v = uint64_t(ln(rng));
    exact.insert(v);
    h2.AddHash(HashInt64(int64_t(v)));
  }
  EXPECT_NEAR(h2.Estimate() / double(exact.size()), 1.0, 0.033);
}

TEST(Hll, MergeIsExactCommutativeAndAssociativeBitwise) {
  for (uint64_t n : {500ULL, 2000ULL, 5000ULL, 200000ULL}) {  // sparse, near the switch, dense
    const auto whole = Bytes(HllOf(0, n));
    Hll a = HllOf(0, n / 3), b = HllOf(n / 3, 2 * n / 3), c = HllOf(2 * n / 3, n);
    Hll ab = a;
    ab.Merge(b);
    Hll ab_c = ab;
    ab_c.Merge(c);
    Hll bc = b;
    bc.Merge(c);
    Hll a_bc = a;
    a_bc.Merge(bc);
    Hll cba = c;
    cba.Merge(b);
    cba.Merge(a);
    EXPECT_EQ(Bytes(ab_c), whole) << n;
    EXPECT_EQ(Bytes(a_bc), whole) << n;
    EXPECT_EQ(Bytes(cba), whole) << n;
    // Overlapping parts merge to the union.
    Hll o1 = HllOf(0, 2 * n / 3), o2 = HllOf(n / 3, n);
    o1.Merge(o2);
    EXPECT_EQ(Bytes(o1), whole) << n;
  }
}

TEST(Hll, MergeFromBytesEqualsMerge) {
  for (uint64_t n : {500ULL, 200000ULL}) {
    Hll a = HllOf(0, n / 2), b = HllOf(n / 3, n), c = a;
    const auto bb = Bytes(b);
    c.MergeSerialized(bb.data(), bb.size());
    a.Merge(b);
    EXPECT_EQ(Bytes(c), Bytes(a)) << n;
    for (size_t len = 0; len < bb.size(); len += 97) {
      Hll d = HllOf(0, 10);
      EXPECT_THROW(d.MergeSerialized(bb.data(), len), Error);
    }
  }
}

TEST(Hll, DifferentPrecisionsFoldExactly) {
  for (uint64_t n : {100ULL, 100000ULL}) {
    Hll fine = HllOf(0, n / 2, 14), coarse = HllOf(n / 2, n, 11);
    fine.Merge(coarse);
    EXPECT_EQ(fine.precision(), 11);
    EXPECT_EQ(Bytes(fine), Bytes(HllOf(0, n, 11))) << n;
  }
}

TEST(Hll, RoundTripAndSizes) {
  for (uint64_t n : {10ULL, 1000ULL, 1000000ULL}) {
    const auto b = Bytes(HllOf(0, n));
    Hll back = Hll::Deserialize(b.data(), b.size());
    EXPECT_EQ(Bytes(back), b);
    RecordProperty("bytes_at_" + std::to_string(n), int(b.size()));
  }
  EXPECT_EQ(Bytes(HllOf(0, 10)).size(), 4u + 4 + 10 * 4);
  EXPECT_EQ(Bytes(HllOf(0, 1000000)).size(), 4u + (1u << 14) * 6 / 8);
}

TEST(Hll, PackedRegisterKernelsAgree) {
  // The SIMD kernel (where the CPU has it) and the scalar loop give the same registers and maximum,
  // for every precision's size, random registers (0..63, beyond any valid rank) and random targets.
  std::mt19937 rng(7);
  for (size_t m : {16u, 32u, 64u, 1024u, 4096u, 16384u, 262144u}) {
    for (int round = 0; round < 3; round++) {
      std::vector<uint8_t> regs(m), packed(m / 4 * 3);
      for (size_t i = 0; i < m; i++) regs[i] = uint8_t(rng() % (round == 0 ? 64 : 52));
      for (size_t i = 0; i < m; i += 4) {
        const uint32_t v = uint32_t(regs[i]) | uint32_t(regs[i + 1]) << 6 | uint32_t(regs[i + 2]) << 12 |
                           uint32_t(regs[i + 3]) << 18;
        packed[i / 4 * 3] = uint8_t(v);
        packed[i / 4 * 3 + 1] = uint8_t(v >> 8);
        packed[i / 4 * 3 + 2] = uint8_t(v >> 16);
      }
      std::vector<uint8_t> into(m);
      for (auto& x : into) x = uint8_t(rng() % 40);
      std::vector<uint8_t> want = into;
      for (size_t i = 0; i < m; i++) want[i] = std::max(want[i], regs[i]);
      const uint8_t top = *std::max_element(regs.begin(), regs.end());
      auto a = into;
      EXPECT_EQ(MaxPackedScalar(packed.data(), a.data(), m), top) << m;
      EXPECT_EQ(a, want) << m;
      auto b = into;
      EXPECT_EQ(MaxPacked(packed.data(), b.data(), m), top) << m;
      EXPECT_EQ(b, want) << m;
#ifdef STRATA_HAVE_SSSE3_KERNEL
      if (__builtin_cpu_supports("ssse3")) {
        auto c = into;
        EXPECT_EQ(MaxPackedSsse3(packed.data(), c.data(), m), top) << m;
        EXPECT_EQ(c, want) << m;
      }
      if (__builtin_cpu_supports("avx2")) {
        auto d = into;
        EXPECT_EQ(MaxPackedAvx2(packed.data(), d.data(), m), top) << m;
        EXPECT_EQ(d, want) << m;
      }
#endif
    }
  }
}

TEST(Hll, EveryTruncationAndRandomCorruptionIsRefusedOrValid) {
  for (uint64_t n : {10ULL, 100000ULL}) {
    const auto b = Bytes(HllOf(0, n));
    for (size_t len = 0; len < b.size(); len++) EXPECT_THROW(Hll::Deserialize(b.data(), len), Error) << len;
    std::mt19937 rng(1);
    for (int i = 0; i < 2000; i++) {
      auto c = b;
      c[rng() % c.size()] ^= uint8_t(1 + rng() % 255);
      try {
        Hll h = Hll::Deserialize(c.data(), c.size());
        (void) h.Estimate();
      } catch (const Error& e) {
        EXPECT_EQ(e.sqlstate(), kInvalidBinary);
      }
    }
  }
  // A sparse entry whose index field has its 26th bit set (found by the fuzzer): accepted before, it
  // indexed past the registers once a merge turned the sketch dense.
  const uint8_t wide[] = {1, 'H', 4, 0, 1, 0, 0, 0, 0x5b, 0x3f, 0x80, 0x80};
  EXPECT_THROW(Hll::Deserialize(wide, sizeof wide), Error);
  Hll big = HllOf(0, 300);
  EXPECT_THROW(big.MergeSerialized(wide, sizeof wide), Error);
  const uint8_t future[] = {9, 'H', 14, 0, 0, 0, 0, 0};
  EXPECT_THROW(Hll::Deserialize(future, sizeof future), Error);
  EXPECT_THROW(Hll(3), Error);
  EXPECT_THROW(Hll(19), Error);
}

namespace {
// percentile_disc: the value of 1-based rank ceil(q * n), the first one for q = 0 (Postgres's arithmetic).
double ExactQuantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const double k = std::ceil(q * double(v.size()));
  return v[k <= 1 ? 0 : size_t(k) - 1];
}
// percentile_cont: ranks floor and ceil of q * (n - 1) (0-based), interpolated linearly.
double ExactCont(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const double r = q * double(v.size() - 1);
  const double lo = v[size_t(std::floor(r))], hi = v[size_t(std::ceil(r))];
  return lo + (hi - lo) * (r - std::floor(r));
}
}  // namespace

TEST(QSketch, RelativeAccuracyOnLogNormalUniformAndSignedData) {
  std::mt19937_64 rng(11);
  std::lognormal_distribution<double> ln(9, 1.5);
  std::uniform_real_distribution<double> un(-1000, 1000);
  for (int dist = 0; dist < 2; dist++) {
    std::vector<double> v;
    QSketch q;
    for (int i = 0; i < 1000000; i++) {
      const double x = dist == 0 ? ln(rng) : (i % 100 == 0 ? 0.0 : un(rng));
      v.push_back(x);
      q.Add(x);
    }
    for (double p : {0.01, 0.5, 0.9, 0.99, 0.999}) {
      const double exact = ExactQuantile(v, p);
      EXPECT_LE(std::fabs(q.Quantile(p) - exact), kQDefaultAccuracy * std::fabs(exact) + 1e-12) << dist << " " << p;
      if (dist == 0) {  // same-signed data: percentile_cont's answer within the relative accuracy too
        const double cont = ExactCont(v, p);
        EXPECT_LE(std::fabs(q.QuantileCont(p) - cont), kQDefaultAccuracy * std::fabs(cont) + 1e-12) << p;
      }
    }
    EXPECT_EQ(q.Quantile(0), *std::min_element(v.begin(), v.end()));
    EXPECT_EQ(q.Quantile(1), *std::max_element(v.begin(), v.end()));
    EXPECT_EQ(q.count(), v.size());
  }
}

// Known data where ranks matter: 1..100 (neighbours 1% or more apart, wider than a bucket's 2 * 0.5%),
// every q in steps of 0.001: quantile is percentile_disc's value of the data, quantile_cont
// percentile_cont's, both within the relative accuracy. The former rank floor(q * (n - 1)) is one value
// too low for e.g. q = 0.995 (99 instead of 100).
TEST(QSketch, QuantileFollowsPercentileDiscAndCont) {
  std::vector<double> v;
  QSketch q;
  for (int i = 100; i >= 1; i--) {
    v.push_back(i);
    q.Add(i);
  }
  for (int k = 0; k <= 1000; k++) {
    const double p = k / 1000.0;
    const double disc = ExactQuantile(v, p), cont = ExactCont(v, p);
    EXPECT_LE(std::fabs(q.Quantile(p) - disc), kQDefaultAccuracy * disc) << p;
    EXPECT_LE(std::fabs(q.QuantileCont(p) - cont), kQDefaultAccuracy * cont) << p;
  }
  EXPECT_EQ(q.Quantile(0.995), 100.0);  // rank ceil(99.5) = 100: the max, exact
  EXPECT_EQ(q.Quantile(0), 1.0);
  EXPECT_EQ(q.QuantileCont(1), 100.0);
  // One value; two values (cont interpolates between them, disc picks one).
  QSketch one;
  one.Add(7);
  EXPECT_EQ(one.Quantile(0.3), 7.0);
  EXPECT_EQ(one.QuantileCont(0.3), 7.0);
  QSketch two;
  two.Add(10);
  two.Add(20);
  EXPECT_EQ(two.Quantile(0.5), 10.0);
  EXPECT_EQ(two.Quantile(0.51), 20.0);
  EXPECT_DOUBLE_EQ(two.QuantileCont(0.25), 12.5);
  EXPECT_TRUE(std::isnan(QSketch().QuantileCont(0.5)));
  EXPECT_THROW(q.QuantileCont(-0.1), Error);
}

// The mean never overflows: {1e308, 1} and values near the largest double, of either sign.
TEST(QSketch, MeanOfHugeValuesDoesNotOverflow) {
  QSketch q;
  q.Add(1e308);
  q.Add(1);
  EXPECT_NEAR(q.Mean() / 5e307, 1.0, kQDefaultAccuracy);
  QSketch big;
  for (int i = 0; i < 1000; i++) big.Add(1.7e308);
  EXPECT_NEAR(big.Mean() / 1.7e308, 1.0, kQDefaultAccuracy);
  EXPECT_TRUE(std::isfinite(big.Mean()));
  QSketch mixed;
  mixed.Add(-1.7e308);
  mixed.Add(1.7e308);
  mixed.Add(-1.7e308);
  EXPECT_NEAR(mixed.Mean() / -5.666666666666667e307, 1.0, 3 * kQDefaultAccuracy);
}

TEST(QSketch, MeanWithinAccuracyForPositiveData) {
  std::mt19937_64 rng(5);
  std::lognormal_distribution<double> ln(6, 1);
  QSketch q;
  double sum = 0;
  for (int i = 0; i < 100000; i++) {
    const double x = ln(rng);
    sum += x;
    q.Add(x);
  }
  EXPECT_NEAR(q.Mean() / (sum / 100000), 1.0, kQDefaultAccuracy);
}

TEST(QSketch, MergeIsBitwiseTheSketchOfAllValues) {
  std::mt19937_64 rng(2);
  std::lognormal_distribution<double> ln(5, 2);
  std::vector<double> v;
  for (int i = 0; i < 50000; i++) v.push_back(i % 7 == 0 ? -ln(rng) : (i % 11 == 0 ? 0 : ln(rng)));
  QSketch whole;
  for (double x : v) whole.Add(x);
  // 24 "hourly" parts merged in two different orders and groupings.
  std::vector<QSketch> parts(24);
  for (size_t i = 0; i < v.size(); i++) parts[i % 24].Add(v[i]);
  QSketch fwd, rev, tree;
  for (auto& p : parts) fwd.Merge(p);
  for (size_t i = parts.size(); i-- > 0;) rev.Merge(parts[i]);
  for (size_t i = 0; i < parts.size(); i += 2) {
    QSketch pair = parts[i + 1];
    pair.Merge(parts[i]);
    tree.Merge(pair);
  }
  const auto w = Bytes(whole);
  EXPECT_EQ(Bytes(fwd), w);
  EXPECT_EQ(Bytes(rev), w);
  EXPECT_EQ(Bytes(tree), w);
  QSketch other(0.01);
  EXPECT_THROW(other.Merge(whole), Error);
}

TEST(QSketch, RoundTripRefusalsAndHostileInput) {
  QSketch q;
  for (double x : {3.0, -2.0, 0.0, 1e300, 1e-300}) q.Add(x);
  const auto b = Bytes(q);
  EXPECT_EQ(Bytes(QSketch::Deserialize(b.data(), b.size())), b);
  for (size_t len = 0; len < b.size(); len++) EXPECT_THROW(QSketch::Deserialize(b.data(), len), Error);
  std::mt19937 rng(3);
  for (int i = 0; i < 5000; i++) {
    auto c = b;
    c[rng() % c.size()] ^= uint8_t(1 + rng() % 255);
    try {
      QSketch d = QSketch::Deserialize(c.data(), c.size());
      (void) d.Quantile(0.5);
    } catch (const Error&) {
    }
  }
  EXPECT_THROW(q.Add(std::nan("")), Error);
  EXPECT_THROW(q.Add(INFINITY), Error);
  EXPECT_THROW(q.Quantile(1.5), Error);
  EXPECT_THROW(QSketch(0.5), Error);
}

// The version 1 (dense only) bytes of a sketch of positive values at the default accuracy, written out by
// hand as strata 0.6 wrote them: they must read back as the same sketch.
std::vector<uint8_t> QSketchV1(const std::vector<double>& xs) {
  const double a = kQDefaultAccuracy, inv_log_gamma = 1.0 / std::log((1 + a) / (1 - a));
  std::map<int32_t, uint64_t> counts;
  for (double x : xs) counts[int32_t(std::ceil(std::log(x) * inv_log_gamma))]++;
  std::vector<uint8_t> out;
  ByteWriter<std::vector<uint8_t>> w(&out);
  w.U8(1);
  w.U8('Q');
  w.F64(a);
  w.Var(xs.size());
  w.Var(0);
  w.F64(*std::min_element(xs.begin(), xs.end()));
  w.F64(*std::max_element(xs.begin(), xs.end()));
  const int32_t lo = counts.begin()->first, hi = counts.rbegin()->first;
  w.I32(lo);
  w.Var(uint64_t(hi - lo + 1));
  for (int32_t i = lo; i <= hi; i++) w.Var(counts.count(i) ? counts[i] : 0);
  w.I32(0);
  w.Var(0);
  return out;
}

TEST(QSketch, HugeSparseSpanIsRefusedWithoutOverflow) {
  // A version 2 header whose positive store claims a sparse span of 2^63 - 1 buckets from offset 5: the
  // range check must refuse it without computing offset + span in signed arithmetic (UBSan found it).
  for (const uint64_t code : {~uint64_t{0}, (uint64_t{1} << 63) | 1, (uint64_t{1} << 22) | 1}) {
    std::vector<uint8_t> out;
    ByteWriter<std::vector<uint8_t>> w(&out);
    w.U8(kQSketchFormatVersion);
    w.U8('Q');
    w.F64(kQDefaultAccuracy);
    w.Var(1);
    w.Var(0);
    w.F64(1.0);
    w.F64(1.0);
    w.I32(5);
    w.Var(code);
    w.Var(1);
    EXPECT_THROW(QSketch::Deserialize(out.data(), out.size()), Error) << code;
  }
}

TEST(QSketch, StoresAreSparseWhenShorterAndVersionOneStillReads) {
  // Five log-normal watch times span ~300 buckets: sparse, a few bytes a value.
  const std::vector<double> few{1200, 2500, 2600, 9000, 21000};
  QSketch q;
  for (double x : few) q.Add(x);
  const auto b = Bytes(q);
  EXPECT_EQ(b[0], kQSketchFormatVersion);
  EXPECT_LT(b.size(), 50u);
  const auto v1 = QSketchV1(few);
  EXPECT_GT(v1.size(), 250u);
  QSketch old = QSketch::Deserialize(v1.data(), v1.size());
  EXPECT_EQ(Bytes(old), b);
  QSketch merged;
  merged.MergeSerialized(v1.data(), v1.size());
  merged.MergeSerialized(b.data(), b.size());
  QSketch twice;
  for (double x : few) twice.Add(x), twice.Add(x);
  EXPECT_EQ(Bytes(merged), Bytes(twice));
  // Many values over few buckets: dense (a byte a bucket beats gap + count pairs), also as version 1.
  std::vector<double> many;
  for (int i = 0; i < 2000; i++) many.push_back(100 + (i % 97) * 0.1);
  QSketch d;
  for (double x : many) d.Add(x);
  const auto db = Bytes(d);
  const auto dv1 = QSketchV1(many);
  EXPECT_EQ(db.size(), dv1.size());  // same dense body, header differs only in its version byte
  EXPECT_EQ(Bytes(QSketch::Deserialize(dv1.data(), dv1.size())), db);
  // Sparse stores: every truncation, a gap past the span and an empty bucket are refused.
  for (size_t len = 0; len < b.size(); len++) EXPECT_THROW(QSketch::Deserialize(b.data(), len), Error);
  // A sparse store written by hand: counts 1 at indexes 100 and 109 (span 10, gap 8).
  const auto sparse = [](uint64_t gap, uint64_t second) {
    std::vector<uint8_t> out;
    ByteWriter<std::vector<uint8_t>> w(&out);
    w.U8(2);
    w.U8('Q');
    w.F64(kQDefaultAccuracy);
    w.Var(2);
    w.Var(0);
    w.F64(2.7);
    w.F64(2.9);
    w.I32(100);
    w.Var(10 << 1 | 1);
    w.Var(1);
    w.Var(gap);
    w.Var(second);
    w.I32(0);
    w.Var(0);
    return out;
  };
  const auto message = [](const std::vector<uint8_t>& bytes) -> std::string {
    try {
      (void) QSketch::Deserialize(bytes.data(), bytes.size());
    } catch (const Error& e) {
      return e.message();
    }
    return "read";
  };
  EXPECT_EQ(message(sparse(8, 1)), "read");
  EXPECT_NE(message(sparse(9, 1)).find("bucket index past the store"), std::string::npos);
  EXPECT_NE(message(sparse(8, 0)).find("empty bucket in a sparse store"), std::string::npos);
  EXPECT_EQ(message(sparse(7, 1)).rfind("invalid sketch: ", 0), 0u);  // short of the span: reads on into the next store
  const uint8_t future[] = {3, 'Q'};
  EXPECT_THROW(QSketch::Deserialize(future, sizeof future), Error);
}

TEST(TopK, FindsHeavyHittersWithinTheBound) {
  Zipf z(100000, 1.2, 9);
  std::unordered_map<std::string, uint64_t> exact;
  TopK t(10);
  for (int i = 0; i < 1000000; i++) {
    const std::string item = std::to_string(z());
    exact[item]++;
    t.Add(item);
  }
  EXPECT_LE(t.error(), t.total() / (t.capacity() + 1));
  std::vector<std::pair<uint64_t, std::string>> truth;
  for (auto& [item, c] : exact) truth.emplace_back(c, item);
  std::sort(truth.rbegin(), truth.rend());
  const auto top = t.Top();
  ASSERT_EQ(top.size(), 10u);
  for (size_t i = 0; i < 10; i++) {
    const uint64_t real = exact[top[i].item];
    EXPECT_LE(top[i].count, real);
    EXPECT_LE(real, top[i].count + t.error());
    EXPECT_EQ(top[i].item, truth[i].second);  // Zipf's head is far above the error bound
  }
}

TEST(TopK, MergeKeepsTheBoundAndCommutes) {
  Zipf z(50000, 1.1, 4);
  TopK a(5), b(5);
  std::unordered_map<std::string, uint64_t> exact;
  for (int i = 0; i < 400000; i++) {
    const std::string item = std::to_string(z());
    exact[item]++;
    (i % 2 ? a : b).Add(item);
  }
  TopK ab = a, ba = b;
  ab.Merge(b);
  ba.Merge(a);
  EXPECT_EQ(Bytes(ab), Bytes(ba));
  EXPECT_LE(ab.error(), ab.total() / (ab.capacity() + 1) + 1);
  for (const auto& it : ab.Top()) {
    EXPECT_LE(it.count, exact[it.item]);
    EXPECT_LE(exact[it.item], it.count + ab.error());
  }
  const auto bytes = Bytes(ab);
  EXPECT_EQ(Bytes(TopK::Deserialize(bytes.data(), bytes.size())), bytes);
  for (size_t len = 0; len < bytes.size(); len += 7) EXPECT_THROW(TopK::Deserialize(bytes.data(), len), Error);
  EXPECT_THROW(TopK(0), Error);
  TopK other(6);
  EXPECT_THROW(other.Merge(a), Error);
}

TEST(QSketch, SerializingBufferedValuesEqualsSerializingAppliedOnes) {
  // Serialize merges buffered values in from their sorted indexes; the bytes must be those of the same
  // sketch with every value applied to the stores (Quantile applies them), for every fill of the buffer
  // and with values on both sides of zero and repeated buckets. The first 8 nonzero values wait inside
  // the object, the next 64 in the buffer: the fills around both limits are here, and a merge of two
  // halves (each side's waiting values) gives the same bytes.
  std::mt19937_64 rng(5);
  std::lognormal_distribution<double> ln(3, 2);
  for (int n : {0, 1, 2, 7, 8, 9, 10, 63, 64, 65, 71, 72, 73, 129, 1000}) {
    QSketch q, lo, hi;
    for (int i = 0; i < n; i++) {
      const double x = i % 5 == 0 ? -ln(rng) : (i % 13 == 0 ? 0.0 : (i % 3 == 0 ? 42.0 : ln(rng)));
      q.Add(x);
      (i < n / 2 ? lo : hi).Add(x);
    }
    lo.Merge(hi);
    EXPECT_EQ(Bytes(lo), Bytes(q)) << n;
    const auto buffered = Bytes(q);
    (void) q.Quantile(0.5);
    EXPECT_EQ(buffered, Bytes(q)) << n;
    const QSketch back = QSketch::Deserialize(buffered.data(), buffered.size());
    EXPECT_EQ(Bytes(back), buffered) << n;
  }
}
