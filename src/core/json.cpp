// A JSON object written key by key (see json.hpp).
#include "core/json.hpp"

#include <cmath>
#include <cstdio>

#include "core/naming.hpp"

namespace strata::core {
namespace {

// printf-style formatting of one double, sized to fit (no fixed buffer).
std::string FormatDouble(const char* fmt, double v) {
  const int n = std::snprintf(nullptr, 0, fmt, v);
  std::string out(static_cast<size_t>(n) + 1, '\0');
  std::snprintf(out.data(), out.size(), fmt, v);
  out.resize(static_cast<size_t>(n));
  return out;
}

}  // namespace

JsonObject& JsonObject::Key(std::string_view key) {
  if (text_.size() > 1) text_ += ", ";
  text_ += JsonString(key);
  text_ += ": ";
  return *this;
}

JsonObject& JsonObject::Int(std::string_view key, int64_t v) { return Raw(key, std::to_string(v)); }

JsonObject& JsonObject::Rounded(std::string_view key, double v) {
  return std::isfinite(v) ? Raw(key, FormatDouble("%.0f", v)) : Null(key);
}

JsonObject& JsonObject::General(std::string_view key, double v) {
  return std::isfinite(v) ? Raw(key, FormatDouble("%g", v)) : Null(key);
}

JsonObject& JsonObject::Bool(std::string_view key, bool v) { return Raw(key, v ? "true" : "false"); }

JsonObject& JsonObject::Null(std::string_view key) { return Raw(key, "null"); }

JsonObject& JsonObject::String(std::string_view key, std::string_view v) { return Raw(key, JsonString(v)); }

JsonObject& JsonObject::Raw(std::string_view key, std::string_view json) {
  Key(key);
  text_ += json;
  return *this;
}

}  // namespace strata::core
