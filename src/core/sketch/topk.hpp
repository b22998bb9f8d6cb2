// Heavy hitters (top-k) with a guaranteed error bound, free of Postgres: a Misra-Gries summary with
// batched compaction. Terms: capacity c = max(4k, 32) counters are kept; when 2c are in use, the
// (c+1)-th largest count d is subtracted from every counter, counters at or below zero are dropped and
// the global `error` grows by d. Every reported count is a lower bound: true count is in
// [count, count + error], and error <= total / (c + 1). Any item whose true count exceeds error is in the
// summary. Merging adds counters, totals and errors, then compacts: commutative, with the same bound.
// Items are compared as bytes (their text form); items longer than 1024 bytes are cut to 1024.
#pragma once
#include "core/no_postgres.hpp"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/error.hpp"
#include "core/sketch/bytes.hpp"
#include "core/sketch/hash.hpp"

namespace strata::core::sketch {

inline constexpr uint32_t kTopKMaxK = 10000;
inline constexpr size_t kTopKMaxItemBytes = 1024;

inline void CheckTopK(int64_t k) {
  if (k < 1 || k > kTopKMaxK)
    throw Error(MakeSqlstate("22023"), "topk k must be between 1 and 10000", {},
                "k is the number of heaviest items to keep track of.");
}

struct TopKItem {
  std::string item;
  uint64_t count;
};

template <class Alloc = std::allocator<uint8_t>>
class BasicTopK {
  using CharAlloc = typename std::allocator_traits<Alloc>::template rebind_alloc<char>;
  using String = std::basic_string<char, std::char_traits<char>, CharAlloc>;
  struct Hash {
    size_t operator()(const String& s) const { return static_cast<size_t>(HashBytes(s.data(), s.size())); }
  };
  using Map = std::unordered_map<String, uint64_t, Hash, std::equal_to<String>,
                                 typename std::allocator_traits<Alloc>::template rebind_alloc<std::pair<const String, uint64_t>>>;

 public:
  explicit BasicTopK(uint32_t k, const Alloc& a = Alloc()) : k_(k), alloc_(a), counts_(0, Hash(), std::equal_to<String>(), typename Map::allocator_type(a)) {
    CheckTopK(k);
    capacity_ = std::max<uint32_t>(4 * k, 32);
    counts_.reserve(2 * capacity_);
  }

  uint32_t k() const { return k_; }
  uint32_t capacity() const { return capacity_; }
  uint64_t total() const { return total_; }
  uint64_t error() const { return error_; }

  void Add(std::string_view item) {
    if (item.size() > kTopKMaxItemBytes) item = item.substr(0, kTopKMaxItemBytes);
    total_++;
    key_.assign(item.data(), item.size());
    auto it = counts_.find(key_);
    if (it != counts_.end()) {
      it->second++;
      return;
    }
    counts_.emplace(key_, 1);
    if (counts_.size() >= 2 * size_t(capacity_)) Compact(capacity_);
  }

  void Merge(const BasicTopK& o) {
    if (o.k_ != k_)
      throw Error(MakeSqlstate("22023"), "cannot merge topk sketches with different k", {},
                  "Build the sketches to be merged with the same k.");
    total_ += o.total_;
    error_ += o.error_;
    for (const auto& [item, c] : o.counts_) counts_[item] += c;
    if (counts_.size() > capacity_) Compact(capacity_);
  }

  // The k heaviest items, by count (descending) then item bytes.
  std::vector<TopKItem> Top() const {
    std::vector<TopKItem> all;
    all.reserve(counts_.size());
    for (const auto& [item, c] : counts_) all.push_back({std::string(item.data(), item.size()), c});
    std::sort(all.begin(), all.end(), [](const TopKItem& a, const TopKItem& b) {
      return a.count != b.count ? a.count > b.count : a.item < b.item;
    });
    if (all.size() > k_) all.resize(k_);
    return all;
  }

  // Merges a serialized sketch (validated by Deserialize).
  void MergeSerialized(const uint8_t* data, size_t len) {
    Merge(Deserialize(data, len, Alloc(alloc_)));
  }

  template <class Buf>
  void Serialize(Buf* out) {
    if (counts_.size() > capacity_) Compact(capacity_);
    std::vector<std::pair<std::string_view, uint64_t>> items;
    items.reserve(counts_.size());
    for (const auto& [item, c] : counts_) items.emplace_back(std::string_view(item.data(), item.size()), c);
    std::sort(items.begin(), items.end());
    ByteWriter<Buf> w(out);
    w.U8(kFormatVersion);
    w.U8(static_cast<uint8_t>(SketchTag::kTopK));
    w.U32(k_);
    w.Var(total_);
    w.Var(error_);
    w.Var(items.size());
    for (const auto& [item, c] : items) {
      w.Var(item.size());
      w.Bytes(item.data(), item.size());
      w.Var(c);
    }
  }

  static BasicTopK Deserialize(const uint8_t* data, size_t len, const Alloc& a = Alloc()) {
    ByteReader r(data, len);
    ReadHeader(r, SketchTag::kTopK);
    const uint32_t k = r.U32();
    if (k < 1 || k > kTopKMaxK) Corrupt("k out of range");
    BasicTopK t(k, a);
    t.total_ = r.Var();
    t.error_ = r.Var();
    if (t.error_ > t.total_) Corrupt("error exceeds total");
    const uint64_t n = r.Var();
    if (n > t.capacity_) Corrupt("more items than the capacity");
    uint64_t sum = 0;
    std::string_view prev;
    for (uint64_t i = 0; i < n; i++) {
      const uint64_t len_i = r.Var();
      if (len_i > kTopKMaxItemBytes) Corrupt("item too long");
      const char* b = reinterpret_cast<const char*>(r.Bytes(len_i));
      const std::string_view item(b, len_i);
      if (i > 0 && !(prev < item)) Corrupt("items not strictly ascending");
      const uint64_t c = r.Var();
      if (c == 0 || c > t.total_) Corrupt("item count out of range");
      sum += c;
      if (sum > t.total_) Corrupt("item counts exceed the total");
      t.counts_.emplace(String(b, len_i, CharAlloc(a)), c);
      prev = item;
    }
    r.ExpectEnd();
    return t;
  }

 private:
  // Keeps at most `keep` counters: subtracts the (keep+1)-th largest count from all.
  void Compact(size_t keep) {
    if (counts_.size() <= keep) return;
    std::vector<uint64_t> c;
    c.reserve(counts_.size());
    for (const auto& kv : counts_) c.push_back(kv.second);
    std::nth_element(c.begin(), c.begin() + keep, c.end(), std::greater<uint64_t>());
    const uint64_t d = c[keep];
    for (auto it = counts_.begin(); it != counts_.end();) {
      if (it->second <= d) {
        it = counts_.erase(it);
      } else {
        it->second -= d;
        ++it;
      }
    }
    error_ += d;
  }

  uint32_t k_, capacity_;
  Alloc alloc_;
  uint64_t total_ = 0, error_ = 0;
  Map counts_;
  String key_{CharAlloc(alloc_)};
};

using TopK = BasicTopK<>;

}  // namespace strata::core::sketch
