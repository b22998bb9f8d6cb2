// Unit tests of the integer key order used for a split append's set-aside groups.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <random>
#include <tuple>
#include <vector>

#include "core/key_order.hpp"

using namespace strata::core;

namespace {

// The order a btree gives, spelled out: per column (is NULL, value), lexicographically.
std::vector<std::pair<bool, int64_t>> Spelled(const IntKey& k, int columns) {
  std::vector<std::pair<bool, int64_t>> out;
  for (int c = 0; c < columns; c++) {
    const bool null = (k.null_mask >> c) & 1u;
    out.emplace_back(null, null ? 0 : k.value[c]);
  }
  return out;
}

std::vector<IntKey> RandomKeys(std::mt19937_64& rng, size_t n, int columns, int64_t spread, double null_share) {
  const int64_t extremes[] = {std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(), -1, 0, 1};
  std::uniform_int_distribution<int64_t> value(-spread, spread);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<IntKey> keys(n);
  for (size_t i = 0; i < n; i++) {
    keys[i] = IntKey{};
    keys[i].row = static_cast<uint32_t>(i);
    for (int c = 0; c < kMaxIntKeyColumns; c++) {
      keys[i].value[c] = u(rng) < 0.02 ? extremes[rng() % 5] : value(rng);
      // Columns past the key's width and NULL columns hold garbage that must not matter.
      if (c < columns && u(rng) < null_share) {
        keys[i].null_mask |= 1u << c;
        keys[i].value[c] = static_cast<int64_t>(rng());
      }
    }
    for (int c = columns; c < kMaxIntKeyColumns; c++) keys[i].null_mask |= (rng() & 1u) << c;
  }
  return keys;
}

}  // namespace

TEST(KeyOrder, MatchesBtreeOrderNullsLastForEveryWidth) {
  std::mt19937_64 rng(20261125);
  for (int columns = 1; columns <= kMaxIntKeyColumns; columns++) {
    for (int64_t spread : {int64_t{3}, int64_t{1000}, std::numeric_limits<int64_t>::max()}) {
      std::vector<IntKey> keys = RandomKeys(rng, 5000, columns, spread, 0.1);
      const std::vector<IntKey> before = keys;
      SortIntKeys(keys.data(), keys.size(), columns);
      for (size_t i = 1; i < keys.size(); i++)
        ASSERT_LE(Spelled(keys[i - 1], columns), Spelled(keys[i], columns)) << "columns " << columns << " at " << i;
      // A permutation of the input: every row once, with its own key.
      std::vector<bool> seen(keys.size(), false);
      for (const IntKey& k : keys) {
        ASSERT_LT(k.row, keys.size());
        ASSERT_FALSE(seen[k.row]);
        seen[k.row] = true;
        ASSERT_EQ(Spelled(k, kMaxIntKeyColumns), Spelled(before[k.row], kMaxIntKeyColumns));
      }
    }
  }
}

TEST(KeyOrder, KnownAnswerTwoColumns) {
  // (bucket, channel): NULL channel after every channel of its bucket, NULL bucket after every bucket.
  auto key = [](uint32_t row, int64_t b, int64_t c, uint32_t nulls) {
    IntKey k{};
    k.value[0] = b;
    k.value[1] = c;
    k.null_mask = nulls;
    k.row = row;
    return k;
  };
  std::vector<IntKey> keys = {key(0, 7, 2, 0), key(1, 7, 0, 2), key(2, 0, 5, 1), key(3, -3, 9, 0),
                              key(4, 7, -1, 0), key(5, 0, 0, 3), key(6, 0, 1, 1)};
  SortIntKeys(keys.data(), keys.size(), 2);
  std::vector<uint32_t> rows;
  for (const IntKey& k : keys) rows.push_back(k.row);
  EXPECT_EQ(rows, (std::vector<uint32_t>{3, 4, 0, 1, 6, 2, 5}));
}

TEST(KeyOrder, EmptyAndSingle) {
  SortIntKeys(nullptr, 0, 2);
  IntKey one{};
  one.value[0] = 42;
  SortIntKeys(&one, 1, 1);
  EXPECT_EQ(one.value[0], 42);
}
