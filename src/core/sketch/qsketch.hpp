// Quantile sketch with a relative-error guarantee (DDSketch-style log buckets), free of Postgres.
// Terms: relative accuracy a gives gamma = (1+a)/(1-a); a positive value x falls in bucket
// ceil(log_gamma(x)), whose representative 2*gamma^i/(gamma+1) is within a*x of every value in it.
// Negative values use a mirrored store, zeros a counter. Buckets are never collapsed, so merging is
// adding counts: merged sketches are bit-for-bit the sketch of all values at once, in any order.
// count, min and max are exact; the mean is derived from the buckets (a floating-point sum would make
// merges depend on order), so it carries the same relative accuracy for same-signed data.
#pragma once
#include "core/no_postgres.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/error.hpp"
#include "core/sketch/bytes.hpp"

namespace strata::core::sketch {

inline constexpr double kQMinAccuracy = 0.001;
inline constexpr double kQMaxAccuracy = 0.2;
inline constexpr double kQDefaultAccuracy = 0.005;
// Bucket indexes of every finite double at the finest accuracy fit in +-(1 << 20).
inline constexpr int32_t kQMaxIndex = 1 << 20;

inline void CheckQAccuracy(double a) {
  if (!(a >= kQMinAccuracy && a <= kQMaxAccuracy))
    throw Error(MakeSqlstate("22023"), "qsketch relative accuracy must be between 0.001 and 0.2", {},
                "0.005 (the default) keeps every quantile within 0.5% of a value of the data.");
}

template <class Alloc = std::allocator<uint8_t>>
class BasicQSketch {
  using U64Alloc = typename std::allocator_traits<Alloc>::template rebind_alloc<uint64_t>;
  using F64Alloc = typename std::allocator_traits<Alloc>::template rebind_alloc<double>;

  // Counts of a contiguous range of bucket indexes [offset, offset + counts.size()).
  struct Store {
    explicit Store(const Alloc& a) : counts(U64Alloc(a)) {}
    int32_t offset = 0;
    std::vector<uint64_t, U64Alloc> counts;

    void Add(int32_t idx, uint64_t n) {
      if (counts.empty()) {
        offset = idx;
        counts.assign(1, 0);
      } else if (idx < offset) {
        // Grow downwards with headroom, so data arriving in descending order stays amortized O(1).
        const size_t head = size_t(offset - idx) + counts.size() / 4;
        counts.insert(counts.begin(), head, 0);
        offset -= int32_t(head);
      }
      const size_t pos = size_t(idx - offset);
      if (pos >= counts.size()) counts.resize(pos + 1 + counts.size() / 4, 0);
      counts[pos] += n;
    }
    // Adds one to each of n bucket indexes: the range is made room for once, then a tight loop.
    void AddEach(const int32_t* idx, size_t n) {
      if (n == 0) return;
      int32_t lo = idx[0], hi = idx[0];
      for (size_t i = 1; i < n; i++) {
        lo = std::min(lo, idx[i]);
        hi = std::max(hi, idx[i]);
      }
      Add(lo, 0);
      Add(hi, 0);
      uint64_t* c = counts.data();
      for (size_t i = 0; i < n; i++) c[idx[i] - offset]++;
    }
    uint64_t Total() const {
      uint64_t t = 0;
      for (uint64_t c : counts) t += c;
      return t;
    }
  };

 public:
  explicit BasicQSketch(double accuracy = kQDefaultAccuracy, const Alloc& a = Alloc())
      : alpha_(accuracy), pos_(a), neg_(a), pending_(F64Alloc(a)) {
    CheckQAccuracy(accuracy);
    gamma_ = (1 + alpha_) / (1 - alpha_);
    inv_log_gamma_ = 1.0 / std::log(gamma_);
  }

  double accuracy() const { return alpha_; }
  uint64_t count() const { return count_; }
  double min() const { return min_; }
  double max() const { return max_; }

