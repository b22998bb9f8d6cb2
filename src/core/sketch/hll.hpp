// HyperLogLog distinct counting, free of Postgres. Terms: precision p gives m = 2^p registers (standard
// error about 1.04/sqrt(m); p = 14 gives 0.81%). Small sets are kept "sparse": one 32-bit entry per
// distinct 25-bit index (index << 6 | rank), counted by linear counting over 2^25 cells, which is exact
// or nearly so up to thousands of values. Past a fixed size (when entries would outweigh the dense
// registers) the sketch turns "dense": m registers of the maximum rank, estimated with Ertl's improved
// estimator (no bias tables, no mid-range bias). The representation depends only on the set of hashes
// added, never on their order, so merges are exact, commutative and associative, bit for bit.
// Sketches of different precisions merge exactly at the lower precision (registers fold losslessly).
#pragma once
#include "core/no_postgres.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

#include "core/error.hpp"
#include "core/sketch/bytes.hpp"
#include "core/sketch/registers.hpp"

namespace strata::core::sketch {

inline constexpr int kHllMinPrecision = 4;
inline constexpr int kHllMaxPrecision = 18;
inline constexpr int kHllDefaultPrecision = 14;
inline constexpr int kHllSparsePrecision = 25;

inline void CheckHllPrecision(int p) {
  if (p < kHllMinPrecision || p > kHllMaxPrecision)
    throw Error(MakeSqlstate("22023"), "hll precision must be between 4 and 18", {},
                "Precision 14 (the default) gives about 0.8% standard error in 12 kB.");
}

template <class Alloc = std::allocator<uint8_t>>
class BasicHll {
  using U32Alloc = typename std::allocator_traits<Alloc>::template rebind_alloc<uint32_t>;
  using U8Alloc = typename std::allocator_traits<Alloc>::template rebind_alloc<uint8_t>;

 public:
  explicit BasicHll(int precision = kHllDefaultPrecision, const Alloc& a = Alloc())
      : p_(precision), sparse_(U32Alloc(a)), buffer_(U32Alloc(a)), dense_(U8Alloc(a)) {
    CheckHllPrecision(precision);
  }

  int precision() const { return p_; }
  bool is_sparse() const { return dense_.empty(); }
  uint32_t registers() const { return uint32_t(1) << p_; }
  // Sparse entries beyond this make the dense form smaller: the sketch converts.
  size_t sparse_limit() const { return (size_t(registers()) * 6 / 8) / 4; }

  // Adds one 64-bit hash. Branch-light and allocation-free except when the sparse buffer fills. Both
  // forms buffer additions (sparse: entries to sort in; dense: register updates) and apply them in
  // batches: with many groups at once (an hourly GROUP BY holds hundreds of 16 kB register arrays) a
  // direct register update is a cache and TLB miss per row, while a batch of updates to one array
  // overlaps its misses.
  void AddHash(uint64_t h) {
    if (!dense_.empty()) {
      const uint32_t idx = static_cast<uint32_t>(h >> (64 - p_));
      const uint64_t w = h << p_;
      const uint32_t rank = w == 0 ? uint32_t(65 - p_) : uint32_t(__builtin_clzll(w) + 1);
      buffer_.push_back(idx << 8 | rank);
      if (buffer_.size() >= kDenseBuffer) FlushDense();
      return;
    }
    // A group's first value sizes the buffer for a few more at once: most rollup groups hold a handful
    // of values, and growing 1, 2, 4, 8 would allocate four times.
    if (buffer_.capacity() == 0) buffer_.reserve(kFirstBuffer);
    buffer_.push_back(SparseEntry(h));
    if (buffer_.size() >= kBufferSize) Compact();
  }

