// Round trips of the column batch codecs at the edges of each kind, and refusal of damaged encodings.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "core/columnar/codec.hpp"

namespace col = strata::core::columnar;
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

Batch RoundTrip(const Batch& in, std::vector<uint8_t>* encoded = nullptr) {
  std::vector<uint8_t> e = col::Encode(in);
  if (encoded) *encoded = e;
  return col::Decode(e.data(), e.size(), in.kind, in.type_tag);
}

void ExpectSame(const Batch& a, const Batch& b) {
  ASSERT_EQ(a.null, b.null);
  EXPECT_EQ(a.ints, b.ints);
  EXPECT_EQ(a.floats, b.floats);
  ASSERT_EQ(a.spans.size(), b.spans.size());
  for (size_t k = 0; k < a.spans.size(); k++) EXPECT_EQ(a.value(k), b.value(k)) << k;
}

Batch Ints(std::initializer_list<int64_t> v) {
  Batch b;
  b.kind = Kind::kInt;
  for (int64_t x : v) b.AddInt(x);
  return b;
}

TEST(ColumnarCodec, IntegersAtTheEdges) {
  const int64_t lo = std::numeric_limits<int64_t>::min(), hi = std::numeric_limits<int64_t>::max();
  for (const Batch& b : {Ints({}), Ints({0}), Ints({lo}), Ints({hi, lo}), Ints({lo, hi, lo, hi, 0, -1, 1}),
                         Ints({hi, hi, hi}), Ints({-5, -5, -4, 7, 1000000000000, lo + 1})}) {
    ExpectSame(b, RoundTrip(b));
  }
}

TEST(ColumnarCodec, RegularTimestampsPackToAFewBytes) {
  Batch b;
  b.kind = Kind::kInt;
  const int64_t start = 852076800000000;  // microseconds, as a timestamptz is stored
  for (int i = 0; i < 1000; i++) b.AddInt(start + int64_t(i) * 1000000);
  std::vector<uint8_t> e;
  ExpectSame(b, RoundTrip(b, &e));
  EXPECT_LT(e.size(), 40u);  // 8,000 bytes of int64: the deltas are constant
  EXPECT_EQ(col::ReadHeader(e.data(), e.size()).codec, col::Codec::kDeltaDelta);
}

TEST(ColumnarCodec, RandomIntegersOfEveryWidth) {
  std::mt19937_64 rng(7);
  for (int width = 1; width <= 64; width += 7) {
    Batch b;
    b.kind = Kind::kInt;
    for (int i = 0; i < 1000; i++) {
      if (i % 17 == 3) {
        b.AddNull();
        continue;
      }
      const uint64_t r = rng();
      b.AddInt(int64_t(width == 64 ? r : r & ((uint64_t(1) << width) - 1)));
    }
    ExpectSame(b, RoundTrip(b));
  }
}

TEST(ColumnarCodec, NullsEverywhere) {
  Batch all;
  all.kind = Kind::kInt;
  for (int i = 0; i < 300; i++) all.AddNull();
  ExpectSame(all, RoundTrip(all));
  Batch first_last;
  first_last.kind = Kind::kBytes;
  first_last.AddNull();
  first_last.AddBytes("x");
  first_last.AddBytes("");
  first_last.AddNull();
  ExpectSame(first_last, RoundTrip(first_last));
}

TEST(ColumnarCodec, FloatsKeepEveryBitPattern) {
  Batch b;
  b.kind = Kind::kFloat;
  const double specials[] = {0.0, -0.0, std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity(),
                             std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::denorm_min(),
                             std::numeric_limits<double>::max(), std::numeric_limits<double>::lowest(), 1.5, 1.5, 1.25};
  for (double d : specials) b.AddFloat(Bits(d));
  b.AddFloat(0x7FF8DEADBEEF0001ull);  // a NaN with a payload
  b.AddNull();
  b.AddFloat(Bits(-std::numeric_limits<float>::quiet_NaN()));  // float4 patterns are kept as 32-bit values
  b.AddFloat(Bits(std::numeric_limits<float>::denorm_min()));
  std::mt19937_64 rng(11);
  for (int i = 0; i < 500; i++) b.AddFloat(Bits(double(rng() % 100000) / 100.0));
  ExpectSame(b, RoundTrip(b));
}