  // Adds one value. count, min, max and zeros are kept at once; the bucket update is buffered and
  // applied in batches (with hundreds of groups at once, as in an hourly GROUP BY, a direct bucket
  // increment is a cache miss per row; a batch into one store overlaps its misses).
  void Add(double x) {
    if (!std::isfinite(x))
      throw Error(MakeSqlstate("22023"), "qsketch cannot hold NaN or infinity", {},
                  "Filter such values out, for example WHERE x <> 'NaN' AND x <> 'Infinity'.");
    if (count_ == 0) {
      min_ = max_ = x;
    } else {
      min_ = std::min(min_, x);
      max_ = std::max(max_, x);
    }
    count_++;
    if (x == 0) {
      zero_++;
      return;
    }
    // A group's first values wait inside the object (no allocation, and on its cache lines: a rollup
    // refresh finalizes hundreds of thousands of small groups, each a cache miss); later ones in a
    // buffer of kPending.
    if (pending_.capacity() == 0) {
      if (nsmall_ < kSmall) {
        small_[nsmall_++] = x;
        return;
      }
      pending_.reserve(kPending);
    }
    pending_.push_back(x);
    if (pending_.size() >= kPending) Flush();
  }

  // Applies the buffered values to the bucket stores.
  void Flush() {
    AddPendingOf(*this);
    pending_.clear();
    nsmall_ = 0;
  }

  void Merge(const BasicQSketch& o) {
    if (o.alpha_ != alpha_)
      throw Error(MakeSqlstate("22023"), "cannot merge qsketches of different relative accuracy", {},
                  "Build the sketches to be merged with the same relative_accuracy.");
    if (o.count_ == 0) return;
    if (count_ == 0) {
      min_ = o.min_;
      max_ = o.max_;
    } else {
      min_ = std::min(min_, o.min_);
      max_ = std::max(max_, o.max_);
    }
    count_ += o.count_;
    zero_ += o.zero_;
    for (size_t i = 0; i < o.pos_.counts.size(); i++)
      if (o.pos_.counts[i]) pos_.Add(o.pos_.offset + int32_t(i), o.pos_.counts[i]);
    for (size_t i = 0; i < o.neg_.counts.size(); i++)
      if (o.neg_.counts[i]) neg_.Add(o.neg_.offset + int32_t(i), o.neg_.counts[i]);
    AddPendingOf(o);  // o's buffered values
  }

  // The q-quantile as percentile_disc defines it (0 <= q <= 1): the smallest value whose cumulative
  // fraction reaches q, i.e. the value of 1-based rank ceil(q * count) (rank 1 for q = 0), computed in
  // double precision exactly as Postgres does. The answer is within the relative accuracy of that
  // value of the data; q = 0 and q = 1 give the exact min and max.
  double Quantile(double q) {
    CheckQ(q);
    Flush();
    if (count_ == 0) return std::nan("");
    const double k = std::ceil(q * double(count_));
    return ValueAtRank(k <= 1 ? 0 : std::min(count_, uint64_t(k)) - 1);
  }

  // The q-quantile as percentile_cont defines it: with r = q * (count - 1), the values of 0-based ranks
  // floor(r) and ceil(r) interpolated linearly. Each of the two is within the relative accuracy of the
  // data's value of that rank, so the result is within the relative accuracy of percentile_cont's answer
  // when the two values have the same sign (and within accuracy * (|lower| + |upper|) otherwise).
  double QuantileCont(double q) {
    CheckQ(q);
    Flush();
    if (count_ == 0) return std::nan("");
    const double r = q * double(count_ - 1);
    const double lo_rank = std::floor(r), hi_rank = std::ceil(r);
    const double lo = ValueAtRank(uint64_t(lo_rank));
    if (hi_rank == lo_rank) return lo;
    const double hi = ValueAtRank(std::min(count_ - 1, uint64_t(hi_rank)));
    return Clamp(lo + (hi - lo) * (r - lo_rank));
  }