  // Merges other into this one; exact. Different precisions fold to the lower one.
  void Merge(const BasicHll& other_in) {
    Compact();
    if (other_in.p_ < p_) FoldTo(other_in.p_);
    const BasicHll* other = &other_in;
    BasicHll folded(other_in.p_, sparse_.get_allocator());
    if (other_in.p_ > p_) {
      folded = other_in;
      folded.FoldTo(p_);
      other = &folded;
    }
    if (other->is_sparse() && is_sparse()) {
      buffer_.insert(buffer_.end(), other->sparse_.begin(), other->sparse_.end());
      buffer_.insert(buffer_.end(), other->buffer_.begin(), other->buffer_.end());
      Compact();
      return;
    }
    if (is_sparse()) ToDense();
    if (other->is_sparse()) {
      for (uint32_t e : other->sparse_) SetFromSparse(e);
      for (uint32_t e : other->buffer_) SetFromSparse(e);
    } else {
      for (size_t i = 0; i < dense_.size(); i++) dense_[i] = std::max(dense_[i], other->dense_[i]);
      ApplyDense(other->buffer_.data(), other->buffer_.size());  // other's pending updates
    }
  }

  // Merges a serialized sketch straight from its bytes, validating as it reads (the same checks as
  // Deserialize); no intermediate sketch is built. On an error the partial merge must be discarded.
  void MergeSerialized(const uint8_t* data, size_t len) {
    Compact();
    ByteReader r(data, len);
    ReadHeader(r, SketchTag::kHll);
    const int p = r.U8();
    if (p < kHllMinPrecision || p > kHllMaxPrecision) Corrupt("hll precision out of range");
    if (p != p_) {
      Merge(Deserialize(data, len, sparse_.get_allocator()));
      return;
    }
    const uint8_t form = r.U8();
    if (form == 0) {
      const uint32_t n = r.U32();
      if (n > sparse_limit()) Corrupt("too many sparse entries");
      if (r.remaining() != size_t(n) * 4) Corrupt("sparse length mismatch");
      for (uint32_t i = 0, prev = 0; i < n; i++) {
        const uint32_t e = ReadSparseEntry(r, i, &prev);
        if (dense_.empty())
          buffer_.push_back(e);
        else
          SetFromSparse(e);
      }
      Compact();
    } else if (form == 1) {
      const size_t m = registers();
      if (r.remaining() != m * 6 / 8) Corrupt("dense length mismatch");
      if (dense_.empty()) ToDense();
      const uint8_t* b = r.Bytes(m * 6 / 8);
      if (MaxPacked(b, dense_.data(), m) > 65 - p_) Corrupt("register out of range");
    } else {
      Corrupt("unknown hll form");
    }
  }

  // Brings the sketch to its canonical form (sorted sparse entries, or dense).
  void Compact() {
    if (buffer_.empty()) return;
    if (!dense_.empty()) {
      FlushDense();
      return;
    }
    std::sort(buffer_.begin(), buffer_.end());
    if (sparse_.empty()) {  // the first compaction (often the only one): dedup in place, no new vector
      buffer_.resize(KeepLargestRankPerIndex(buffer_.data(), buffer_.size()));
      sparse_.swap(buffer_);
      if (sparse_.size() > sparse_limit()) ToDense();
      return;
    }
    std::vector<uint32_t, U32Alloc> merged(sparse_.get_allocator());
    merged.reserve(sparse_.size() + buffer_.size());
    std::merge(sparse_.begin(), sparse_.end(), buffer_.begin(), buffer_.end(), std::back_inserter(merged));
    merged.resize(KeepLargestRankPerIndex(merged.data(), merged.size()));
    sparse_.swap(merged);
    buffer_.clear();
    if (sparse_.size() > sparse_limit()) ToDense();
  }

  // Estimated number of distinct values.
  double Estimate() {
    Compact();
    if (dense_.empty()) {
      const double mp = double(uint64_t(1) << kHllSparsePrecision);
      const double n = double(sparse_.size());
      return n == 0 ? 0.0 : mp * std::log(mp / (mp - n));
    }
    const int q = 64 - p_;
    uint32_t hist[66] = {0};
    for (uint8_t r : dense_) hist[r]++;
    const double m = double(registers());
    double z = m * Tau(1.0 - hist[q + 1] / m);
    for (int k = q; k >= 1; k--) z = 0.5 * (z + hist[k]);
    z += m * Sigma(hist[0] / m);
    return (1.0 / (2.0 * std::log(2.0))) * m * m / z;
  }

