// Whose rights strata's work runs with: switching roles, the extension's owner, ownership checks.
// May throw PgError (see guard.hpp).
#pragma once

#include <functional>

#include "pg/guard.hpp"

namespace strata::pg {

// Runs fn as role (security-restricted, like maintenance commands do), restoring the previous user
// on the way out, error or not.
void AsRole(Oid role, const std::function<void()>& fn);
// The owner of the strata extension in this database (for its catalog writes).
Oid ExtensionOwner();
// Runs fn with the rights to write strata's own tables: as is for a superuser, else as the extension
// owner (callers may manage their own tables without write access to strata's catalog).
void AsExtensionOwner(const std::function<void()>& fn);
// Whether the current user owns the relation (or is a superuser).
bool OwnsTable(Oid relid);

}  // namespace strata::pg
