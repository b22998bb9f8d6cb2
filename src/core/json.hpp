// A JSON object written key by key, free of Postgres: job_runs details and the vacuum facts. Numbers
// keep the form their reader expects (whole numbers, a rounded double, %g); strings are escaped with
// JsonString. No fixed buffer: nothing is ever cut short.
#pragma once
#include "core/no_postgres.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace strata::core {

class JsonObject {
 public:
  JsonObject& Int(std::string_view key, int64_t v);
  // A double rounded to a whole number ("%.0f"); null when not finite (not a JSON number).
  JsonObject& Rounded(std::string_view key, double v);
  // A double in printf's %g form (6 significant digits); null when not finite.
  JsonObject& General(std::string_view key, double v);
  JsonObject& Bool(std::string_view key, bool v);
  JsonObject& Null(std::string_view key);
  JsonObject& String(std::string_view key, std::string_view v);
  // A value that is JSON text already (a nested object, "null").
  JsonObject& Raw(std::string_view key, std::string_view json);
  // The object: {"key": value, ...}.
  std::string Text() const { return text_ + "}"; }

 private:
  JsonObject& Key(std::string_view key);
  std::string text_ = "{";
};

}  // namespace strata::core
