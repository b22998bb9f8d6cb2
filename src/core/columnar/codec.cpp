// Column batch codecs: the format is described in codec.hpp.
#include "core/columnar/codec.hpp"

#include <zstd.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <unordered_map>

namespace strata::core::columnar {
namespace {

constexpr uint8_t kMagic = 0xC7;
constexpr uint8_t kVersion = 1;
constexpr uint8_t kHasNulls = 1;
constexpr uint8_t kZstd = 2;
constexpr size_t kBlock = 128;
// zstd is kept only when it shrinks the payload by an eighth; a decoder accepts at most this expansion
// of the compressed bytes (the encoder never writes more), which bounds what corrupted input allocates.
constexpr size_t kMaxZstdRatio = 4096;
constexpr size_t kMinZstdInput = 64;
constexpr size_t kMaxRawPayload = size_t(1) << 30;

[[noreturn]] void Corrupt(const std::string& what) {
  throw Error(kDataCorrupted, "invalid compressed batch: " + what, {}, kCorruptHint);
}

// Low 32 bits of XXH3-64 over the header (seeding) and everything after the checksum field.
uint32_t Checksum(const uint8_t* head, size_t head_len, const uint8_t* body, size_t body_len) {
  return uint32_t(XXH3_64bits_withSeed(body, body_len, XXH3_64bits(head, head_len)));
}

uint64_t ZigZag(int64_t v) { return (uint64_t(v) << 1) ^ (0 - (uint64_t(v) >> 63)); }
int64_t UnZigZag(uint64_t u) { return int64_t((u >> 1) ^ (0 - (u & 1))); }
int Width(uint64_t v) { return v == 0 ? 0 : 64 - __builtin_clzll(v); }

void PutVarint(std::vector<uint8_t>* out, uint64_t v) {
  while (v >= 0x80) out->push_back(uint8_t(v | 0x80)), v >>= 7;
  out->push_back(uint8_t(v));
}

// Bounds-checked reading of bytes, varints and bit fields.
class Reader {
 public:
  Reader(const uint8_t* p, size_t len) : p_(p), end_(p + len) {}
  size_t remaining() const { return size_t(end_ - p_); }
  const uint8_t* position() const { return p_; }
  uint8_t U8() {
    if (p_ == end_) Corrupt("truncated");
    return *p_++;
  }
  uint64_t Varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      const uint8_t b = U8();
      if (shift == 63 && b > 1) Corrupt("varint overflows 64 bits");
      v |= uint64_t(b & 0x7F) << shift;
      if ((b & 0x80) == 0) return v;
    }
    Corrupt("varint too long");
  }
  std::string_view Bytes(uint64_t n) {
    if (n > remaining()) Corrupt("a length runs past the end");
    std::string_view s(reinterpret_cast<const char*>(p_), size_t(n));
    p_ += n;
    return s;
  }
  void Skip(size_t n) { Bytes(n); }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

class BitWriter {
 public:
  explicit BitWriter(std::vector<uint8_t>* out) : out_(out) {}
  void Put(uint64_t v, int width) {  // the low `width` bits of v, least significant first
    while (width > 0) {
      const int take = std::min(width, 64 - fill_);
      const uint64_t part = take == 64 ? v : v & ((uint64_t(1) << take) - 1);
      acc_ |= fill_ == 64 ? 0 : part << fill_;
      fill_ += take, width -= take;
      v = take == 64 ? 0 : v >> take;
      while (fill_ >= 8) out_->push_back(uint8_t(acc_)), acc_ >>= 8, fill_ -= 8;
    }
  }
  void Flush() {
    if (fill_ > 0) out_->push_back(uint8_t(acc_)), acc_ = 0, fill_ = 0;
  }

 private:
  std::vector<uint8_t>* out_;
  uint64_t acc_ = 0;
  int fill_ = 0;
};

class BitReader {
 public:
  BitReader(const uint8_t* p, size_t len) : p_(p), len_(len), bits_(uint64_t(len) * 8) {}
  uint64_t Get(int width) {
    if (width == 0) return 0;
    if (uint64_t(width) > bits_ - pos_) Corrupt("bit stream truncated");
    const size_t byte = size_t(pos_ >> 3);
    const int off = int(pos_ & 7);
    pos_ += uint64_t(width);
    if (width + off <= 64 && byte + 8 <= len_) {  // one unaligned 8-byte load (little-endian)
      uint64_t w;
      std::memcpy(&w, p_ + byte, 8);
      w = LittleEndian(w) >> off;
      return width == 64 ? w : w & ((uint64_t(1) << width) - 1);
    }
    uint64_t v = 0;
    for (int got = 0, at = off, i = 0; got < width; i++, at = 0) {
      const int take = std::min(8 - at, width - got);
      v |= uint64_t((p_[byte + size_t(i)] >> at) & ((1u << take) - 1)) << got;
      got += take;
    }
    return v;
  }
  size_t BytesUsed() const { return size_t((pos_ + 7) / 8); }

