#include "core/keyset.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <limits>
#include <random>
#include <set>
#include <vector>

namespace ks = strata::core::keyset;

namespace {

constexpr size_t kLimit = size_t{1} << 30;

std::vector<unsigned char> Make(const std::vector<int64_t>& keys, int columns) {
  const uint64_t n = keys.size() / columns;
  std::vector<unsigned char> buf(ks::BytesFor(columns, n, kLimit));
  EXPECT_GT(buf.size(), 0u);
  ks::Build(keys.data(), n, columns, buf.data());
  return buf;
}

}  // namespace

TEST(Keyset, HoldsExactlyItsKeysAgainstASet) {
  std::mt19937_64 rng(7);
  for (int columns : {1, 2, 3, 4, 7}) {
    for (uint64_t n : {0ULL, 1ULL, 5ULL, 300ULL, 5000ULL}) {
      std::vector<int64_t> keys;
      std::set<std::vector<int64_t>> truth;
      for (uint64_t i = 0; i < n; i++) {
        std::vector<int64_t> k;
        // Small values collide often (duplicates), extreme ones test the sign and width.
        for (int c = 0; c < columns; c++) {
          const uint64_t r = rng();
          k.push_back(r % 4 == 0 ? std::numeric_limits<int64_t>::min() + static_cast<int64_t>(r % 3)
                                 : static_cast<int64_t>(r % 50) - 25);
        }
        truth.insert(k);
        keys.insert(keys.end(), k.begin(), k.end());
      }
      const auto buf = Make(keys, columns);
      ASSERT_EQ(ks::Check(buf.data(), buf.size()), nullptr);
      EXPECT_EQ(ks::Columns(buf.data()), columns);
      EXPECT_EQ(ks::Count(buf.data()), truth.size()) << "duplicates are stored once";
      for (const auto& k : truth) EXPECT_TRUE(ks::Contains(buf.data(), k.data()));
      size_t absent = 0;
      for (int probe = 0; probe < 2000; probe++) {
        std::vector<int64_t> k;
        for (int c = 0; c < columns; c++) k.push_back(static_cast<int64_t>(rng() % 60) - 30);
        EXPECT_EQ(ks::Contains(buf.data(), k.data()), truth.count(k) == 1);
        absent += truth.count(k) == 0;
      }
      if (n == 0) {
        EXPECT_EQ(absent, 2000u);
      }
    }
  }
}

TEST(Keyset, ColumnOrderMatters) {
  const auto buf = Make({1, 2}, 2);
  const int64_t same[] = {1, 2}, swapped[] = {2, 1};
  EXPECT_TRUE(ks::Contains(buf.data(), same));
  EXPECT_FALSE(ks::Contains(buf.data(), swapped));
}

TEST(Keyset, BuildsTheSameBytesWhateverTheInputOrder) {
  std::vector<int64_t> a, b;
  for (int64_t i = 0; i < 100; i++) a.insert(a.end(), {i, -i});
  for (int64_t i = 99; i >= 0; i--) b.insert(b.end(), {i, -i});
  const auto x = Make(a, 2), y = Make(b, 2);
  EXPECT_EQ(x.size(), y.size());
  for (int64_t i = 0; i < 100; i++) {
    const int64_t k[] = {i, -i};
    EXPECT_TRUE(ks::Contains(x.data(), k));
    EXPECT_TRUE(ks::Contains(y.data(), k));
  }
}

TEST(Keyset, SizesAndLimits) {
  EXPECT_EQ(ks::BytesFor(0, 1, kLimit), 0u);
  EXPECT_EQ(ks::BytesFor(ks::kMaxKeysetColumns + 1, 1, kLimit), 0u);
  // 8 slots minimum; two columns: 17 bytes a slot.
  EXPECT_EQ(ks::BytesFor(2, 0, kLimit), ks::kHeaderBytes + 8 * 17);
  EXPECT_EQ(ks::BytesFor(2, 4, kLimit), ks::kHeaderBytes + 8 * 17);
  EXPECT_EQ(ks::BytesFor(2, 5, kLimit), ks::kHeaderBytes + 16 * 17);
  EXPECT_EQ(ks::BytesFor(2, 5, 100), 0u) << "over the byte limit";
  EXPECT_EQ(ks::BytesFor(1, std::numeric_limits<uint64_t>::max(), std::numeric_limits<size_t>::max()), 0u);
}