  // Canonical serialization: header, precision, form, then entries or 6-bit packed registers.
  template <class Buf>
  void Serialize(Buf* out) {
    Compact();
    ByteWriter<Buf> w(out);
    w.Reserve(8 + (dense_.empty() ? sparse_.size() * 4 : dense_.size() * 6 / 8));
    w.U8(kFormatVersion);
    w.U8(static_cast<uint8_t>(SketchTag::kHll));
    w.U8(static_cast<uint8_t>(p_));
    w.U8(dense_.empty() ? 0 : 1);
    if (dense_.empty()) {
      w.U32(static_cast<uint32_t>(sparse_.size()));
      for (uint32_t e : sparse_) w.U32(e);
      return;
    }
    for (size_t i = 0; i < dense_.size(); i += 4) {
      const uint32_t v = uint32_t(dense_[i]) | uint32_t(dense_[i + 1]) << 6 | uint32_t(dense_[i + 2]) << 12 |
                         uint32_t(dense_[i + 3]) << 18;
      w.U8(static_cast<uint8_t>(v));
      w.U8(static_cast<uint8_t>(v >> 8));
      w.U8(static_cast<uint8_t>(v >> 16));
    }
  }

  // Reads and fully validates a serialized sketch.
  static BasicHll Deserialize(const uint8_t* data, size_t len, const Alloc& a = Alloc()) {
    ByteReader r(data, len);
    ReadHeader(r, SketchTag::kHll);
    const int p = r.U8();
    if (p < kHllMinPrecision || p > kHllMaxPrecision) Corrupt("hll precision out of range");
    BasicHll h(p, a);
    const uint8_t form = r.U8();
    if (form == 0) {
      const uint32_t n = r.U32();
      if (n > h.sparse_limit()) Corrupt("too many sparse entries");
      if (r.remaining() != size_t(n) * 4) Corrupt("sparse length mismatch");
      h.sparse_.reserve(n);
      for (uint32_t i = 0, prev = 0; i < n; i++) {
        const uint32_t e = ReadSparseEntry(r, i, &prev);
        h.sparse_.push_back(e);
      }
    } else if (form == 1) {
      const size_t m = h.registers();
      if (r.remaining() != m * 6 / 8) Corrupt("dense length mismatch");
      h.dense_.assign(m, 0);
      if (MaxPacked(r.Bytes(m * 6 / 8), h.dense_.data(), m) > 65 - p) Corrupt("register out of range");
    } else {
      Corrupt("unknown hll form");
    }
    r.ExpectEnd();
    return h;
  }

  // Bytes held in memory (for the planner's per-group estimate and tests).
  size_t MemoryBytes() const {
    return sizeof(*this) + sparse_.capacity() * 4 + buffer_.capacity() * 4 + dense_.capacity();
  }

 private:
  static constexpr size_t kBufferSize = 256;  // sparse form: entries sorted in per batch
  static constexpr size_t kDenseBuffer = 128;  // dense form: register updates per batch

  static constexpr size_t kFirstBuffer = 8;     // sparse form: buffer capacity at the first value

  // Sorted entries (index << 6 | rank): keeps the last (largest rank) entry of each index; returns the
  // new count.
  static size_t KeepLargestRankPerIndex(uint32_t* e, size_t n) {
    size_t out = 0;
    for (size_t i = 0; i < n; i++) {
      if (out > 0 && (e[out - 1] >> 6) == (e[i] >> 6))
        e[out - 1] = e[i];
      else
        e[out++] = e[i];
    }
    return out;
  }

  // Reads the i-th sparse entry of a serialized sketch and checks its rank and ascending order.
  static uint32_t ReadSparseEntry(ByteReader& r, uint32_t i, uint32_t* prev) {
    const uint32_t e = r.U32();
    const uint32_t rank = e & 63;
    if (rank < 1 || rank > 64 - kHllSparsePrecision + 1) Corrupt("sparse rank out of range");
    // 32 bits hold a 26-bit index field: a 25-bit index must leave the top bit clear (it would index
    // past the registers when the sketch turns dense).
    if ((e >> 6) >> kHllSparsePrecision) Corrupt("sparse index out of range");
    if (i > 0 && (e >> 6) <= (*prev >> 6)) Corrupt("sparse entries not strictly ascending");
    *prev = e;
    return e;
  }