 private:
  static uint64_t LittleEndian(uint64_t w) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    return __builtin_bswap64(w);
#else
    return w;
#endif
  }
  const uint8_t* p_;
  size_t len_;
  uint64_t bits_, pos_ = 0;
};

// ---- kInt: unsigned values bit-packed in blocks of 128, one width byte per block ----
void PackBlocks(const std::vector<uint64_t>& u, std::vector<uint8_t>* out) {
  for (size_t b = 0; b < u.size(); b += kBlock) {
    const size_t e = std::min(u.size(), b + kBlock);
    int w = 0;
    for (size_t i = b; i < e; i++) w = std::max(w, Width(u[i]));
    out->push_back(uint8_t(w));
    BitWriter bits(out);
    for (size_t i = b; i < e; i++) bits.Put(u[i], w);
    bits.Flush();
  }
}

template <class F>
void UnpackBlocks(Reader* r, size_t count, F&& each) {
  for (size_t b = 0; b < count; b += kBlock) {
    const size_t n = std::min(count - b, kBlock);
    const int w = r->U8();
    if (w > 64) Corrupt("bit width over 64");
    const size_t bytes = (n * size_t(w) + 7) / 8;
    BitReader bits(r->position(), std::min(bytes, r->remaining()));
    for (size_t i = 0; i < n; i++) each(bits.Get(w));
    r->Skip(bytes);
  }
}

// A common divisor of the packed numbers (timestamps of millisecond or second precision, amounts in
// hundreds) is stored once and divided out; 1 when there is none.
uint64_t Divisor(const std::vector<uint64_t>& magnitudes) {
  uint64_t g = 0;
  for (uint64_t x : magnitudes) {
    for (uint64_t a = x; a != 0;) std::swap(a, g), a %= g;  // g = gcd(g, x)
    if (g == 1) return 1;
  }
  return g == 0 || g > (uint64_t(1) << 62) ? 1 : g;
}

// Delta-of-delta: the first value, the first delta, the divisor, then each delta's change divided by it,
// zigzagged (regular series).
void EncodeDeltaDelta(const std::vector<int64_t>& v, std::vector<uint8_t>* out) {
  if (v.empty()) return;
  PutVarint(out, ZigZag(v[0]));
  if (v.size() == 1) return;
  uint64_t prev_delta = uint64_t(v[1]) - uint64_t(v[0]);  // modular: exact over the whole int64 range
  PutVarint(out, ZigZag(int64_t(prev_delta)));
  std::vector<int64_t> dd;
  std::vector<uint64_t> magnitude;
  dd.reserve(v.size());
  magnitude.reserve(v.size());
  for (size_t i = 2; i < v.size(); i++) {
    const uint64_t delta = uint64_t(v[i]) - uint64_t(v[i - 1]);
    dd.push_back(int64_t(delta - prev_delta));
    magnitude.push_back(dd.back() < 0 ? 0 - uint64_t(dd.back()) : uint64_t(dd.back()));
    prev_delta = delta;
  }
  const uint64_t g = Divisor(magnitude);
  PutVarint(out, g);
  std::vector<uint64_t> packed;
  packed.reserve(dd.size());
  for (int64_t x : dd) packed.push_back(ZigZag(x / int64_t(g)));
  PackBlocks(packed, out);
}

void DecodeDeltaDelta(Reader* r, size_t m, std::vector<int64_t>* v) {
  if (m == 0) return;
  v->reserve(m);
  v->push_back(UnZigZag(r->Varint()));
  if (m == 1) return;
  uint64_t delta = uint64_t(UnZigZag(r->Varint()));
  v->push_back(int64_t(uint64_t((*v)[0]) + delta));
  const uint64_t g = r->Varint();
  if (g == 0) Corrupt("divisor 0");
  UnpackBlocks(r, m - 2, [&](uint64_t u) {
    delta += uint64_t(UnZigZag(u)) * g;
    v->push_back(int64_t(uint64_t(v->back()) + delta));
  });
}