TEST(ColumnarCodec, SlowlyChangingFloatsCompress) {
  Batch b;
  b.kind = Kind::kFloat;
  for (int i = 0; i < 1000; i++) b.AddFloat(Bits(std::sqrt(double(2 + i / 100))));  // repeats, not decimals
  std::vector<uint8_t> e;
  ExpectSame(b, RoundTrip(b, &e));
  EXPECT_LT(e.size(), 300u);
}

TEST(ColumnarCodec, IntegersInARangeUseAFrameOfReference) {
  std::mt19937_64 rng(5);
  Batch b;
  b.kind = Kind::kInt;
  for (int i = 0; i < 1000; i++) b.AddInt(1000 + int64_t(rng() % 20000));
  std::vector<uint8_t> e;
  ExpectSame(b, RoundTrip(b, &e));
  EXPECT_EQ(col::ReadHeader(e.data(), e.size()).codec, col::Codec::kFrame);
  EXPECT_LT(e.size(), 1000u * 15 / 8 + 40);  // 15 bits per value
  const int64_t lo = std::numeric_limits<int64_t>::min(), hi = std::numeric_limits<int64_t>::max();
  Batch wide = Ints({hi, lo, 0, hi, lo, -1, 1, hi});  // the distance from the minimum needs all 64 bits
  for (int i = 0; i < 300; i++) wide.AddInt(i % 2 ? lo + i : hi - i);
  ExpectSame(wide, RoundTrip(wide));
}

TEST(ColumnarCodec, CoarseTimestampsDivideOutTheirPrecision) {
  std::mt19937_64 rng(13);
  for (int64_t unit : {int64_t(1000), int64_t(1000000)}) {  // milliseconds, seconds, in microseconds
    Batch sorted, unsorted;
    sorted.kind = unsorted.kind = Kind::kInt;
    int64_t t = 852076800000000;
    for (int i = 0; i < 1000; i++) {
      t += int64_t(rng() % 1000) * unit;
      sorted.AddInt(t);
      unsorted.AddInt(852076800000000 + int64_t(rng() % 86400) * unit);
    }
    std::vector<uint8_t> e;
    ExpectSame(sorted, RoundTrip(sorted, &e));
    EXPECT_LT(e.size(), 1000u * 11 / 8 + 40);  // changes of up to 1,000 units: 11 bits, not 21 or 31
    ExpectSame(unsorted, RoundTrip(unsorted, &e));
    EXPECT_EQ(col::ReadHeader(e.data(), e.size()).codec, col::Codec::kFrame);
    EXPECT_LT(e.size(), 1000u * 17 / 8 + 40);  // a day in units: 17 bits
  }
  const int64_t lo = std::numeric_limits<int64_t>::min();
  for (const Batch& b : {Ints({lo, 0, lo, 0, lo}), Ints({0, lo, 0, lo, 0, lo}), Ints({lo, lo / 2, 0, -(lo / 2)}),
                         Ints({6, 12, 18, 30, -6, -12, 0}), Ints({5, 5, 5, 5})}) {
    ExpectSame(b, RoundTrip(b));  // divisors at the edges: 2^63, 2^62, a regular series, none
  }
}