TEST(Keyset, CheckRejectsWhatBuildDidNotMake) {
  auto buf = Make({1, 2, 3, 4}, 2);
  EXPECT_EQ(ks::Check(buf.data(), buf.size()), nullptr);
  EXPECT_NE(ks::Check(buf.data(), 10), nullptr) << "short";
  EXPECT_NE(ks::Check(buf.data(), buf.size() - 1), nullptr) << "truncated";
  // A copy of buf with `value` written over the header field at `offset`.
  const auto with = [&buf](size_t offset, auto value) {
    auto bad = buf;
    std::memcpy(bad.data() + offset, &value, sizeof value);
    return bad;
  };
  auto bad = with(0, uint32_t{0x12345678});
  EXPECT_NE(ks::Check(bad.data(), bad.size()), nullptr) << "magic";
  bad = with(4, uint32_t{0});
  EXPECT_NE(ks::Check(bad.data(), bad.size()), nullptr) << "columns";
  bad = with(16, uint64_t{12});
  EXPECT_NE(ks::Check(bad.data(), bad.size()), nullptr) << "capacity";
  bad = with(16, uint64_t{1} << 62);
  EXPECT_NE(ks::Check(bad.data(), bad.size()), nullptr) << "capacity overflowing the length";
  bad = with(8, uint64_t{5});
  EXPECT_NE(ks::Check(bad.data(), bad.size()), nullptr) << "count";
}

TEST(Keyset, ProbeOfACorruptSlotAreaEnds) {
  auto buf = Make({1}, 1);
  // Flag every slot used: a probe for an absent key must still return.
  std::memset(buf.data() + ks::kHeaderBytes + 8 * 8, 1, 8);
  ASSERT_EQ(ks::Check(buf.data(), buf.size()), nullptr) << "the header is still well-formed";
  const int64_t absent = 99;
  EXPECT_FALSE(ks::Contains(buf.data(), &absent));
}

TEST(Keyset, SplitFindsTheSecondTable) {
  const auto main_table = Make({1, 2, 3, 4}, 2);
  const auto aux_table = Make({7, 9}, 1);
  const unsigned char* aux = reinterpret_cast<const unsigned char*>(1);
  ASSERT_EQ(ks::Split(main_table.data(), main_table.size(), &aux), nullptr);
  EXPECT_EQ(aux, nullptr) << "one table";
  EXPECT_EQ(ks::TableBytes(main_table.data()), main_table.size());
  auto both = main_table;
  both.insert(both.end(), aux_table.begin(), aux_table.end());
  ASSERT_EQ(ks::Split(both.data(), both.size(), &aux), nullptr);
  ASSERT_EQ(aux, both.data() + main_table.size());
  const int64_t seven = 7, eight = 8, key[] = {3, 4};
  EXPECT_TRUE(ks::Contains(aux, &seven));
  EXPECT_FALSE(ks::Contains(aux, &eight));
  EXPECT_TRUE(ks::Contains(both.data(), key));
  // A truncated second table, a second table of two columns, trailing garbage: refused.
  EXPECT_NE(ks::Split(both.data(), both.size() - 1, &aux), nullptr);
  auto wide = main_table;
  wide.insert(wide.end(), main_table.begin(), main_table.end());
  EXPECT_NE(ks::Split(wide.data(), wide.size(), &aux), nullptr);
  auto garbage = main_table;
  garbage.push_back(0);
  EXPECT_NE(ks::Split(garbage.data(), garbage.size(), &aux), nullptr);
  EXPECT_NE(ks::Split(main_table.data(), 3, &aux), nullptr);
}