// Frame of reference: the minimum, the divisor, then each value's distance from the minimum divided by
// it (values in a range, in any order).
void EncodeFrame(const std::vector<int64_t>& v, std::vector<uint8_t>* out) {
  if (v.empty()) return;
  const int64_t lo = *std::min_element(v.begin(), v.end());
  PutVarint(out, ZigZag(lo));
  std::vector<uint64_t> d;
  d.reserve(v.size());
  for (int64_t x : v) d.push_back(uint64_t(x) - uint64_t(lo));
  const uint64_t g = Divisor(d);
  PutVarint(out, g);
  if (g > 1)
    for (uint64_t& x : d) x /= g;
  PackBlocks(d, out);
}

void DecodeFrame(Reader* r, size_t m, std::vector<int64_t>* v) {
  if (m == 0) return;
  v->reserve(m);
  const uint64_t lo = uint64_t(UnZigZag(r->Varint()));
  const uint64_t g = r->Varint();
  if (g == 0) Corrupt("divisor 0");
  UnpackBlocks(r, m, [&](uint64_t u) { v->push_back(int64_t(lo + u * g)); });
}

// The smaller of the two integer forms; returns its codec.
Codec EncodeInts(const std::vector<int64_t>& v, std::vector<uint8_t>* out) {
  std::vector<uint8_t> dd, fr;
  EncodeDeltaDelta(v, &dd);
  EncodeFrame(v, &fr);
  const bool frame = fr.size() < dd.size();
  out->insert(out->end(), frame ? fr.begin() : dd.begin(), frame ? fr.end() : dd.end());
  return frame ? Codec::kFrame : Codec::kDeltaDelta;
}

void DecodeInts(Reader* r, Codec codec, size_t m, std::vector<int64_t>* v) {
  if (codec == Codec::kFrame)
    DecodeFrame(r, m, v);
  else if (codec == Codec::kDeltaDelta)
    DecodeDeltaDelta(r, m, v);
  else
    Corrupt("not an integer codec");
}

// ---- kFloat: Gorilla XOR ----
void EncodeFloats(const std::vector<uint64_t>& v, std::vector<uint8_t>* out) {
  if (v.empty()) return;
  BitWriter bits(out);
  bits.Put(v[0], 64);
  int lead = -1, len = 0;  // the current window: `lead` leading zero bits, then `len` meaningful bits
  for (size_t i = 1; i < v.size(); i++) {
    const uint64_t x = v[i] ^ v[i - 1];
    if (x == 0) {
      bits.Put(0, 1);
      continue;
    }
    const int l = __builtin_clzll(x), t = __builtin_ctzll(x);
    if (lead >= 0 && l >= lead && t >= 64 - lead - len) {
      bits.Put(1, 1), bits.Put(0, 1);
      bits.Put(x >> (64 - lead - len), len);
    } else {
      lead = l, len = 64 - l - t;
      bits.Put(1, 1), bits.Put(1, 1);
      bits.Put(uint64_t(lead), 6), bits.Put(uint64_t(len - 1), 6);
      bits.Put(x >> t, len);
    }
  }
  bits.Flush();
}

void DecodeFloats(Reader* r, size_t m, std::vector<uint64_t>* v) {
  if (m == 0) return;
  BitReader bits(r->position(), r->remaining());
  v->reserve(m);
  v->push_back(bits.Get(64));
  int lead = -1, len = 0;
  for (size_t i = 1; i < m; i++) {
    if (bits.Get(1) == 0) {
      v->push_back(v->back());
      continue;
    }
    if (bits.Get(1) == 1) {
      lead = int(bits.Get(6)), len = int(bits.Get(6)) + 1;
      if (lead + len > 64) Corrupt("XOR window past 64 bits");
    } else if (lead < 0) {
      Corrupt("XOR value reuses a window before one was set");
    }
    const uint64_t x = bits.Get(len) << (64 - lead - len);
    v->push_back(v->back() ^ x);
  }
  r->Skip(bits.BytesUsed());
}

// ---- kFloat: decimals (values with at most 9 decimal digits, e.g. prices or scores): v * 10^k as
// integers, when every value comes back bit for bit as double(integer) / 10^k ----
constexpr double kPow10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
constexpr int kMaxScale = 9;

double FromBits(uint64_t u) {
  double d;
  std::memcpy(&d, &u, 8);
  return d;
}

