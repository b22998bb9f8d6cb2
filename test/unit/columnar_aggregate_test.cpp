// Partial aggregate states over batches: a batch gives the state its values give one by one, and each
// op keeps the rules of the Postgres transition function it stands for (first value kept as is, NaN
// above every number, overflow of finite inputs flagged, integer sums wrapping as int8 addition).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <random>

#include "core/columnar/aggregate.hpp"

namespace col = strata::core::columnar;
using col::Accumulator;
using col::AggOp;
using col::Batch;
using col::Kind;

namespace {

uint64_t Bits(double d) {
  uint64_t u;
  std::memcpy(&u, &d, 8);
  return u;
}
uint64_t Bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

Accumulator Make(AggOp op) {
  Accumulator a;
  a.op = op;
  return a;
}

bool SameDouble(double a, double b) { return (std::isnan(a) && std::isnan(b)) || Bits(a) == Bits(b); }

void ExpectSame(const Accumulator& a, const Accumulator& b) {
  EXPECT_EQ(a.has, b.has);
  EXPECT_EQ(a.overflow, b.overflow);
  EXPECT_EQ(a.count, b.count);
  EXPECT_EQ(a.isum, b.isum);
  EXPECT_EQ(a.ibest, b.ibest);
  EXPECT_TRUE(SameDouble(a.n, b.n)) << a.n << " " << b.n;
  EXPECT_TRUE(SameDouble(a.sx, b.sx)) << a.sx << " " << b.sx;
  EXPECT_TRUE(SameDouble(a.sxx, b.sxx)) << a.sxx << " " << b.sxx;
  EXPECT_TRUE(SameDouble(a.f4, b.f4) || Bits(a.f4) == Bits(b.f4));
}

}  // namespace

TEST(ColumnarAggregate, IntBatchEqualsValueByValue) {
  std::mt19937_64 rng(7);
  Batch b;
  std::vector<std::optional<int64_t>> vals;
  for (int i = 0; i < 3000; i++) {
    if (rng() % 7 == 0) {
      b.AddNull();
      vals.push_back(std::nullopt);
    } else {
      const int64_t v = int64_t(rng() % 200001) - 100000;
      b.AddInt(v);
      vals.push_back(v);
    }
  }
  for (AggOp op : {AggOp::kCount, AggOp::kSumInt, AggOp::kAvgInt, AggOp::kMinInt, AggOp::kMaxInt}) {
    Accumulator whole = Make(op), one = Make(op);
    whole.AddBatch(b);
    for (const auto& v : vals)
      if (v) one.AddInt(*v);
    ExpectSame(whole, one);
  }
  Accumulator sum = Make(AggOp::kSumInt), mn = Make(AggOp::kMinInt), mx = Make(AggOp::kMaxInt);
  sum.AddBatch(b), mn.AddBatch(b), mx.AddBatch(b);
  int64_t s = 0, lo = INT64_MAX, hi = INT64_MIN;
  for (const auto& v : vals)
    if (v) s += *v, lo = std::min(lo, *v), hi = std::max(hi, *v);
  EXPECT_EQ(sum.isum, s);
  EXPECT_EQ(mn.ibest, lo);
  EXPECT_EQ(mx.ibest, hi);
}

TEST(ColumnarAggregate, EmptyAndAllNullStartNull) {
  Batch nulls;
  for (int i = 0; i < 5; i++) nulls.AddNull();
  for (AggOp op : {AggOp::kSumInt, AggOp::kMinInt, AggOp::kMaxInt}) {
    Accumulator a = Make(op);
    a.AddBatch(nulls);
    EXPECT_FALSE(a.has);
  }
  Accumulator c = Make(AggOp::kCount), avg = Make(AggOp::kAvgInt);
  c.AddBatch(nulls), avg.AddBatch(nulls);
  EXPECT_EQ(c.count, 0);
  EXPECT_EQ(avg.count, 0);
  EXPECT_EQ(avg.isum, 0);
  Accumulator star = Make(AggOp::kCountStar);
  star.AddRows(5);
  star.AddRows(0);
  EXPECT_EQ(star.count, 5);
}

TEST(ColumnarAggregate, IntSumsWrapAsInt8) {
  Batch b;
  b.AddInt(INT64_MAX);
  b.AddInt(1);
  Accumulator a = Make(AggOp::kSumInt);
  a.AddBatch(b);
  EXPECT_EQ(a.isum, INT64_MIN);
  Accumulator r = Make(AggOp::kSumInt);
  r.AddIntRepeated(INT64_MAX, 2);
  EXPECT_EQ(r.isum, -2);
}

TEST(ColumnarAggregate, FloatBatchEqualsValueByValue) {
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> d(-1e6, 1e6);
  Batch b;
  b.kind = Kind::kFloat;
  std::vector<double> vals;
  for (int i = 0; i < 2500; i++) {
    if (rng() % 9 == 0) {
      b.AddNull();
      continue;
    }
    const double v = std::round(d(rng) * 100) / 100;
    b.AddFloat(Bits(v));
    vals.push_back(v);
  }
  for (AggOp op : {AggOp::kCount, AggOp::kSumFloat8, AggOp::kAccumFloat, AggOp::kMinFloat8, AggOp::kMaxFloat8}) {
    Accumulator whole = Make(op), one = Make(op);
    whole.AddBatch(b);
    for (double v : vals) one.AddFloat(v);
    ExpectSame(whole, one);
  }
  // Youngs-Cramer as float8_accum computes it, step for step.
  double n = 0, sx = 0, sxx = 0;
  for (double v : vals) {
    const double pn = n;
    n += 1, sx += v;
    if (pn > 0) {
      const double t = v * n - sx;
      sxx += t * t / (n * pn);
    }
  }
  Accumulator acc = Make(AggOp::kAccumFloat);
  acc.AddBatch(b);
  EXPECT_EQ(Bits(acc.n), Bits(n));
  EXPECT_EQ(Bits(acc.sx), Bits(sx));
  EXPECT_EQ(Bits(acc.sxx), Bits(sxx));
}

