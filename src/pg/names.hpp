// Relation and role names. May throw PgError (see guard.hpp).
#pragma once

#include <string>

#include "pg/guard.hpp"

namespace strata::pg {

// A possibly schema-qualified relation name as a RangeVar (palloc'd; an invalid name is a syntax error).
RangeVar* ParseRelationName(const std::string& name);
// The relation's name and its schema's (errors when it does not exist).
std::string RelName(Oid relid);
std::string RelSchema(Oid relid);
std::string RoleName(Oid roleid);

}  // namespace strata::pg