uint64_t ToBits(double d) {
  uint64_t u;
  std::memcpy(&u, &d, 8);
  return u;
}

// Fills `scaled` and returns the scale k when every value is an integer over 10^k (k <= 9); else -1.
// float4 patterns (below 2^32) are never scaled: their bits are not a double's (0, +0 in both, is).
int FindScale(const std::vector<uint64_t>& v, std::vector<int64_t>* scaled) {
  for (int k = 0; k <= kMaxScale; k++) {
    scaled->clear();
    bool fits = true;
    for (uint64_t bits : v) {
      const double d = FromBits(bits);
      const double x = d * kPow10[k];
      if ((bits != 0 && bits <= 0xFFFFFFFFull) || !std::isfinite(x) || std::fabs(x) > 9007199254740992.0 ||
          (d == 0 && std::signbit(d))) {
        return -1;  // NaN, infinities, -0, a float4 or too large: no scale can hold it
      }
      const int64_t r = std::llround(x);
      if (ToBits(double(r) / kPow10[k]) != bits) {
        fits = false;
        break;
      }
      scaled->push_back(r);
    }
    if (fits) return k;
  }
  return -1;
}

void DecodeDecimals(Reader* r, size_t m, std::vector<uint64_t>* v) {
  const int k = r->U8();
  if (k > kMaxScale) Corrupt("decimal scale out of range");
  const Codec inner = Codec(r->U8());
  std::vector<int64_t> ints;
  DecodeInts(r, inner, m, &ints);
  v->reserve(m);
  for (int64_t x : ints) v->push_back(ToBits(double(x) / kPow10[k]));
}

// ---- kBytes: dictionary or plain ----
// A dictionary when at most half of the values are distinct; false (nothing written) otherwise.
bool EncodeDictionary(const Batch& b, std::vector<uint8_t>* out) {
  std::unordered_map<std::string_view, uint32_t> index;
  std::vector<std::string_view> entries;
  std::vector<uint32_t> ids;
  ids.reserve(b.spans.size());
  const size_t limit = b.spans.size() / 2;
  for (size_t k = 0; k < b.spans.size(); k++) {
    auto [it, added] = index.emplace(b.value(k), uint32_t(entries.size()));
    if (added) entries.push_back(b.value(k));
    if (entries.size() > limit) return false;
    ids.push_back(it->second);
  }
  if (entries.empty()) return false;
  PutVarint(out, entries.size());
  for (std::string_view e : entries) {
    PutVarint(out, e.size());
    out->insert(out->end(), e.begin(), e.end());
  }
  const int w = Width(entries.size() - 1);
  BitWriter bits(out);
  for (uint32_t id : ids) bits.Put(id, w);
  bits.Flush();
  return true;
}

void DecodeDictionary(Reader* r, size_t m, Batch* b) {
  const uint64_t d = r->Varint();
  if (d == 0 || d > m) Corrupt("dictionary size out of range");
  std::vector<Batch::Span> entries;
  entries.reserve(size_t(d));
  for (uint64_t i = 0; i < d; i++) {
    std::string_view e = r->Bytes(r->Varint());
    entries.push_back({b->bytes.size(), e.size()});
    b->bytes.append(e);
  }
  const int w = Width(d - 1);
  const size_t bytes = (m * size_t(w) + 7) / 8;
  BitReader bits(r->position(), std::min(bytes, r->remaining()));
  b->spans.reserve(m);
  for (size_t k = 0; k < m; k++) {
    const uint64_t id = bits.Get(w);
    if (id >= d) Corrupt("dictionary index out of range");
    b->spans.push_back(entries[size_t(id)]);
  }
  r->Skip(bytes);
}

void EncodePlain(const Batch& b, std::vector<uint8_t>* out) {
  for (const Batch::Span& s : b.spans) PutVarint(out, s.length);
  for (size_t k = 0; k < b.spans.size(); k++) {
    std::string_view v = b.value(k);
    out->insert(out->end(), v.begin(), v.end());
  }
}

void DecodePlain(Reader* r, size_t m, Batch* b) {
  std::vector<uint64_t> lengths;
  lengths.reserve(std::min(m, r->remaining()));
  uint64_t total = 0;
  for (size_t k = 0; k < m; k++) {
    lengths.push_back(r->Varint());
    if (lengths.back() > r->remaining()) Corrupt("a value's length runs past the end");
    total += lengths.back();
  }
  if (total > r->remaining()) Corrupt("values run past the end");
  b->bytes.assign(reinterpret_cast<const char*>(r->position()), size_t(total));
  r->Skip(size_t(total));
  b->spans.reserve(m);
  size_t offset = 0;
  for (uint64_t len : lengths) b->spans.push_back({offset, size_t(len)}), offset += size_t(len);
}

