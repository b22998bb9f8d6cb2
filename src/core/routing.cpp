// Query routing's pure parts (see routing.hpp for the terms).
#include "core/routing.hpp"

#include <optional>

#include <cctype>
#include <cstdlib>

namespace strata::core::routing {
namespace {

constexpr int64_t kSecond = 1000000;
constexpr int64_t kDay = 86400 * kSecond;
constexpr int kDayRank = 5;
constexpr int kWeekRank = 6;

std::string Join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); i++) out += (i ? sep : "") + parts[i];
  return out;
}

int64_t Mod(int64_t a, int64_t m) {
  const int64_t r = a % m;
  return r < 0 ? r + m : r;
}

}  // namespace

std::optional<int> UnitRank(const std::string& unit) {
  std::string u;
  for (char c : unit) u += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  static const std::vector<std::pair<int, std::vector<const char*>>> kUnits = {
      {0, {"microsecond", "microseconds", "us", "usec", "usecs", "useconds"}},
      {1, {"millisecond", "milliseconds", "ms", "msec", "msecs", "mseconds"}},
      {2, {"second", "seconds", "s", "sec", "secs"}},
      {3, {"minute", "minutes", "m", "min", "mins"}},
      {4, {"hour", "hours", "h", "hr", "hrs"}},
      {5, {"day", "days", "d"}},
      {6, {"week", "weeks", "w"}},
      {7, {"month", "months", "mon", "mons"}},
      {8, {"quarter", "qtr"}},
      {9, {"year", "years", "y", "yr", "yrs"}},
      {10, {"decade", "decades", "dec", "decs"}},
      {11, {"century", "centuries", "c", "cent"}},
      {12, {"millennium", "millennia", "mil", "mils"}},
  };
  for (const auto& [rank, names] : kUnits)
    for (const char* n : names)
      if (u == n) return rank;
  return std::nullopt;
}

int WeekRank() { return kWeekRank; }

int64_t UnitMicros(int rank) {
  static const int64_t kLength[] = {1, 1000, kSecond, 60 * kSecond, 3600 * kSecond, kDay, 7 * kDay};
  return rank >= 0 && rank <= kWeekRank ? kLength[rank] : 0;
}

bool Nests(const Bucketing& fine, const Bucketing& coarse, int64_t zone_step_us) {
  using K = Bucketing::Kind;
  if (fine.kind == K::kBin && coarse.kind == K::kBin) {
    if (fine.stride_us <= 0 || coarse.stride_us <= 0) return false;
    return coarse.stride_us % fine.stride_us == 0 && Mod(coarse.origin_us - fine.origin_us, fine.stride_us) == 0;
  }
  if (fine.kind == K::kTrunc && coarse.kind == K::kTrunc) {
    if (fine.with_zone != coarse.with_zone || fine.zone != coarse.zone) return false;
    if (fine.unit == kWeekRank || coarse.unit == kWeekRank)
      return coarse.unit == kWeekRank && (fine.unit <= kDayRank || fine.unit == kWeekRank);
    return fine.unit <= coarse.unit;
  }
  if (fine.kind == K::kBin && coarse.kind == K::kTrunc) {
    // Every boundary of the coarse buckets is a local multiple of `length` (weeks and calendar units
    // start at local midnight); in UTC it is shifted by the zone's offset at that time.
    if (fine.stride_us <= 0) return false;
    if (coarse.unit == kWeekRank) {
      // Weeks start on Mondays; 2000-01-03, two days after the origin of origin_us, was one.
      if (Mod(7 * kDay, fine.stride_us) != 0 || Mod(fine.origin_us - 2 * kDay, fine.stride_us) != 0) return false;
    } else {
      const int64_t length = coarse.unit >= kDayRank ? kDay : UnitMicros(coarse.unit);
      if (length % fine.stride_us != 0 || Mod(fine.origin_us, fine.stride_us) != 0) return false;
    }
    if (!coarse.with_zone) return true;
    return zone_step_us == 0 || (zone_step_us > 0 && zone_step_us % fine.stride_us == 0);
  }
  return false;  // a calendar-cut (zoned) trunc has buckets of varying length: never nests in a bin
}

