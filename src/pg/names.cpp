// Relation and role names; see names.hpp.
#include "pg/names.hpp"

namespace strata::pg {

RangeVar* ParseRelationName(const std::string& name) {
  RangeVar* rv = nullptr;
  Call([&] {
#if PG_VERSION_NUM >= 160000
    rv = makeRangeVarFromNameList(stringToQualifiedNameList(name.c_str(), nullptr));
#else
    rv = makeRangeVarFromNameList(stringToQualifiedNameList(name.c_str()));
#endif
  });
  return rv;
}

std::string RelName(Oid relid) {
  const char* n = nullptr;
  Call([&] {
    n = get_rel_name(relid);
    if (n == nullptr) elog(ERROR, "relation %u does not exist", relid);
  });
  return n;
}

std::string RelSchema(Oid relid) {
  const char* n = nullptr;
  Call([&] {
    n = get_namespace_name(get_rel_namespace(relid));
    if (n == nullptr) elog(ERROR, "schema of relation %u does not exist", relid);
  });
  return n;
}

std::string RoleName(Oid roleid) {
  const char* n = nullptr;
  Call([&] { n = GetUserNameFromId(roleid, false); });
  return n;
}

}  // namespace strata::pg