TEST(ColumnarCodec, DecimalFloatsAreScaledIntegers) {
  std::mt19937_64 rng(9);
  Batch prices;
  prices.kind = Kind::kFloat;
  for (int i = 0; i < 1000; i++) prices.AddFloat(Bits(double(rng() % 100001) / 100.0));
  prices.AddNull();
  prices.AddFloat(Bits(-12.5));
  prices.AddFloat(Bits(0.0));
  std::vector<uint8_t> e;
  ExpectSame(prices, RoundTrip(prices, &e));
  EXPECT_EQ(col::ReadHeader(e.data(), e.size()).codec, col::Codec::kDecimal);
  EXPECT_LT(e.size(), 1003u * 17 / 8 + 40);
  // What no scale holds exactly stays XOR, every bit kept: 0.1 + 0.2, -0, NaN, 1e300, a float4 pattern.
  for (double odd : {0.1 + 0.2, -0.0, std::numeric_limits<double>::quiet_NaN(), 1e300}) {
    Batch b = prices;
    b.AddFloat(Bits(odd));
    ExpectSame(b, RoundTrip(b, &e));
    EXPECT_EQ(col::ReadHeader(e.data(), e.size()).codec, col::Codec::kXor);
  }
  Batch f4;
  f4.kind = Kind::kFloat;
  for (int i = 0; i < 100; i++) f4.AddFloat(Bits(float(i) / 4));
  ExpectSame(f4, RoundTrip(f4));
  Batch whole;  // integers in a float column: scale 0
  whole.kind = Kind::kFloat;
  for (int i = 0; i < 200; i++) whole.AddFloat(Bits(double(i * 3 - 100)));
  ExpectSame(whole, RoundTrip(whole, &e));
  EXPECT_EQ(col::ReadHeader(e.data(), e.size()).codec, col::Codec::kDecimal);
}

TEST(ColumnarCodec, LowCardinalityTextUsesADictionary) {
  Batch b;
  b.kind = Kind::kBytes;
  const char* labels[] = {"cat", "dog", "car", "", "sports"};
  for (int i = 0; i < 1000; i++) b.AddBytes(labels[(i * 7) % 5]);
  std::vector<uint8_t> e;
  ExpectSame(b, RoundTrip(b, &e));
  EXPECT_EQ(col::ReadHeader(e.data(), e.size()).codec, col::Codec::kDictionary);
  EXPECT_LT(e.size(), 450u);  // 3 bits per value and the five entries
}

TEST(ColumnarCodec, DistinctAndHugeValuesArePlain) {
  Batch b;
  b.kind = Kind::kBytes;
  for (int i = 0; i < 100; i++) b.AddBytes("video-" + std::to_string(i * 7919));
  std::string json;  // about 1 MiB of JSON documents in one value: zstd shrinks it
  for (int i = 0; json.size() < (1u << 20); i++) json += "{\"video\": " + std::to_string(i * 31) + ", \"label\": \"sports\"},";
  b.AddBytes(json);
  b.AddBytes(std::string("\0\xff\0", 3));
  b.AddBytes("");
  std::vector<uint8_t> e;
  ExpectSame(b, RoundTrip(b, &e));
  const col::Header h = col::ReadHeader(e.data(), e.size());
  EXPECT_EQ(h.codec, col::Codec::kPlain);
  EXPECT_TRUE(h.zstd);
  EXPECT_LT(e.size(), 200000u);
}

TEST(ColumnarCodec, TooManyValuesAreRefused) {
  Batch b;
  b.kind = Kind::kInt;
  for (uint32_t i = 0; i <= col::kMaxBatchValues; i++) b.AddInt(i);
  EXPECT_THROW(col::Encode(b), strata::core::Error);
}

