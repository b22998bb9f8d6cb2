// The C++/Postgres error boundary. Two directions:
//  * Postgres -> C++: every Postgres call that can ERROR runs inside pg::Call, which catches the longjmp
//    with PG_TRY, restores the memory context, copies the error and throws pg::PgError. The lambda given
//    to Call must not own objects with destructors (a longjmp would skip them).
//    After a PgError the transaction is unusable until it (or the subtransaction) is aborted: the
//    exception must reach the guard (which re-raises it), a worker loop (AbortCurrentTransaction) or
//    pg::SubTransaction (which rolls back), and destructors run on the way must not call Postgres.
//  * C++ -> Postgres: every function Postgres calls is declared with STRATA_FUNCTION (SQL-callable) or
//    wrapped by pg::GuardWorker (worker mains); both run the C++ body in try/catch and report what
//    escaped after the catch block: a PgError is re-thrown as it was (SQLSTATE, detail, hint intact),
//    a core::Error with its own fields, std::bad_alloc as out of memory, anything else as internal.
#pragma once

#include <exception>
#include <utility>

#include "pg/postgres.hpp"

namespace strata::pg {

// A Postgres error caught under C++ frames. Owns a copy of the ErrorData (palloc'd in the context that
// was current before the call).
class PgError : public std::exception {
 public:
  explicit PgError(ErrorData* edata) noexcept : edata_(edata) {}
  const char* what() const noexcept override { return edata_ && edata_->message ? edata_->message : "postgres error"; }
  int sqlstate() const noexcept { return edata_ ? edata_->sqlerrcode : 0; }
  ErrorData* data() const noexcept { return edata_; }

 private:
  ErrorData* edata_;
};

// Runs f (which may call Postgres and ERROR) and turns an ERROR into a thrown PgError.
// A C++ exception thrown by f is caught inside the PG_TRY block and re-thrown after PG_END_TRY: an
// exception unwinding out of PG_TRY would leave PG_exception_stack pointing at a dead frame.
template <class F>
void Call(F&& f) {
  MemoryContext const oldcxt = CurrentMemoryContext;
  ErrorData* volatile edata = nullptr;
  std::exception_ptr cpp_error;
  PG_TRY();
  {
    try {
      f();
    } catch (...) {
      cpp_error = std::current_exception();
    }
  }
  PG_CATCH();
  {
    MemoryContextSwitchTo(oldcxt);
    edata = CopyErrorData();
    FlushErrorState();
  }
  PG_END_TRY();
  if (edata != nullptr) throw PgError(edata);
  if (cpp_error) std::rethrow_exception(cpp_error);
}

// Calls body(fcinfo) and reports anything that escapes as a Postgres ERROR. Never returns on error.
Datum Guard(Datum (*body)(FunctionCallInfo), FunctionCallInfo fcinfo);
// Calls body(arg) for a background worker main; an escaping error ends the worker with an ERROR
// (which Postgres turns into a FATAL exit of that worker only).
void GuardWorker(void (*body)(Datum), Datum arg);
// Calls body(arg) for a hook or callback that returns nothing; an escaping error is reported as an
// ERROR of the calling backend (as Guard does).
void GuardHook(void (*body)(void*), void* arg);
// Logs an error at LOG level with a context prefix, for errors a worker handles and continues after.
void LogCaught(const char* context);
// The message of the exception being handled (inside a catch block), copied into palloc'd memory.
const char* CurrentExceptionMessage(int* sqlstate);

}  // namespace strata::pg

// Declares an SQL-callable C function `name` whose body is C++ guarded by pg::Guard.
#define STRATA_FUNCTION(name)                                                   \
  static Datum name##_body(FunctionCallInfo fcinfo);                          \
  extern "C" {                                                                  \
  PG_FUNCTION_INFO_V1(name);                                                    \
  Datum name(PG_FUNCTION_ARGS) { return ::strata::pg::Guard(name##_body, fcinfo); } \
  }                                                                             \
  static Datum name##_body([[maybe_unused]] FunctionCallInfo fcinfo)