  // Mean from bucket representatives (exact when all values sit in one bucket). Each bucket's
  // representative is clamped to [min, max] and weighted by its share of the count, scaled by the
  // largest magnitude, so no partial sum can overflow even for values near the largest double.
  double Mean() {
    if (count_ == 0) return std::nan("");
    Flush();
    const double scale = std::max(std::fabs(min_), std::fabs(max_));
    if (scale == 0) return 0.0;
    const double n = double(count_);
    double pos = 0, neg = 0;
    for (size_t i = 0; i < pos_.counts.size(); i++)
      if (pos_.counts[i]) pos += (double(pos_.counts[i]) / n) * (Clamp(Value(pos_.offset + int32_t(i))) / scale);
    for (size_t i = 0; i < neg_.counts.size(); i++)
      if (neg_.counts[i]) neg += (double(neg_.counts[i]) / n) * (Clamp(-Value(neg_.offset + int32_t(i))) / scale);
    return Clamp((pos + neg) * scale);
  }

  // Merges a serialized sketch straight from its bytes, validating as it reads (one code path with
  // Deserialize); no intermediate sketch. On an error the partial merge must be discarded.
  void MergeSerialized(const uint8_t* data, size_t len) {
    ByteReader r(data, len);
    uint8_t version = 0;
    if (ReadAccuracy(r, &version) != alpha_)
      throw Error(MakeSqlstate("22023"), "cannot merge qsketches of different relative accuracy", {},
                  "Build the sketches to be merged with the same relative_accuracy.");
    MergeBody(r, version);
  }

  // Bytes held in memory (tests; the planner's per-group estimate).
  size_t MemoryBytes() const {
    return sizeof(*this) + (pos_.counts.capacity() + neg_.counts.capacity() + pending_.capacity()) * 8;
  }

  // Canonical serialization (trimmed stores). Buffered values are merged in on the fly, from their sorted
  // bucket indexes, without growing the stores: a small group spread over hundreds of buckets (a rollup
  // refresh finalizes thousands of them) allocates nothing but the output.
  template <class Buf>
  void Serialize(Buf* out) const {
    int32_t pos[kMaxPending], neg[kMaxPending];
    size_t np = 0, nn = 0;
    PendingIndexes(pos, &np, neg, &nn);
    std::sort(pos, pos + np);
    std::sort(neg, neg + nn);
    ByteWriter<Buf> w(out);
    // Header and counts of up to 127 take about this much; larger counts may grow the buffer once more.
    w.Reserve(64 + pos_.counts.size() + neg_.counts.size() + np + nn);
    w.U8(kQSketchFormatVersion);
    w.U8(static_cast<uint8_t>(SketchTag::kQSketch));
    w.F64(alpha_);
    w.Var(count_);
    w.Var(zero_);
    w.F64(min_);
    w.F64(max_);
    WriteStore(w, pos_, pos, np);
    WriteStore(w, neg_, neg, nn);
  }

  static BasicQSketch Deserialize(const uint8_t* data, size_t len, const Alloc& a = Alloc()) {
    ByteReader r(data, len);
    uint8_t version = 0;
    BasicQSketch q(ReadAccuracy(r, &version), a);
    q.MergeBody(r, version);
    return q;
  }

 private:
  static constexpr size_t kPending = 64;
  static constexpr size_t kSmall = 8;  // values kept inside the object before the buffer is allocated
  static constexpr size_t kMaxPending = kPending + kSmall;

  // Calls f(index, count) for each nonzero bucket of store s with the sorted buffered indexes
  // idx[0..n) added, in ascending index order.
  template <class F>
  static void ForEachBucket(const Store& s, const int32_t* idx, size_t n, F&& f) {
    const uint64_t* c = s.counts.data();
    const int64_t size = int64_t(s.counts.size());
    constexpr int64_t kNone = INT64_MAX;
    int64_t i = 0;
    size_t k = 0;
    for (;;) {
      while (i < size && c[i] == 0) i++;
      const int64_t stored = i < size ? s.offset + i : kNone, buffered = k < n ? idx[k] : kNone;
      const int64_t at = std::min(stored, buffered);
      if (at == kNone) return;
      uint64_t v = 0;
      if (stored == at) v = c[i++];
      while (k < n && idx[k] == at) {
        v++;
        k++;
      }
      f(at, v);
    }
  }

