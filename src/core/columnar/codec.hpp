// Column batch codecs for compressed cold partitions (docs/rfcs/columnar.md), free of Postgres.
//
// Terms: a *batch* is the values of one column for up to kMaxBatchValues rows, NULLs included; its
// *encoding* is a self-describing byte string:
//
//   magic 0xC7 | version 1 | kind | codec | flags | varint n | varint type tag | checksum (4 bytes, LE)
//   [flags & kHasNulls]  the NULL runs: varints, alternately non-NULL and NULL run lengths, summing to n
//   payload              the codec's bytes for the m non-NULL values, zstd-compressed when flags & kZstd
//                        (then: varint raw length, one zstd frame)
//
// Kinds and their codecs (the glue maps each Postgres type to a kind; values are exact bit for bit):
//   kInt    (integers, dates, times, timestamps as int64): the smaller of delta-of-delta (zigzag) and
//           frame of reference (distance from the minimum), divided by their common divisor (timestamps
//           of millisecond or second precision), bit-packed in blocks of 128 with one width byte per
//           block (a regular series packs to ~1 byte per 128 values);
//   kFloat  (float4/float8 bit patterns): Gorilla XOR against the previous value, or, when every value
//           is exactly an integer over 10^k (k <= 9: prices, scores), those integers as kInt packs them
//           (payload: k, the integer codec, its payload);
//   kBytes  (every other type's bytes): a dictionary with bit-packed indexes when at most half of the
//           values are distinct, else lengths and bytes; either one then zstd when it pays.
// The type tag is the caller's name for the values' type (the glue: the base type's OID); a batch is
// decoded only as the type it was encoded from. The checksum (the low 32 bits of XXH3-64 over every
// other byte) makes any change of a stored batch an error, not a different value. Decode also checks
// every length and count against the input and refuses anything else with core::Error (SQLSTATE
// XX001): truncated, corrupted or hostile bytes, even with a right checksum, never read out of bounds
// or allocate beyond a bound derived from the input's size.
#pragma once
#include "core/no_postgres.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace strata::core::columnar {

inline constexpr int kDataCorrupted = MakeSqlstate("XX001");
// The hint of every refusal of a damaged batch (the decoder's and the glue's).
inline constexpr const char* kCorruptHint =
    "The stored batch is truncated or corrupted; decompress from a backup or rebuild the partition.";
inline constexpr uint32_t kMaxBatchValues = 1u << 16;

enum class Kind : uint8_t { kInt = 1, kFloat = 2, kBytes = 3 };
enum class Codec : uint8_t { kDeltaDelta = 1, kXor = 2, kDictionary = 3, kPlain = 4, kFrame = 5, kDecimal = 6 };

// One column's batch, decoded: null[i] for each of the n values; the non-NULL values in order, in the
// vector of the batch's kind (floats as bit patterns; bytes as spans into `bytes`, a dictionary's
// repeated values sharing one span).
struct Batch {
  struct Span {
    size_t offset = 0, length = 0;
  };
  Kind kind = Kind::kInt;
  uint32_t type_tag = 0;
  std::vector<uint8_t> null;
  std::vector<int64_t> ints;
  std::vector<uint64_t> floats;
  std::string bytes;
  std::vector<Span> spans;

  size_t size() const { return null.size(); }
  size_t values() const;  // m, the non-NULL count
  std::string_view value(size_t k) const { return {bytes.data() + spans[k].offset, spans[k].length}; }
  void AddNull() { null.push_back(1); }
  void AddInt(int64_t v) { null.push_back(0), ints.push_back(v); }
  void AddFloat(uint64_t bits) { null.push_back(0), floats.push_back(bits); }
  void AddBytes(std::string_view v);
};

// What an encoding says of itself, read from its header alone.
struct Header {
  Kind kind;
  Codec codec;
  bool has_nulls, zstd;
  uint32_t n, type_tag;
  size_t length;      // bytes before the checksum
  uint32_t checksum;  // as stored
};

// Encodes a batch (n <= kMaxBatchValues, else core::Error 54000).
std::vector<uint8_t> Encode(const Batch& batch);

// Decodes an encoding of `expected` kind and `type_tag` (a mismatch is refused: the batch belongs to
// another column or type). verify = false skips the checksum (the fuzz target, to reach the codecs).
Batch Decode(const uint8_t* data, size_t len, Kind expected, uint32_t type_tag, bool verify = true);

// Reads only the header (also refused with core::Error when it is not one).
Header ReadHeader(const uint8_t* data, size_t len);

const char* CodecName(Codec codec);

}  // namespace strata::core::columnar