std::string SubstitutePlaceholders(const std::string& sql, const std::map<int, std::string>& with) {
  std::string out;
  out.reserve(sql.size());
  size_t i = 0;
  while (i < sql.size()) {
    const char c = sql[i];
    if (c == '\'' || c == '"') {
      // A literal (E'' strings escape with backslashes) or a quoted identifier, copied as it is.
      const bool escapes = c == '\'' && i > 0 && (sql[i - 1] == 'E' || sql[i - 1] == 'e');
      size_t j = i + 1;
      while (j < sql.size()) {
        if (escapes && sql[j] == '\\') {
          j += 2;
          continue;
        }
        if (sql[j] == c) {
          if (j + 1 < sql.size() && sql[j + 1] == c) {
            j += 2;
            continue;
          }
          break;
        }
        j++;
      }
      out.append(sql, i, std::min(j + 1, sql.size()) - i);
      i = j + 1;
      continue;
    }
    if (c == '$' && i + 1 < sql.size() && std::isdigit(static_cast<unsigned char>(sql[i + 1]))) {
      size_t j = i + 1;
      while (j < sql.size() && std::isdigit(static_cast<unsigned char>(sql[j]))) j++;
      const auto it = j - i - 1 <= 9 ? with.find(std::atoi(sql.substr(i + 1, j - i - 1).c_str())) : with.end();
      if (it != with.end()) {
        out += "(" + it->second + ")";
        i = j;
        continue;
      }
      out.append(sql, i, j - i);
      i = j;
      continue;
    }
    out += c;
    i++;
  }
  return out;
}

std::string CombineState(Combine combine, const std::string& column, const std::string& type) {
  switch (combine) {
    case Combine::kCount: return "COALESCE(pg_catalog.sum(" + column + "), 0)::" + type;
    case Combine::kSum: return "pg_catalog.sum(" + column + ")::" + type;
    case Combine::kMin: return "pg_catalog.min(" + column + ")::" + type;
    case Combine::kMax: return "pg_catalog.max(" + column + ")::" + type;
    case Combine::kSketch: return "strata.merge(" + column + ")";
  }
  return column;
}

namespace {

// What both forms of the routed statement share: the time column (rows, alias r) and its bucket, the
// stored groups' bucket (alias d), the guard, the query's time range, the arms' select lists and
// grouping, and the conditions of whole buckets, of the range's partial first and last buckets and of the
// rows with no finite time.
struct Shared {
  const Route& r;
  std::string t, b, rt, guard, group_by;
  std::vector<std::string> range, raw_states, rollup_states;

