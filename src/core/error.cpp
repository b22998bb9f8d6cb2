// Classification of C++ exceptions for the error guard (see src/pg/guard.hpp).
#include "core/error.hpp"

#include <new>

namespace strata::core {

ErrorInfo DescribeCurrentException() noexcept {
  ErrorInfo info;
  try {
    throw;
  } catch (const Error& e) {
    try {
      info.sqlstate = e.sqlstate();
      info.message = e.message();
      info.detail = e.detail();
      info.hint = e.hint();
    } catch (...) {
      info.sqlstate = sqlstate::kOutOfMemory;
    }
  } catch (const std::bad_alloc&) {
    info.sqlstate = sqlstate::kOutOfMemory;
  } catch (const std::exception& e) {
    info.sqlstate = sqlstate::kInternalError;
    try {
      info.message = std::string("unexpected C++ exception: ") + e.what();
    } catch (...) {
    }
  } catch (...) {
    info.sqlstate = sqlstate::kInternalError;
  }
  if (info.message.empty() && info.sqlstate == sqlstate::kOutOfMemory) {
    // Leave the message empty for out-of-memory: the reporter uses a static text.
  } else if (info.message.empty()) {
    try {
      info.message = "unexpected C++ exception of unknown type";
    } catch (...) {
    }
  }
  return info;
}

}  // namespace strata::core