TEST(ColumnarCodec, DamagedEncodingsAreRefusedNeverRead) {
  std::mt19937_64 rng64(21);
  Batch ints;  // delta-of-delta
  ints.kind = Kind::kInt;
  ints.type_tag = 20;
  for (int i = 0; i < 400; i++) i % 9 ? ints.AddInt(int64_t(i) * 1000) : ints.AddNull();
  Batch frame;  // frame of reference
  frame.kind = Kind::kInt;
  for (int i = 0; i < 300; i++) frame.AddInt(int64_t(rng64() % 5000));
  Batch floats;  // XOR
  floats.kind = Kind::kFloat;
  for (int i = 0; i < 300; i++) floats.AddFloat(Bits(std::sqrt(double(i))));
  Batch decimals;
  decimals.kind = Kind::kFloat;
  for (int i = 0; i < 300; i++) decimals.AddFloat(Bits(double(rng64() % 10000) / 100));
  Batch dict;
  dict.kind = Kind::kBytes;
  for (int i = 0; i < 300; i++) dict.AddBytes(i % 3 ? "alpha" : "beta");
  Batch one;  // a one-entry dictionary: indexes of width 0
  one.kind = Kind::kBytes;
  for (int i = 0; i < 300; i++) i % 5 ? one.AddBytes("same") : one.AddNull();
  Batch plain;
  plain.kind = Kind::kBytes;
  for (int i = 0; i < 300; i++) plain.AddBytes(std::string(size_t(i % 50), char('a' + i % 26)) + std::to_string(i));
  const std::pair<const Batch*, col::Codec> cases[] = {{&ints, col::Codec::kDeltaDelta}, {&frame, col::Codec::kFrame},
                                                       {&floats, col::Codec::kXor}, {&decimals, col::Codec::kDecimal},
                                                       {&dict, col::Codec::kDictionary}, {&one, col::Codec::kDictionary},
                                                       {&plain, col::Codec::kPlain}};
  for (const auto& [b, codec] : cases) {
    std::vector<uint8_t> e;
    ExpectSame(*b, RoundTrip(*b, &e));
    EXPECT_EQ(col::ReadHeader(e.data(), e.size()).codec, codec);
    for (size_t cut = 0; cut < e.size(); cut++) {  // every truncation is refused
      EXPECT_THROW(col::Decode(e.data(), cut, b->kind, b->type_tag), strata::core::Error) << cut;
    }
    std::vector<uint8_t> extra = e;
    extra.push_back(0);
    EXPECT_THROW(col::Decode(extra.data(), extra.size(), b->kind, b->type_tag), strata::core::Error);
    const Kind other = b->kind == Kind::kInt ? Kind::kBytes : Kind::kInt;
    EXPECT_THROW(col::Decode(e.data(), e.size(), other, b->type_tag), strata::core::Error);
    EXPECT_THROW(col::Decode(e.data(), e.size(), b->kind, b->type_tag + 1), strata::core::Error);
    std::mt19937 rng(3);
    for (int i = 0; i < 2000; i++) {
      std::vector<uint8_t> f = e;
      f[rng() % f.size()] ^= uint8_t(1u << (rng() % 8));
      // With the checksum every changed bit is refused ...
      EXPECT_THROW(col::Decode(f.data(), f.size(), b->kind, b->type_tag), strata::core::Error);
      // ... and without it (as a hostile batch with a right checksum) refused or decoded, never out of bounds.
      try {
        col::Decode(f.data(), f.size(), b->kind, b->type_tag, false);
      } catch (const strata::core::Error& err) {
        EXPECT_EQ(err.sqlstate(), col::kDataCorrupted);
      }
    }
  }
}

TEST(ColumnarCodec, BlockAndBatchEdges) {
  for (int n : {2, 3, 127, 128, 129, 130, 256, 257}) {  // no block, partial blocks, whole blocks
    Batch b;
    b.kind = Kind::kInt;
    for (int i = 0; i < n; i++) b.AddInt(int64_t(i) * i * (i % 2 ? -1 : 1));
    ExpectSame(b, RoundTrip(b));
  }
  Batch full;  // exactly the most values a batch holds
  full.kind = Kind::kInt;
  for (uint32_t i = 0; i < col::kMaxBatchValues; i++) full.AddInt(int64_t(i) * 7);
  ExpectSame(full, RoundTrip(full));
  Batch window;  // XOR windows of all 64 bits: the first and the last bit differ
  window.kind = Kind::kFloat;
  for (int i = 0; i < 50; i++) window.AddFloat(i % 2 ? 0x8000000000000001ull : 0);
  window.AddFloat(0xFFFFFFFFFFFFFFFFull);
  window.AddFloat(1);
  ExpectSame(window, RoundTrip(window));
}

}  // namespace
