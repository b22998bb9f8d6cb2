// Roles, ownership and the extension owner; see security.hpp.
#include "pg/security.hpp"
#include "pg/spi.hpp"

namespace strata::pg {

void AsRole(Oid role, const std::function<void()>& fn) {
  Oid save_user;
  int save_sec;
  // GetUserIdAndSecContext/SetUserIdAndSecContext only read and assign globals: they cannot ERROR.
  GetUserIdAndSecContext(&save_user, &save_sec);
  SetUserIdAndSecContext(role, save_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
  try {
    fn();
  } catch (...) {
    SetUserIdAndSecContext(save_user, save_sec);
    throw;
  }
  SetUserIdAndSecContext(save_user, save_sec);
}

Oid ExtensionOwner() {
  Oid owner = InvalidOid;
  Call([&] {
    int rc = SPI_execute("SELECT extowner FROM pg_catalog.pg_extension WHERE extname = 'strata'", true, 1);
    if (rc != SPI_OK_SELECT || SPI_processed != 1) elog(ERROR, "extension strata is not installed");
    bool isnull;
    owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
  });
  return owner;
}

void AsExtensionOwner(const std::function<void()>& fn) {
  bool is_super = false;
  Call([&] { is_super = superuser(); });
  if (is_super)
    fn();
  else
    AsRole(ExtensionOwner(), fn);
}

bool OwnsTable(Oid relid) {
  bool owns = false;
  Call([&] {
#if PG_VERSION_NUM >= 160000
    owns = object_ownercheck(RelationRelationId, relid, GetUserId());
#else
    owns = pg_class_ownercheck(relid, GetUserId());
#endif
  });
  return owns;
}

}  // namespace strata::pg