  // One store: the index of its first nonzero bucket, then (span << 1 | sparse) where span reaches its
  // last nonzero bucket, then either every count of the span (dense: an empty bucket is one zero byte)
  // or the first count followed by (gap to the next nonzero bucket - 1, count) pairs (sparse), whichever
  // is shorter (dense on a tie), so equal sketches serialize equally. A small group spread over
  // hundreds of buckets (a log-normal watch time: 5 values over ~300 buckets) takes a few bytes a value
  // instead of a byte a bucket. An empty store is offset 0, span 0.
  template <class Buf>
  static void WriteStore(ByteWriter<Buf>& w, const Store& s, const int32_t* idx, size_t n) {
    int64_t lo = 0, hi = -1, prev = 0;
    size_t nonzero = 0, count_bytes = 0, gap_bytes = 0;
    ForEachBucket(s, idx, n, [&](int64_t i, uint64_t v) {
      if (nonzero == 0)
        lo = i;
      else
        gap_bytes += VarSize(uint64_t(i - prev - 1));
      prev = hi = i;
      nonzero++;
      count_bytes += VarSize(v);
    });
    if (nonzero == 0) {
      w.I32(0);
      w.Var(0);
      return;
    }
    const uint64_t span = uint64_t(hi - lo + 1);
    const bool sparse = count_bytes + gap_bytes < count_bytes + (span - nonzero);
    w.I32(static_cast<int32_t>(lo));
    w.Var(span << 1 | (sparse ? 1 : 0));
    int64_t next = lo;
    ForEachBucket(s, idx, n, [&](int64_t i, uint64_t v) {
      if (sparse) {
        if (i != lo) w.Var(uint64_t(i - next));
      } else {
        w.Zeros(static_cast<size_t>(i - next));
      }
      next = i + 1;
      w.Var(v);
    });
  }

  static double ReadAccuracy(ByteReader& r, uint8_t* version) {
    *version = ReadHeader(r, SketchTag::kQSketch, kQSketchFormatVersion);
    const double alpha = r.F64();
    if (!(alpha >= kQMinAccuracy && alpha <= kQMaxAccuracy)) Corrupt("relative accuracy out of range");
    return alpha;
  }

  // Reads the rest of a serialized sketch (after the accuracy) and adds it to this one, validating
  // every field: counts add up, stores are trimmed and in range, min and max are a finite range.
  void MergeBody(ByteReader& r, uint8_t version) {
    Flush();
    const uint64_t count = r.Var(), zero = r.Var();
    const double mn = r.F64(), mx = r.F64();
    uint64_t sum = zero;
    if (zero > count) Corrupt("bucket counts exceed the total");
    for (Store* s : {&pos_, &neg_}) {
      const int32_t offset = r.I32();
      const uint64_t code = r.Var();
      const uint64_t n = version >= 2 ? code >> 1 : code;  // the span of bucket indexes
      const bool sparse = version >= 2 && (code & 1) != 0;
      // A dense count takes at least one byte: n is bounded by the input, so is the allocation. A
      // sparse span is bounded by the index range: at most 2^21 buckets (16 MB), the widest store any
      // sketch can hold in memory.
      if (!sparse && n > r.remaining()) Corrupt("bucket count exceeds the data");
      // In unsigned arithmetic: a hostile sparse span may be near 2^63 (a signed sum would overflow).
      if (offset < -kQMaxIndex || offset > kQMaxIndex || n > uint64_t(int64_t{kQMaxIndex} + 1 - int64_t{offset}))
        Corrupt("bucket index out of range");
      if (n == 0) {
        if (offset != 0 || sparse) Corrupt("empty store with an offset");
        continue;
      }
      s->Add(offset, 0);  // room for [offset, offset + n) at once
      s->Add(offset + int32_t(n - 1), 0);
      uint64_t* c = s->counts.data() + (offset - s->offset);
      const auto take = [&](uint64_t i) {
        const uint64_t v = r.Var();
        if (v > count - sum) Corrupt("bucket counts exceed the total");
        sum += v;
        c[i] += v;
        return v;
      };
      if (sparse) {
        // Nonzero counts at strictly increasing indexes, the first at 0 and the last at n - 1.
        if (take(0) == 0) Corrupt("buckets not trimmed");
        for (uint64_t i = 0; i < n - 1;) {
          const uint64_t gap = r.Var();
          if (gap >= n - 1 - i) Corrupt("bucket index past the store");
          i += gap + 1;
          if (take(i) == 0) Corrupt("empty bucket in a sparse store");
        }
        continue;
      }
      uint64_t first = 0, last = 0;
      for (uint64_t i = 0; i < n; i++) {
        last = take(i);
        if (i == 0) first = last;
      }
      if (first == 0 || last == 0) Corrupt("buckets not trimmed");
    }
    r.ExpectEnd();
    if (sum != count) Corrupt("bucket counts do not add up to the total");
    if (count > 0 && !(std::isfinite(mn) && std::isfinite(mx) && mn <= mx)) Corrupt("min and max are not a finite range");
    if (count == 0) {
      if (mn != 0 || mx != 0) Corrupt("empty sketch with a range");
      return;
    }
    if (count_ == 0) {
      min_ = mn;
      max_ = mx;
    } else {
      min_ = std::min(min_, mn);
      max_ = std::max(max_, mx);
    }
    count_ += count;
    zero_ += zero;
  }

