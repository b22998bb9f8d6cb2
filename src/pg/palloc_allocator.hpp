// A C++ allocator over a Postgres memory context, for containers inside aggregate states: the memory is
// the aggregate context's (so hash aggregation's accounting sees it) and goes away with it.
// allocate() never raises a Postgres ERROR: the size is checked first and MCXT_ALLOC_NO_OOM returns NULL,
// which becomes std::bad_alloc (reported by the guard as out of memory). deallocate() is pfree, which
// cannot fail. So neither needs pg::Call, which matters on per-row paths.
#pragma once

#include <cstddef>
#include <new>

#include "pg/postgres.hpp"

namespace strata::pg {

template <class T>
class PallocAllocator {
 public:
  using value_type = T;
  explicit PallocAllocator(MemoryContext cxt) noexcept : cxt_(cxt) {}
  template <class U>
  PallocAllocator(const PallocAllocator<U>& o) noexcept : cxt_(o.context()) {}

  T* allocate(size_t n) {
    if (n > MaxAllocHugeSize / sizeof(T)) throw std::bad_alloc();
    void* p = MemoryContextAllocExtended(cxt_, n * sizeof(T), MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM);
    if (p == nullptr) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  void deallocate(T* p, size_t) noexcept { pfree(p); }
  MemoryContext context() const noexcept { return cxt_; }
  template <class U>
  bool operator==(const PallocAllocator<U>& o) const noexcept { return cxt_ == o.context(); }
  template <class U>
  bool operator!=(const PallocAllocator<U>& o) const noexcept { return cxt_ != o.context(); }

 private:
  MemoryContext cxt_;
};

}  // namespace strata::pg