TEST(ColumnarAggregate, FirstValueIsTheStateAsIs) {
  // float8pl's first input becomes the state: a first -0 stays -0 (0 + -0 would be +0).
  Batch b;
  b.kind = Kind::kFloat;
  b.AddFloat(Bits(-0.0));
  Accumulator s = Make(AggOp::kSumFloat8);
  s.AddBatch(b);
  EXPECT_TRUE(s.has);
  EXPECT_TRUE(std::signbit(s.sx));
  Accumulator s4 = Make(AggOp::kSumFloat4);
  s4.AddFloat4(-0.0f);
  EXPECT_TRUE(std::signbit(s4.f4));
}

TEST(ColumnarAggregate, NaNIsAboveEveryNumber) {
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  Accumulator mx = Make(AggOp::kMaxFloat8), mn = Make(AggOp::kMinFloat8);
  for (double v : {1.0, nan, inf, -inf}) mx.AddFloat(v), mn.AddFloat(v);
  EXPECT_TRUE(std::isnan(mx.sx));
  EXPECT_EQ(mn.sx, -inf);
  Accumulator mn2 = Make(AggOp::kMinFloat8);
  mn2.AddFloat(nan);
  EXPECT_TRUE(std::isnan(mn2.sx));
  mn2.AddFloat(5.0);
  EXPECT_EQ(mn2.sx, 5.0);
  Accumulator m4 = Make(AggOp::kMaxFloat4);
  m4.AddFloat4(std::numeric_limits<float>::infinity());
  m4.AddFloat4(std::numeric_limits<float>::quiet_NaN());
  EXPECT_TRUE(std::isnan(m4.f4));
}

TEST(ColumnarAggregate, OverflowOfFiniteInputsIsFlagged) {
  const double big = std::numeric_limits<double>::max();
  Accumulator s = Make(AggOp::kSumFloat8);
  s.AddFloat(big);
  s.AddFloat(big);
  EXPECT_TRUE(s.overflow);
  Accumulator inf = Make(AggOp::kSumFloat8);
  inf.AddFloat(std::numeric_limits<double>::infinity());
  inf.AddFloat(1.0);
  EXPECT_FALSE(inf.overflow);
  Accumulator acc = Make(AggOp::kAccumFloat);
  acc.AddFloat(big);
  acc.AddFloat(big);
  EXPECT_TRUE(acc.overflow);
  // An infinite input: Sxx becomes NaN, no overflow.
  Accumulator acc2 = Make(AggOp::kAccumFloat);
  acc2.AddFloat(std::numeric_limits<double>::infinity());
  EXPECT_TRUE(std::isnan(acc2.sxx));
  acc2.AddFloat(1.0);
  EXPECT_FALSE(acc2.overflow);
  Accumulator s4 = Make(AggOp::kSumFloat4);
  s4.AddFloat4(std::numeric_limits<float>::max());
  s4.AddFloat4(std::numeric_limits<float>::max());
  EXPECT_TRUE(s4.overflow);
}

TEST(ColumnarAggregate, Float4Batches) {
  Batch b;
  b.kind = Kind::kFloat;
  std::vector<float> vals = {1.5f, -2.25f, 1e30f, 3.0f};
  for (float v : vals) b.AddFloat(Bits(v));
  b.AddNull();
  Accumulator acc = Make(AggOp::kAccumFloat), one = Make(AggOp::kAccumFloat);
  acc.AddBatch(b, true);
  for (float v : vals) one.AddFloat(double(v));
  ExpectSame(acc, one);
  Accumulator sum = Make(AggOp::kSumFloat4), mx = Make(AggOp::kMaxFloat4), c = Make(AggOp::kCount);
  sum.AddBatch(b, true), mx.AddBatch(b, true), c.AddBatch(b, true);
  float s = vals[0];
  for (size_t i = 1; i < vals.size(); i++) s += vals[i];
  EXPECT_EQ(Bits(sum.f4), Bits(s));
  EXPECT_EQ(mx.f4, 1e30f);
  EXPECT_EQ(c.count, 4);
}

TEST(ColumnarAggregate, RepeatedEqualsOneByOne) {
  Accumulator a = Make(AggOp::kAccumFloat), b = Make(AggOp::kAccumFloat);
  a.AddFloatRepeated(0.1, 1000);
  for (int i = 0; i < 1000; i++) b.AddFloat(0.1);
  ExpectSame(a, b);
  Accumulator c = Make(AggOp::kAvgInt);
  c.AddIntRepeated(-3, 7);
  EXPECT_EQ(c.count, 7);
  EXPECT_EQ(c.isum, -21);
  Accumulator r = Make(AggOp::kSumInt);
  r.Reset();
  EXPECT_EQ(r.op, AggOp::kSumInt);
  EXPECT_FALSE(r.has);
}
