#include "core/keyset.hpp"

#include <cstring>
#include <limits>

namespace strata::core::keyset {

namespace {

constexpr uint32_t kMagic = 0x5354'4b53;  // "STKS"
constexpr uint64_t kMinCapacity = 8;

template <class T>
T Load(const unsigned char* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

template <class T>
void Store(unsigned char* p, T v) {
  std::memcpy(p, &v, sizeof v);
}

// The capacity for n keys: a power of two at least twice n (probe sequences stay short).
uint64_t CapacityFor(uint64_t n) {
  uint64_t c = kMinCapacity;
  while (c / 2 < n) c *= 2;
  return c;
}

uint64_t Mix(uint64_t h) {  // the splitmix64 finalizer
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  return h ^ (h >> 31);
}

uint64_t Hash(const int64_t* key, int columns) {
  uint64_t h = 0x9e3779b97f4a7c15ULL;
  for (int c = 0; c < columns; c++) h = Mix(h ^ static_cast<uint64_t>(key[c]));
  return h;
}

struct View {
  int columns;
  uint64_t capacity;
  const unsigned char* slots;
  const unsigned char* used;
};

View Open(const unsigned char* buf) {
  View v;
  v.columns = static_cast<int>(Load<uint32_t>(buf + 4));
  v.capacity = Load<uint64_t>(buf + 16);
  v.slots = buf + kHeaderBytes;
  v.used = v.slots + v.capacity * static_cast<uint64_t>(v.columns) * 8;
  return v;
}

bool SlotEquals(const unsigned char* slot, const int64_t* key, int columns) {
  for (int c = 0; c < columns; c++)
    if (Load<int64_t>(slot + 8 * c) != key[c]) return false;
  return true;
}

}  // namespace

size_t BytesFor(int columns, uint64_t keys, size_t limit) {
  if (columns < 1 || columns > kMaxKeysetColumns) return 0;
  // Past this the capacity (2 * keys, rounded up to a power of two) would not fit any byte limit.
  if (keys > (uint64_t{1} << 58) || keys > limit) return 0;
  const uint64_t capacity = CapacityFor(keys);
  const uint64_t per_slot = static_cast<uint64_t>(columns) * 8 + 1;
  if (capacity > (std::numeric_limits<uint64_t>::max() - kHeaderBytes) / per_slot) return 0;
  const uint64_t bytes = kHeaderBytes + capacity * per_slot;
  return bytes > limit ? 0 : static_cast<size_t>(bytes);
}

void Build(const int64_t* keys, uint64_t n, int columns, unsigned char* out) {
  const uint64_t capacity = CapacityFor(n);
  Store<uint32_t>(out, kMagic);
  Store<uint32_t>(out + 4, static_cast<uint32_t>(columns));
  Store<uint64_t>(out + 16, capacity);
  unsigned char* slots = out + kHeaderBytes;
  const size_t width = static_cast<size_t>(columns) * 8;
  unsigned char* used = slots + capacity * width;
  std::memset(slots, 0, capacity * width);
  std::memset(used, 0, capacity);
  uint64_t count = 0;
  for (uint64_t i = 0; i < n; i++) {
    const int64_t* key = keys + i * static_cast<uint64_t>(columns);
    uint64_t at = Hash(key, columns) & (capacity - 1);
    while (used[at] != 0 && !SlotEquals(slots + at * width, key, columns)) at = (at + 1) & (capacity - 1);
    if (used[at] != 0) continue;  // a duplicate
    std::memcpy(slots + at * width, key, width);
    used[at] = 1;
    count++;
  }
  Store<uint64_t>(out + 8, count);
}

const char* Check(const unsigned char* buf, size_t len) {
  if (len < kHeaderBytes) return "it is shorter than a keyset header";
  if (Load<uint32_t>(buf) != kMagic) return "it does not start with the keyset magic number";
  const uint32_t columns = Load<uint32_t>(buf + 4);
  if (columns < 1 || columns > kMaxKeysetColumns) return "its column count is out of range";
  const uint64_t count = Load<uint64_t>(buf + 8), capacity = Load<uint64_t>(buf + 16);
  if (capacity < kMinCapacity || (capacity & (capacity - 1)) != 0) return "its capacity is not a power of two";
  // No division here (this runs per probe): a capacity past 2^40 slots is never a length's match.
  const uint64_t per_slot = static_cast<uint64_t>(columns) * 8 + 1;
  if (capacity > (uint64_t{1} << 40) || kHeaderBytes + capacity * per_slot != len)
    return "its length does not match its capacity";
  if (count > capacity / 2) return "it holds more keys than its capacity allows";
  return nullptr;
}

size_t TableBytes(const unsigned char* table) {
  return kHeaderBytes + Load<uint64_t>(table + 16) * (static_cast<uint64_t>(Load<uint32_t>(table + 4)) * 8 + 1);
}

const char* Split(const unsigned char* buf, size_t len, const unsigned char** aux) {
  *aux = nullptr;
  if (len < kHeaderBytes) return "it is shorter than a keyset header";
  const unsigned char* main_table = buf;
  // The main table's length, read from its header (checked in full below).
  const uint32_t columns = Load<uint32_t>(buf + 4);
  const uint64_t capacity = Load<uint64_t>(buf + 16);
  if (columns < 1 || columns > kMaxKeysetColumns || capacity > (uint64_t{1} << 40))
    return Check(main_table, len);  // reports what is wrong
  const size_t main_len = TableBytes(main_table);
  if (main_len >= len) return Check(main_table, len);
  if (const char* why = Check(main_table, main_len)) return why;
  if (const char* why = Check(buf + main_len, len - main_len)) return why;
  if (Columns(buf + main_len) != 1) return "its second table is not a table of first key columns";
  *aux = buf + main_len;
  return nullptr;
}

int Columns(const unsigned char* buf) { return static_cast<int>(Load<uint32_t>(buf + 4)); }

uint64_t Count(const unsigned char* buf) { return Load<uint64_t>(buf + 8); }

bool Contains(const unsigned char* buf, const int64_t* key) {
  const View v = Open(buf);
  const size_t width = static_cast<size_t>(v.columns) * 8;
  // Build leaves half the slots free, so a probe ends at a free slot; the bound keeps a value that was
  // not made by Build (every slot flagged used) from looping.
  uint64_t at = Hash(key, v.columns) & (v.capacity - 1);
  for (uint64_t step = 0; step < v.capacity; step++, at = (at + 1) & (v.capacity - 1)) {
    if (v.used[at] == 0) return false;
    if (SlotEquals(v.slots + at * width, key, v.columns)) return true;
  }
  return false;
}

}  // namespace strata::core::keyset