// The batch's non-NULL count, after checking its size and that its values match its NULL map.
size_t CheckConsistent(const Batch& b) {
  if (b.null.size() > kMaxBatchValues)
    throw Error(sqlstate::kProgramLimitExceeded, "a compressed batch holds at most " + std::to_string(kMaxBatchValues) + " values");
  const size_t m = b.values();
  const size_t have = b.kind == Kind::kInt ? b.ints.size() : b.kind == Kind::kFloat ? b.floats.size() : b.spans.size();
  if (have != m) throw Error(sqlstate::kInternalError, "batch values do not match its NULL map");
  return m;
}

// The smaller of XOR and scaled decimals; returns its codec.
Codec EncodeFloatBatch(const std::vector<uint64_t>& v, std::vector<uint8_t>* out) {
  EncodeFloats(v, out);
  std::vector<int64_t> scaled;
  const int k = FindScale(v, &scaled);
  if (k < 0) return Codec::kXor;
  std::vector<uint8_t> decimals = {uint8_t(k), 0};
  decimals[1] = uint8_t(EncodeInts(scaled, &decimals));
  if (decimals.size() >= out->size()) return Codec::kXor;
  out->swap(decimals);
  return Codec::kDecimal;
}

// A dictionary or, failing that, lengths and bytes; returns its codec.
Codec EncodeBytes(const Batch& b, std::vector<uint8_t>* out) {
  if (EncodeDictionary(b, out)) return Codec::kDictionary;
  out->clear();
  EncodePlain(b, out);
  return Codec::kPlain;
}

}  // namespace

size_t Batch::values() const { return size_t(std::count(null.begin(), null.end(), uint8_t(0))); }

void Batch::AddBytes(std::string_view v) {
  null.push_back(0);
  spans.push_back({bytes.size(), v.size()});
  bytes.append(v);
}

const char* CodecName(Codec codec) {
  switch (codec) {
    case Codec::kDeltaDelta: return "delta-of-delta";
    case Codec::kXor: return "xor";
    case Codec::kDictionary: return "dictionary";
    case Codec::kPlain: return "plain";
    case Codec::kFrame: return "frame-of-reference";
    case Codec::kDecimal: return "decimal";
  }
  return "unknown";
}

std::vector<uint8_t> Encode(const Batch& b) {
  const size_t m = CheckConsistent(b);
  std::vector<uint8_t> payload;
  const Codec codec = b.kind == Kind::kInt     ? EncodeInts(b.ints, &payload)
                      : b.kind == Kind::kFloat ? EncodeFloatBatch(b.floats, &payload)
                                               : EncodeBytes(b, &payload);
  if (payload.size() > kMaxRawPayload)
    throw Error(sqlstate::kProgramLimitExceeded, "a compressed batch's values take at most 1 GB");
  const bool has_nulls = m != b.size();
  std::vector<uint8_t> out = {kMagic, kVersion, uint8_t(b.kind), uint8_t(codec), 0};
  PutVarint(&out, b.size());
  PutVarint(&out, b.type_tag);
  const size_t head = out.size();
  out.resize(head + 4);  // the checksum, written last
  if (has_nulls) {
    out[4] |= kHasNulls;
    uint8_t state = 0;  // runs alternate, starting with non-NULL (possibly an empty run)
    size_t run = 0;
    for (uint8_t is_null : b.null) {
      if (is_null != state) PutVarint(&out, run), run = 0, state = is_null;
      run++;
    }
    PutVarint(&out, run);
  }
  bool compressed = false;
  if (payload.size() >= kMinZstdInput) {
    std::vector<uint8_t> z(ZSTD_compressBound(payload.size()));
    const size_t zn = ZSTD_compress(z.data(), z.size(), payload.data(), payload.size(), 1);
    if (!ZSTD_isError(zn) && zn + 8 < payload.size() - payload.size() / 8 && payload.size() <= zn * kMaxZstdRatio) {
      out[4] |= kZstd;
      PutVarint(&out, payload.size());
      out.insert(out.end(), z.begin(), z.begin() + long(zn));
      compressed = true;
    }
  }
  if (!compressed) out.insert(out.end(), payload.begin(), payload.end());
  const uint32_t sum = Checksum(out.data(), head, out.data() + head + 4, out.size() - head - 4);
  for (int i = 0; i < 4; i++) out[head + size_t(i)] = uint8_t(sum >> (8 * i));
  return out;
}

