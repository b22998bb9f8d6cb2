// Bounds-checked byte encoding for sketch formats, free of Postgres. Every read checks the remaining
// length and throws core::Error (SQLSTATE 22P03, invalid binary representation) instead of reading past
// the end, so a truncated or hostile value can never be read out of bounds.
#pragma once
#include "core/no_postgres.hpp"

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace strata::core::sketch {

inline constexpr int kInvalidBinary = MakeSqlstate("22P03");

[[noreturn]] inline void Corrupt(const std::string& what) {
  throw Error(kInvalidBinary, "invalid sketch: " + what, {},
              "The value is truncated, corrupted or was not produced by strata.");
}

class ByteReader {
 public:
  ByteReader(const uint8_t* data, size_t len) : p_(data), end_(data + len) {}
  size_t remaining() const { return static_cast<size_t>(end_ - p_); }
  const uint8_t* position() const { return p_; }
  uint8_t U8() {
    Need(1);
    return *p_++;
  }
  uint32_t U32() {
    Need(4);
    uint32_t v = uint32_t(p_[0]) | uint32_t(p_[1]) << 8 | uint32_t(p_[2]) << 16 | uint32_t(p_[3]) << 24;
    p_ += 4;
    return v;
  }
  uint64_t U64() {
    const uint64_t lo = U32();
    return lo | uint64_t(U32()) << 32;
  }
  int32_t I32() { return static_cast<int32_t>(U32()); }
  double F64() {
    const uint64_t bits = U64();
    double d;
    std::memcpy(&d, &bits, sizeof d);
    return d;
  }
  // LEB128 unsigned varint, at most 10 bytes.
  uint64_t Var() {
    if (p_ != end_ && *p_ < 0x80) return *p_++;  // one byte: most counts
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      const uint8_t b = U8();
      if (shift == 63 && (b & 0x7E)) Corrupt("varint overflows 64 bits");
      v |= uint64_t(b & 0x7F) << shift;
      if (!(b & 0x80)) return v;
    }
    Corrupt("varint too long");
  }
  const uint8_t* Bytes(size_t n) {
    Need(n);
    const uint8_t* out = p_;
    p_ += n;
    return out;
  }
  void ExpectEnd() const {
    if (p_ != end_) Corrupt("trailing bytes");
  }

 private:
  void Need(size_t n) const {
    if (remaining() < n) Corrupt("truncated");
  }
  const uint8_t* p_;
  const uint8_t* end_;
};

// Appends to any byte container with push_back/insert (std::vector or one with a Postgres allocator).
template <class Buf>
class ByteWriter {
 public:
  explicit ByteWriter(Buf* out) : out_(out) {}
  void U8(uint8_t v) { out_->push_back(v); }
  void U32(uint32_t v) {
    for (int i = 0; i < 4; i++) out_->push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  void U64(uint64_t v) {
    U32(static_cast<uint32_t>(v));
    U32(static_cast<uint32_t>(v >> 32));
  }
  void I32(int32_t v) { U32(static_cast<uint32_t>(v)); }
  void F64(double d) {
    uint64_t bits;
    std::memcpy(&bits, &d, sizeof bits);
    U64(bits);
  }
  void Var(uint64_t v) {
    while (v >= 0x80) {
      out_->push_back(static_cast<uint8_t>(v | 0x80));
      v >>= 7;
    }
    out_->push_back(static_cast<uint8_t>(v));
  }
  void Bytes(const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    out_->insert(out_->end(), b, b + n);
  }
  // n zero bytes (a run of varint zeros) at once.
  void Zeros(size_t n) { out_->insert(out_->end(), n, uint8_t(0)); }
  // Room for n more bytes, so the writes that follow do not reallocate.
  void Reserve(size_t n) { out_->reserve(out_->size() + n); }

 private:
  Buf* out_;
};

// Sketch format header: version and a type tag, then the type's parameters.
inline constexpr uint8_t kFormatVersion = 1;  // hll, topk
// qsketch: version 2 writes each bucket store dense or sparse, whichever is shorter; version 1 (dense
// only) is still read.
inline constexpr uint8_t kQSketchFormatVersion = 2;
enum class SketchTag : uint8_t { kHll = 'H', kQSketch = 'Q', kTopK = 'T' };

// Reads a sketch header of type `tag`; returns its format version (1..newest).
inline uint8_t ReadHeader(ByteReader& r, SketchTag tag, uint8_t newest = kFormatVersion) {
  const uint8_t version = r.U8();
  const uint8_t t = r.U8();
  if (t != static_cast<uint8_t>(tag)) Corrupt("wrong sketch type");
  if (version < 1 || version > newest)
    throw Error(kInvalidBinary, "unsupported sketch format version " + std::to_string(version), {},
                "The value was written by a newer strata; upgrade the extension to read it.");
  return version;
}

// Bytes of v as a varint.
inline size_t VarSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    n++;
  }
  return n;
}

}  // namespace strata::core::sketch
