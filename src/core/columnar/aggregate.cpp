// Partial aggregates over decoded batches (aggregate.hpp). Each Add follows the Postgres transition
// function named in AggOp step for step: the first value of a sum, min or max becomes the state (so a
// first -0 stays -0), floats compare with NaN above every number, and an infinite result of finite
// inputs is an overflow.
#include "core/columnar/aggregate.hpp"

#include <cmath>
#include <cstring>
#include <limits>

namespace strata::core::columnar {
namespace {

// Postgres's float comparisons: NaN equals NaN and is above every other value.
template <typename F>
bool Greater(F a, F b) {
  if (std::isnan(a)) return !std::isnan(b);
  if (std::isnan(b)) return false;
  return a > b;
}
template <typename F>
bool Less(F a, F b) {
  if (std::isnan(a)) return false;
  if (std::isnan(b)) return true;
  return a < b;
}

int64_t WrapAdd(int64_t a, int64_t b) { return int64_t(uint64_t(a) + uint64_t(b)); }

// float8_accum's step: N, Sx and Sxx by Youngs-Cramer (inlined: the batch loop keeps them in registers).
inline void AccumStep(double v, double& n, double& sx, double& sxx, bool& overflow) {
  const double prev_n = n, prev_sx = sx;
  n = prev_n + 1.0;
  sx = prev_sx + v;
  if (prev_n > 0.0) {
    const double tmp = v * n - sx;
    sxx += tmp * tmp / (n * prev_n);
    if (std::isinf(sx) || std::isinf(sxx)) {
      if (!std::isinf(prev_sx) && !std::isinf(v)) overflow = true;
      sxx = std::numeric_limits<double>::quiet_NaN();
    }
  } else if (std::isnan(v) || std::isinf(v)) {
    sxx = std::numeric_limits<double>::quiet_NaN();
  }
}

double Float8Of(uint64_t bits) {
  double d;
  std::memcpy(&d, &bits, sizeof d);
  return d;
}
float Float4Of(uint64_t bits) {
  const uint32_t b = uint32_t(bits);
  float f;
  std::memcpy(&f, &b, sizeof f);
  return f;
}

}  // namespace

bool AggReadsFloat(AggOp op) {
  switch (op) {
    case AggOp::kSumFloat8:
    case AggOp::kSumFloat4:
    case AggOp::kAccumFloat:
    case AggOp::kMinFloat8:
    case AggOp::kMaxFloat8:
    case AggOp::kMinFloat4:
    case AggOp::kMaxFloat4:
      return true;
    default:
      return false;
  }
}

bool AggReadsFloat4(AggOp op) {
  return op == AggOp::kSumFloat4 || op == AggOp::kMinFloat4 || op == AggOp::kMaxFloat4;
}

void Accumulator::AddRows(int64_t rows) { count += rows; }

void Accumulator::AddInt(int64_t v) {
  switch (op) {
    case AggOp::kCount:
      count++;
      break;
    case AggOp::kSumInt:
      isum = has ? WrapAdd(isum, v) : v;
      has = true;
      break;
    case AggOp::kAvgInt:
      count++;
      isum = WrapAdd(isum, v);
      break;
    case AggOp::kMinInt:
      if (!has || v < ibest) ibest = v;
      has = true;
      break;
    case AggOp::kMaxInt:
      if (!has || v > ibest) ibest = v;
      has = true;
      break;
    default:
      break;
  }
}

void Accumulator::AddFloat(double v) {
  switch (op) {
    case AggOp::kCount:
      count++;
      break;
    case AggOp::kSumFloat8: {
      if (!has) {
        sx = v, has = true;
        break;
      }
      const double r = sx + v;
      if (std::isinf(r) && !std::isinf(sx) && !std::isinf(v)) overflow = true;
      sx = r;
      break;
    }
    case AggOp::kAccumFloat:
      AccumStep(v, n, sx, sxx, overflow);
      break;
    case AggOp::kMinFloat8:
      if (!has || !Less(sx, v)) sx = v;
      has = true;
      break;
    case AggOp::kMaxFloat8:
      if (!has || !Greater(sx, v)) sx = v;
      has = true;
      break;
    default:
      break;
  }
}

void Accumulator::AddFloat4(float v) {
  switch (op) {
    case AggOp::kSumFloat4: {
      if (!has) {
        f4 = v, has = true;
        break;
      }
      const float r = f4 + v;
      if (std::isinf(r) && !std::isinf(f4) && !std::isinf(v)) overflow = true;
      f4 = r;
      break;
    }
    case AggOp::kMinFloat4:
      if (!has || !Less(f4, v)) f4 = v;
      has = true;
      break;
    case AggOp::kMaxFloat4:
      if (!has || !Greater(f4, v)) f4 = v;
      has = true;
      break;
    default:
      AddFloat(double(v));  // count, and float4_accum, which widens each value
      break;
  }
}

void Accumulator::AddIntRepeated(int64_t v, int64_t rows) {
  for (int64_t i = 0; i < rows; i++) AddInt(v);
}
void Accumulator::AddFloatRepeated(double v, int64_t rows) {
  for (int64_t i = 0; i < rows; i++) AddFloat(v);
}
void Accumulator::AddFloat4Repeated(float v, int64_t rows) {
  for (int64_t i = 0; i < rows; i++) AddFloat4(v);
}

void Accumulator::AddBatch(const Batch& b, bool float4_values) {
  const size_t m = b.values();
  if (op == AggOp::kCount) {
    count += int64_t(m);
    return;
  }
  if (b.kind == Kind::kInt) {
    const int64_t* v = b.ints.data();
    switch (op) {
      case AggOp::kSumInt: {
        if (m == 0) return;
        uint64_t s = has ? uint64_t(isum) : 0;
        for (size_t i = 0; i < m; i++) s += uint64_t(v[i]);
        isum = int64_t(s), has = true;
        return;
      }
      case AggOp::kAvgInt: {
        uint64_t s = uint64_t(isum);
        for (size_t i = 0; i < m; i++) s += uint64_t(v[i]);
        isum = int64_t(s), count += int64_t(m);
        return;
      }
      case AggOp::kMinInt:
      case AggOp::kMaxInt: {
        if (m == 0) return;
        int64_t best = has ? ibest : v[0];
        if (op == AggOp::kMinInt) {
          for (size_t i = 0; i < m; i++) best = v[i] < best ? v[i] : best;
        } else {
          for (size_t i = 0; i < m; i++) best = v[i] > best ? v[i] : best;
        }
        ibest = best, has = true;
        return;
      }
      default:
        return;
    }
  }
  if (b.kind != Kind::kFloat) return;
  const uint64_t* bits = b.floats.data();
  if (float4_values) {
    for (size_t i = 0; i < m; i++) AddFloat4(Float4Of(bits[i]));
    return;
  }
  if (op == AggOp::kAccumFloat) {  // AddFloat's steps with the state in registers
    double nn = n, s = sx, ss = sxx;
    bool of = overflow;
    for (size_t i = 0; i < m; i++) AccumStep(Float8Of(bits[i]), nn, s, ss, of);
    n = nn, sx = s, sxx = ss, overflow = of;
    return;
  }
  if (op == AggOp::kSumFloat8 && m > 0) {
    size_t i = 0;
    double s = has ? sx : Float8Of(bits[i++]);
    for (; i < m; i++) {
      const double v = Float8Of(bits[i]);
      const double r = s + v;
      if (std::isinf(r) && !std::isinf(s) && !std::isinf(v)) overflow = true;
      s = r;
    }
    sx = s, has = true;
    return;
  }
  for (size_t i = 0; i < m; i++) AddFloat(Float8Of(bits[i]));
}

}  // namespace strata::core::columnar