  explicit Shared(const Route& route) : r(route) {
    t = "r." + r.time_column;
    b = "d." + r.bucket_column;
    rt = r.bucket_of(t);
    guard = r.guard.empty() ? "" : " AND (" + r.guard + ")";
    if (r.lower) range.push_back(t + " " + r.lower->op + " (" + r.lower->expr + ")");
    if (r.upper) range.push_back(t + " " + r.upper->op + " (" + r.upper->expr + ")");
    std::vector<std::string> groups;
    for (size_t i = 0; i < r.keys.size(); i++) {
      const std::string g = "g" + std::to_string(i + 1);
      raw_states.push_back(r.keys[i].first + " AS " + g);
      rollup_states.push_back(r.keys[i].second + " AS " + g);
      groups.push_back(std::to_string(i + 1));
    }
    for (size_t i = 0; i < r.states.size(); i++) {
      const std::string c = "c" + std::to_string(i + 1);
      raw_states.push_back(r.states[i].raw_aggregate + " AS " + c);
      rollup_states.push_back(r.states[i].rollup_column + " AS " + c);
    }
    group_by = groups.empty() ? "" : " GROUP BY " + Join(groups, ", ");
  }
  // x is a finite bucket start inside the range, its end at or before the upper bound.
  std::string Whole(const std::string& x) const {
    std::vector<std::string> c{"pg_catalog.isfinite(" + x + ")"};
    if (r.lower) c.push_back(x + " " + r.lower->op + " (" + r.lower->expr + ")");
    if (r.upper) c.push_back(x + " < " + r.bucket_of("(" + r.upper->expr + ")"));
    return Join(c, " AND ");
  }
  // One arm over rows (alias r): `where` and the query's other filters, grouped by the query's keys.
  std::string RowArm(const std::string& from, std::vector<std::string> where) const {
    for (const auto& f : r.raw_filters) where.push_back("(" + f + ")");
    if (where.empty()) where.push_back("true");
    return "SELECT " + Join(raw_states, ", ") + " FROM " + from + " WHERE " + Join(where, " AND ") + group_by;
  }
  // The rows of the range's partial first bucket; none when the bound always starts a bucket.
  std::optional<std::string> LeftEdge() const {
    if (!r.lower || (r.lower->aligned && r.lower->op == ">=")) return std::nullopt;
    std::vector<std::string> w = range;
    w.push_back("pg_catalog.isfinite(" + t + ")");
    // The partial first bucket ends where R(A) ends; with `>=` and A on a bucket start there is none,
    // and the index range is empty (not a whole bucket read to find nothing). Both: the plain end bounds
    // the range for the planner (estimates, partition pruning), the CASE makes it empty at execution
    // when A starts a bucket.
    const std::string a = "(" + r.lower->expr + ")";
    const std::string end = r.bucket_end(r.bucket_of(a));
    w.push_back(t + " < " + end);
    if (r.lower->op == ">=") w.push_back(t + " < CASE WHEN " + r.bucket_of(a) + " < " + a + " THEN " + end + " ELSE " + a + " END");
    w.push_back("NOT (" + rt + " " + r.lower->op + " (" + r.lower->expr + "))");
    return Join(w, " AND ") + guard;
  }
  // The rows of the range's partial last bucket (not the first one's); none when the bound always
  // starts a bucket.
  std::optional<std::string> RightEdge() const {
    if (!r.upper || (r.upper->aligned && r.upper->op == "<")) return std::nullopt;
    std::vector<std::string> w = range;
    w.push_back("pg_catalog.isfinite(" + t + ")");
    w.push_back(t + " >= " + r.bucket_of("(" + r.upper->expr + ")"));
    if (r.lower) w.push_back(rt + " " + r.lower->op + " (" + r.lower->expr + ")");
    return Join(w, " AND ") + guard;
  }
  // Rows with an infinite time, and with a NULL one when there is no range (no bucket range holds them).
  std::string Infinite() const {
    std::vector<std::string> w = range;
    const std::string inf = "'infinity'::" + r.bucket_type + ", '-infinity'::" + r.bucket_type;
    w.push_back(range.empty() ? "(" + t + " IS NULL OR " + t + " IN (" + inf + "))" : t + " IN (" + inf + ")");
    return Join(w, " AND ") + guard;
  }
  // Every row of the range, when the guard fails.
  std::string GuardOff() const {
    std::vector<std::string> w = range;
    w.push_back("NOT (" + r.guard + ")");
    return Join(w, " AND ");
  }
};

std::string ViewUnionSql(const Route& r, int* arm_count, std::vector<int>* rare) {
  const Shared sh(r);
  const std::string dirty = "ARRAY(SELECT p.b FROM " + r.pending_table + " p WHERE p.b IS NOT NULL)";
  std::vector<std::string> arms;
  {
    std::vector<std::string> where{sh.Whole(sh.b), sh.b + " <> ALL (" + dirty + ")"};
    for (const auto& f : r.rollup_filters) where.push_back("(" + f + ")");
    arms.push_back("SELECT " + Join(sh.rollup_states, ", ") + " FROM " + r.data_table + " AS d WHERE " +
                   Join(where, " AND ") + sh.guard);
  }
  // The viewed rollup's stored groups outside those buckets, each part through its bucket index: the
  // pending buckets' (one range each), the range's partial first and last buckets', the NULL and infinite
  // buckets', and all of them when the guard fails.
  const std::string viewed = r.over_view->data_table + " AS r";
  arms.push_back(sh.RowArm("(SELECT DISTINCT p.b AS __strata_b FROM " + r.pending_table + " p WHERE p.b IS NOT NULL) AS __strata_x JOIN " +
                               viewed + " ON " + sh.t + " >= __strata_x.__strata_b AND " + sh.t + " < " +
                               r.bucket_end("__strata_x.__strata_b"),
                           {sh.rt + " = __strata_x.__strata_b", sh.Whole("__strata_x.__strata_b") + sh.guard}));
  if (const auto w = sh.LeftEdge()) arms.push_back(sh.RowArm(viewed, {*w}));
  if (const auto w = sh.RightEdge()) arms.push_back(sh.RowArm(viewed, {*w}));
  arms.push_back(sh.RowArm(viewed, {sh.Infinite()}));
  std::vector<int> rare_arms;
  if (!r.guard.empty()) {
    rare_arms.push_back(static_cast<int>(arms.size()));
    arms.push_back(sh.RowArm(viewed, {sh.GuardOff()}));
  }
  if (!r.over_view->tail.empty()) arms.push_back(sh.RowArm("(" + r.over_view->tail + ") AS r", sh.range));
  if (arm_count) *arm_count = static_cast<int>(arms.size());
  if (rare) *rare = rare_arms;
  return "(" + Join(arms, " UNION ALL ") + ")";
}

}  // namespace