  static uint32_t SparseEntry(uint64_t h) {
    const uint32_t idx = static_cast<uint32_t>(h >> (64 - kHllSparsePrecision));
    const uint64_t w = h << kHllSparsePrecision;
    const uint32_t rank = w == 0 ? 64 - kHllSparsePrecision + 1 : std::min<uint32_t>(__builtin_clzll(w) + 1, 40);
    return idx << 6 | rank;
  }

  // Register update from a sparse entry (the HLL++ conversion: exact, same as adding the hash).
  void SetFromSparse(uint32_t e) {
    const uint32_t idx25 = e >> 6;
    const uint32_t shift = kHllSparsePrecision - p_;
    const uint32_t idx = idx25 >> shift;
    const uint32_t mid = idx25 & ((uint32_t(1) << shift) - 1);
    uint8_t rank;
    if (mid != 0)
      rank = static_cast<uint8_t>(__builtin_clz(mid) - (32 - shift) + 1);
    else
      rank = static_cast<uint8_t>(shift + (e & 63));
    if (rank > dense_[idx]) dense_[idx] = rank;
  }

  // Dense-form buffer entries are (register index << 8 | rank) at the sketch's precision.
  void ApplyDense(const uint32_t* e, size_t n) {
    uint8_t* d = dense_.data();
    for (size_t i = 0; i < n; i++) {
      const uint32_t idx = e[i] >> 8;
      const uint8_t rank = static_cast<uint8_t>(e[i]);
      d[idx] = std::max(d[idx], rank);
    }
  }
  void FlushDense() {
    ApplyDense(buffer_.data(), buffer_.size());
    buffer_.clear();
  }

  void ToDense() {
    dense_.assign(registers(), 0);
    for (uint32_t e : sparse_) SetFromSparse(e);
    for (uint32_t e : buffer_) SetFromSparse(e);
    sparse_.clear();
    sparse_.shrink_to_fit();
    buffer_.clear();
  }

  // Lowers the precision exactly: register j of the finer sketch lands in j >> (p - np); its rank is set
  // by the dropped index bits when they are not all zero.
  void FoldTo(int np) {
    if (np >= p_) return;
    if (dense_.empty()) {  // sparse entries do not depend on p
      p_ = np;
      Compact();
      return;
    }
    FlushDense();
    const uint32_t shift = p_ - np;
    std::vector<uint8_t, U8Alloc> folded(size_t(1) << np, 0, dense_.get_allocator());
    for (uint32_t j = 0; j < dense_.size(); j++) {
      if (dense_[j] == 0) continue;
      const uint32_t mid = j & ((uint32_t(1) << shift) - 1);
      const uint8_t rank = mid != 0 ? static_cast<uint8_t>(__builtin_clz(mid) - (32 - shift) + 1)
                                    : static_cast<uint8_t>(shift + dense_[j]);
      uint8_t& dst = folded[j >> shift];
      if (rank > dst) dst = rank;
    }
    dense_.swap(folded);
    p_ = np;
  }

  static double Sigma(double x) {
    if (x == 1.0) return std::numeric_limits<double>::infinity();
    double y = 1.0, z = x, zp;
    do {
      x *= x;
      zp = z;
      z += x * y;
      y += y;
    } while (zp != z);
    return z;
  }

  static double Tau(double x) {
    if (x == 0.0 || x == 1.0) return 0.0;
    double y = 1.0, z = 1.0 - x, zp;
    do {
      x = std::sqrt(x);
      zp = z;
      y *= 0.5;
      z -= (1.0 - x) * (1.0 - x) * y;
    } while (zp != z);
    return z / 3.0;
  }

  int p_;
  std::vector<uint32_t, U32Alloc> sparse_;  // canonical: sorted, one entry per 25-bit index
  std::vector<uint32_t, U32Alloc> buffer_;  // recent additions: sparse entries, or dense register updates
  std::vector<uint8_t, U8Alloc> dense_;     // registers; empty while sparse
};

using Hll = BasicHll<>;

}  // namespace strata::core::sketch
