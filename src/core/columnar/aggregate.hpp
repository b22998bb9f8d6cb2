// Partial aggregates over decoded batches: the transition states of Postgres's built-in count, sum,
// avg (and the variance family that shares avg's float state), min and max, computed from a column's
// values as its transition functions would compute them value by value, in the same order, with the
// same overflow rules. The states are handed to Postgres's Finalize Aggregate as the partial states of
// a partitionwise aggregation (src/columnar/README.md, "Aggregation over batches").
#pragma once
#include "core/no_postgres.hpp"

#include <cstdint>
#include <type_traits>

#include "core/columnar/codec.hpp"

namespace strata::core::columnar {

// Which transition function the state follows (the Postgres function it stands for in brackets).
enum class AggOp : uint8_t {
  kCountStar = 1,  // int8inc: every row
  kCount,          // int8inc_any: every non-NULL value
  kSumInt,         // int2_sum, int4_sum: an int8 sum, NULL before the first value
  kSumFloat8,      // float8pl
  kSumFloat4,      // float4pl
  kAvgInt,         // int2_avg_accum, int4_avg_accum: {count, sum}
  kAccumFloat,     // float8_accum, float4_accum: {N, Sx, Sxx} (Youngs-Cramer)
  kMinInt,         // int2/int4/int8/date/timestamp(tz) smaller
  kMaxInt,         // ... larger
  kMinFloat8,      // float8smaller (NaN above every number)
  kMaxFloat8,      // float8larger
  kMinFloat4,      // float4smaller
  kMaxFloat4,      // float4larger
};

// Whether the op reads values as floats (bit patterns in a batch) rather than integers.
bool AggReadsFloat(AggOp op);
// Whether a float op's values are float4 (32-bit patterns).
bool AggReadsFloat4(AggOp op);

// One aggregate's running state. Trivially destructible: the glue keeps it in Postgres memory.
struct Accumulator {
  AggOp op = AggOp::kCountStar;
  bool has = false;       // a value was added (the states that start NULL)
  bool overflow = false;  // a float sum or accumulation overflowed: the caller raises 22003
  int64_t count = 0;      // count, count(x), avg's count
  int64_t isum = 0;       // integer sums, wrapping as Postgres's int8 addition does
  int64_t ibest = 0;      // integer min/max
  double n = 0, sx = 0, sxx = 0;  // the float accumulation; float8 sums in sx, float8 min/max in sx
  float f4 = 0;                   // float4 sum, min or max

  void Reset() {
    const AggOp keep = op;
    *this = Accumulator{};
    op = keep;
  }
  void AddRows(int64_t rows);  // count(*) only
  void AddInt(int64_t v);
  void AddFloat(double v);  // float8 values (float4 values as float4 ops read them: use AddFloat4)
  void AddFloat4(float v);
  // Adds `rows` copies of one value (a segment column's, the same for every row of a batch).
  void AddIntRepeated(int64_t v, int64_t rows);
  void AddFloatRepeated(double v, int64_t rows);
  void AddFloat4Repeated(float v, int64_t rows);
  // Adds the non-NULL values of a decoded column batch of the op's kind (count(x) any kind);
  // float4_values: a float batch of float4 values (32-bit patterns).
  void AddBatch(const Batch& batch, bool float4_values = false);
};
static_assert(std::is_trivially_destructible_v<Accumulator>);

}  // namespace strata::core::columnar