std::string UnionSql(const Route& r, int* arm_count, std::vector<int>* rare) {
  if (r.over_view) return ViewUnionSql(r, arm_count, rare);
  const Shared sh(r);
  const std::string& t = sh.t;
  const std::string& rt = sh.rt;
  const std::string id = std::to_string(r.rollup_id);
  const std::string type = r.bucket_type;
  const auto as_bucket = [&](const std::string& tstz) {
    return type == "timestamp without time zone" ? "(" + tstz + " AT TIME ZONE 'UTC')" : tstz;
  };
  // The rollup's progress, read at execution (the catalog row is read as its owner, see planner.cpp).
  const auto progress = [&](const std::string& column) {
    return "(SELECT " + column + " FROM strata.rollup WHERE id = " + id + ")";
  };
  // The dirty buckets: queued in the pending table, or logged past the rollup's position.
  // For a rollup of a rollup, the rollups it reads through add theirs, each mapped to this one's bucket
  // (the log holds the first rollup's buckets).
  const bool through = !r.through_pending.empty();
  std::string dirty_set = "(SELECT p.b AS __strata_b FROM " + r.pending_table + " p WHERE p.b IS NOT NULL";
  for (const auto& p : r.through_pending)
    dirty_set += " UNION SELECT " + r.bucket_of("p.b") + " FROM " + p + " p WHERE p.b IS NOT NULL";
  dirty_set += " UNION SELECT " + (through ? r.bucket_of(as_bucket("c.b")) : as_bucket("c.b")) +
               " FROM strata.rollup_change c WHERE c.grain = " + std::to_string(r.grain) + " AND c.pos > " +
               progress("change_pos") + " AND c.b IS NOT NULL)";
  const std::string dirty = "ARRAY(SELECT __strata_y.__strata_b FROM " + dirty_set + " AS __strata_y)";
  // frozen_before is a timestamptz; for a timestamp bucket it was converted in the maintenance session's
  // TimeZone, unknown here: read as UTC plus the largest offset any zone has (14 h), the cutoff only moves
  // later, so a few more hours come from raw rows (there are none below the true cutoff) and none is lost.
  const std::string frozen = type == "timestamp without time zone"
                                 ? "(SELECT (frozen_before AT TIME ZONE 'UTC') + interval '14 hours' FROM strata.rollup WHERE id = " + id + ")"
                                 : "(SELECT frozen_before FROM strata.rollup WHERE id = " + id + ")";
  const std::string unfrozen_from = "COALESCE(" + frozen + ", '-infinity'::" + type + ")";
  const std::string source = r.source + " AS r";

  std::vector<std::string> arms;
  {
    std::vector<std::string> where{sh.Whole(sh.b), sh.b + " >= " + unfrozen_from, sh.b + " <> ALL (" + dirty + ")"};
    for (const auto& f : r.rollup_filters) where.push_back("(" + f + ")");
    arms.push_back("SELECT " + Join(sh.rollup_states, ", ") + " FROM " + r.data_table + " AS d WHERE " +
                   Join(where, " AND ") + sh.guard);
  }
  // The tail's rows of whole, clean, unfrozen buckets, tested on the time column itself: each bound
  // becomes the first bucket start on its side (a bucket start b satisfies b >= S exactly when its rows'
  // times t do, t >= S), computed once per execution (a scalar subquery), so a row's bucket is computed
  // once (for the dirty test) instead of once per bound. (Bucket functions are monotone and keep
  // infinities.)
  const auto first_start = [&](const std::string& x, const std::string& op) {
    const std::string rx = r.bucket_of("(" + x + ")");
    if (op == ">") return r.bucket_end(rx);
    return "CASE WHEN " + rx + " = (" + x + ") THEN (" + x + ") ELSE " + r.bucket_end(rx) + " END";
  };
  std::vector<std::string> tail_where{"pg_catalog.isfinite(" + t + ")"};
  if (r.lower) tail_where.push_back(t + " >= (SELECT " + first_start(r.lower->expr, r.lower->op) + ")");
  if (r.upper) tail_where.push_back(t + " < (SELECT " + r.bucket_of("(" + r.upper->expr + ")") + ")");
  // (No frozen cutoff: NULL, so -infinity; a bucket function is not asked for an infinite time.)
  tail_where.push_back(t + " >= COALESCE((SELECT " + first_start(frozen, ">=") + "), '-infinity'::" + type + ")");
  tail_where.push_back(rt + " <> ALL (" + dirty + ")");
  const std::string clean_whole = Join(tail_where, " AND ") + sh.guard;
  const std::string order = "r." + r.order_column;
  arms.push_back(sh.RowArm(source, {order + " > " + std::to_string(r.watermark), order + " > " + progress("watermark"), clean_whole}));
  if (r.cursor)
    arms.push_back(sh.RowArm(source, {order + " <= " + std::to_string(*r.cursor), order + " <= " + progress("backfill_cursor"), clean_whole}));
  if (const auto w = sh.LeftEdge()) arms.push_back(sh.RowArm(source, {*w}));
  if (const auto w = sh.RightEdge()) arms.push_back(sh.RowArm(source, {*w}));
  std::vector<int> rare_arms;
  rare_arms.push_back(static_cast<int>(arms.size()));
  arms.push_back(sh.RowArm(dirty_set + " AS __strata_x JOIN " + source + " ON " + t +
                               " >= __strata_x.__strata_b AND " + t + " < " + r.bucket_end("__strata_x.__strata_b"),
                           {rt + " = __strata_x.__strata_b", sh.Whole("__strata_x.__strata_b"),
                            "__strata_x.__strata_b >= " + unfrozen_from + sh.guard}));
  rare_arms.push_back(static_cast<int>(arms.size()));
  {
    std::vector<std::string> w = sh.range;  // implied by Whole(rt); gives the planner the query's own range
    w.push_back(sh.Whole(rt));
    w.push_back(rt + " < " + frozen);
    w.push_back(t + " < " + r.bucket_end(r.bucket_of(frozen)) + sh.guard);
    arms.push_back(sh.RowArm(source, w));
  }
  arms.push_back(sh.RowArm(source, {sh.Infinite()}));
  if (!r.guard.empty()) {
    rare_arms.push_back(static_cast<int>(arms.size()));
    arms.push_back(sh.RowArm(source, {sh.GuardOff()}));
  }
  if (arm_count) *arm_count = static_cast<int>(arms.size());
  if (rare) *rare = rare_arms;
  return "(" + Join(arms, " UNION ALL ") + ")";
}

}  // namespace strata::core::routing