  // The bucket indexes of the buffered values, positive and negative apart (at most kMaxPending each).
  void PendingIndexes(int32_t* pos, size_t* np, int32_t* neg, size_t* nn) const {
    const auto one = [&](double x) {
      if (x > 0)
        pos[(*np)++] = Index(x);
      else
        neg[(*nn)++] = Index(-x);
    };
    for (uint32_t i = 0; i < nsmall_; i++) one(small_[i]);
    for (double x : pending_) one(x);
  }

  // Adds o's buffered values (o may be this sketch) to this sketch's stores.
  void AddPendingOf(const BasicQSketch& o) {
    int32_t pos[kMaxPending], neg[kMaxPending];
    size_t np = 0, nn = 0;
    o.PendingIndexes(pos, &np, neg, &nn);
    pos_.AddEach(pos, np);
    neg_.AddEach(neg, nn);
  }

  int32_t Index(double x) const {
    const double l = std::ceil(std::log(x) * inv_log_gamma_);
    return static_cast<int32_t>(std::max(-double(kQMaxIndex), std::min(double(kQMaxIndex), l)));
  }
  double Value(int32_t i) const { return 2.0 * std::pow(gamma_, i) / (gamma_ + 1.0); }
  static void CheckQ(double q) {
    if (!(q >= 0 && q <= 1)) throw Error(MakeSqlstate("22003"), "quantile must be between 0 and 1");
  }
  // The value of 0-based rank r (r < count, stores flushed): exact at the ends, else the representative
  // of the bucket holding it.
  double ValueAtRank(uint64_t rank) const {
    if (rank == 0) return min_;
    if (rank + 1 >= count_) return max_;
    uint64_t seen = 0;
    for (size_t i = neg_.counts.size(); i-- > 0;) {
      seen += neg_.counts[i];
      if (seen > rank) return Clamp(-Value(neg_.offset + int32_t(i)));
    }
    seen += zero_;
    if (seen > rank) return 0.0;
    for (size_t i = 0; i < pos_.counts.size(); i++) {
      seen += pos_.counts[i];
      if (seen > rank) return Clamp(Value(pos_.offset + int32_t(i)));
    }
    return max_;
  }
  double Clamp(double v) const { return std::min(max_, std::max(min_, v)); }

  double alpha_, gamma_, inv_log_gamma_;
  uint64_t count_ = 0, zero_ = 0;
  double min_ = 0, max_ = 0;
  Store pos_, neg_;
  std::vector<double, F64Alloc> pending_;  // nonzero values added but not yet in a store, after small_
  uint32_t nsmall_ = 0;
  double small_[kSmall] = {};  // a group's first nonzero values not yet in a store
};

using QSketch = BasicQSketch<>;

}  // namespace strata::core::sketch
