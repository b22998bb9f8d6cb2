// Errors raised by the Postgres-free core, and the classification the guard uses to report any C++
// exception to Postgres. Terms: a "sqlstate" is Postgres's packed 5-character error code (MAKE_SQLSTATE).
#pragma once
#include "core/no_postgres.hpp"

#include <exception>
#include <string>

namespace strata::core {

// Packs a 5-character SQLSTATE the same way Postgres's MAKE_SQLSTATE does (6 bits per character).
constexpr int MakeSqlstate(const char (&s)[6]) {
  int v = 0;
  for (int i = 0; i < 5; i++) v += ((s[i] - '0') & 0x3F) << (6 * i);
  return v;
}

// The SQLSTATEs the core raises; names follow Postgres's errcodes.txt.
namespace sqlstate {
inline constexpr int kInvalidParameterValue = MakeSqlstate("22023");
inline constexpr int kDatetimeFieldOverflow = MakeSqlstate("22008");
inline constexpr int kNumericValueOutOfRange = MakeSqlstate("22003");
inline constexpr int kFeatureNotSupported = MakeSqlstate("0A000");
inline constexpr int kObjectNotInPrerequisiteState = MakeSqlstate("55000");
inline constexpr int kOutOfMemory = MakeSqlstate("53200");
inline constexpr int kInternalError = MakeSqlstate("XX000");
inline constexpr int kProgramLimitExceeded = MakeSqlstate("54000");
}  // namespace sqlstate

// Error with everything Postgres needs to report it: SQLSTATE, message, detail and hint.
class Error : public std::exception {
 public:
  Error(int sqlstate, std::string message, std::string detail = {}, std::string hint = {})
      : sqlstate_(sqlstate), message_(std::move(message)), detail_(std::move(detail)),
        hint_(std::move(hint)) {}
  const char* what() const noexcept override { return message_.c_str(); }
  int sqlstate() const noexcept { return sqlstate_; }
  const std::string& message() const noexcept { return message_; }
  const std::string& detail() const noexcept { return detail_; }
  const std::string& hint() const noexcept { return hint_; }

 private:
  int sqlstate_;
  std::string message_, detail_, hint_;
};

// Plain description of an exception, ready to be turned into an ereport.
struct ErrorInfo {
  int sqlstate = sqlstate::kInternalError;
  std::string message;
  std::string detail;
  std::string hint;
};

// Classifies the exception currently being handled (call only inside a catch block): strata errors keep
// their fields, std::bad_alloc becomes out-of-memory, anything else an internal error naming what it was.
ErrorInfo DescribeCurrentException() noexcept;

}  // namespace strata::core
