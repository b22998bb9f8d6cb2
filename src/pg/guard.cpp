// The C++/Postgres error boundary; see guard.hpp for the rules.
#include <cstdio>
#include <cstring>
#include <new>

#include "core/error.hpp"
#include "pg/guard.hpp"

namespace strata::pg {
namespace {

// Error text escaping C++ is copied here inside the catch block and reported after it: copying into
// static buffers cannot fail or longjmp, so the catch block never leaves by longjmp.
struct CaughtError {
  int sqlstate;
  char message[1024];
  char detail[1024];
  char hint[512];
};
CaughtError caught;

void Capture(const core::ErrorInfo& info) noexcept {
  caught.sqlstate = info.sqlstate;
  strlcpy(caught.message, info.message.c_str(), sizeof caught.message);
  strlcpy(caught.detail, info.detail.c_str(), sizeof caught.detail);
  strlcpy(caught.hint, info.hint.c_str(), sizeof caught.hint);
}

// Classifies the current exception into `caught`; returns the PgError data if it was one.
ErrorData* CaptureCurrent() noexcept {
  try {
    throw;
  } catch (const PgError& e) {
    return e.data();
  } catch (...) {
    try {
      Capture(core::DescribeCurrentException());
    } catch (...) {
      caught.sqlstate = ERRCODE_OUT_OF_MEMORY;
      caught.message[0] = caught.detail[0] = caught.hint[0] = '\0';
    }
  }
  return nullptr;
}

[[noreturn]] void ReportCaptured(int elevel_error) {
  if (caught.sqlstate == ERRCODE_OUT_OF_MEMORY && caught.message[0] == '\0')
    ereport(elevel_error, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory in strata")));
  ereport(elevel_error, (errcode(caught.sqlstate), errmsg_internal("%s", caught.message),
                         caught.detail[0] ? errdetail_internal("%s", caught.detail) : 0,
                         caught.hint[0] ? errhint("%s", caught.hint) : 0));
  pg_unreachable();
}

}  // namespace

Datum Guard(Datum (*body)(FunctionCallInfo), FunctionCallInfo fcinfo) {
  ErrorData* pg_error = nullptr;
  bool failed = false;
  try {
    return body(fcinfo);
  } catch (...) {
    failed = true;
    pg_error = CaptureCurrent();
  }
  // Outside the catch block: the exception object is gone, no C++ frame below owns anything.
  if (pg_error != nullptr) ReThrowError(pg_error);
  if (failed) ReportCaptured(ERROR);
  pg_unreachable();
}

namespace {

// Calls body(arg); what escapes is re-raised as a Postgres ERROR after the catch block.
template <class Arg>
void GuardVoid(void (*body)(Arg), Arg arg) {
  ErrorData* pg_error = nullptr;
  bool failed = false;
  try {
    body(arg);
    return;
  } catch (...) {
    failed = true;
    pg_error = CaptureCurrent();
  }
  if (pg_error != nullptr) ReThrowError(pg_error);
  if (failed) ReportCaptured(ERROR);
}

}  // namespace

void GuardWorker(void (*body)(Datum), Datum arg) { GuardVoid(body, arg); }

void GuardHook(void (*body)(void*), void* arg) { GuardVoid(body, arg); }

const char* CurrentExceptionMessage(int* sqlstate) {
  ErrorData* pg_error = CaptureCurrent();
  if (pg_error != nullptr) {
    *sqlstate = pg_error->sqlerrcode;
    return pg_error->message ? pg_error->message : "";
  }
  *sqlstate = caught.sqlstate;
  return caught.message[0] ? caught.message : "out of memory";
}

void LogCaught(const char* context) {
  int sqlstate = 0;
  const char* msg = CurrentExceptionMessage(&sqlstate);
  ereport(LOG, (errcode(sqlstate), errmsg("strata: %s: %s", context, msg)));
}

}  // namespace strata::pg