Header ReadHeader(const uint8_t* data, size_t len) {
  Reader r(data, len);
  if (r.U8() != kMagic) Corrupt("not a strata batch");
  if (r.U8() != kVersion) Corrupt("unknown format version");
  const uint8_t kind = r.U8(), codec = r.U8(), flags = r.U8();
  if (kind < 1 || kind > 3) Corrupt("unknown value kind");
  if (codec < 1 || codec > 6) Corrupt("unknown codec");
  if (flags & ~(kHasNulls | kZstd)) Corrupt("unknown flags");
  const uint64_t n = r.Varint();
  if (n > kMaxBatchValues) Corrupt("too many values");
  const uint64_t tag = r.Varint();
  if (tag > 0xFFFFFFFFull) Corrupt("type tag out of range");
  Header h{Kind(kind), Codec(codec), (flags & kHasNulls) != 0, (flags & kZstd) != 0, uint32_t(n), uint32_t(tag), 0, 0};
  h.length = len - r.remaining();
  h.checksum = uint32_t(r.U8()) | uint32_t(r.U8()) << 8 | uint32_t(r.U8()) << 16 | uint32_t(r.U8()) << 24;
  return h;
}

Batch Decode(const uint8_t* data, size_t len, Kind expected, uint32_t type_tag, bool verify) {
  const Header h = ReadHeader(data, len);
  if (verify && h.checksum != Checksum(data, h.length, data + h.length + 4, len - h.length - 4))
    Corrupt("checksum mismatch");
  if (h.kind != expected || h.type_tag != type_tag) Corrupt("the batch holds another type of value than its column");
  const bool codec_fits = h.kind == Kind::kInt   ? h.codec == Codec::kDeltaDelta || h.codec == Codec::kFrame
                          : h.kind == Kind::kFloat ? h.codec == Codec::kXor || h.codec == Codec::kDecimal
                                                   : h.codec == Codec::kDictionary || h.codec == Codec::kPlain;
  if (!codec_fits) Corrupt("codec does not fit the value kind");
  Reader r(data, len);
  r.Skip(h.length + 4);
  Batch b;
  b.kind = h.kind;
  b.type_tag = h.type_tag;
  b.null.assign(h.n, 0);
  size_t m = h.n;
  if (h.has_nulls) {
    size_t at = 0;
    for (uint8_t state = 0; at < h.n; state ^= 1) {
      const uint64_t run = r.Varint();
      if (run > h.n - at) Corrupt("NULL runs exceed the value count");
      if (state) std::fill(b.null.begin() + long(at), b.null.begin() + long(at + run), uint8_t(1)), m -= size_t(run);
      at += size_t(run);
    }
  }
  std::vector<uint8_t> raw;
  Reader payload = r;
  if (h.zstd) {
    const uint64_t raw_len = r.Varint();
    if (raw_len > kMaxRawPayload || raw_len > r.remaining() * kMaxZstdRatio) Corrupt("compressed length out of range");
    const unsigned long long framed = ZSTD_getFrameContentSize(r.position(), r.remaining());
    if (framed != raw_len) Corrupt("zstd frame does not hold its length");
    raw.resize(size_t(raw_len));
    const size_t got = ZSTD_decompress(raw.data(), raw.size(), r.position(), r.remaining());
    if (ZSTD_isError(got) || got != raw.size()) Corrupt("zstd frame does not decompress to its length");
    payload = Reader(raw.data(), raw.size());
  }
  switch (h.codec) {
    case Codec::kDeltaDelta:
    case Codec::kFrame: DecodeInts(&payload, h.codec, m, &b.ints); break;
    case Codec::kXor: DecodeFloats(&payload, m, &b.floats); break;
    case Codec::kDecimal: DecodeDecimals(&payload, m, &b.floats); break;
    case Codec::kDictionary: DecodeDictionary(&payload, m, &b); break;
    case Codec::kPlain: DecodePlain(&payload, m, &b); break;
  }
  if (payload.remaining() != 0) Corrupt("bytes left after the last value");
  return b;
}

}  // namespace strata::core::columnar
