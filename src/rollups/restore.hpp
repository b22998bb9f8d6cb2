// The restore of capture triggers strata made again (restore.cpp).
#pragma once

namespace strata::rollups {

// Installs the utility hook that lets a restore skip the capture triggers strata made again.
void InitRestoreHook();

}  // namespace strata::rollups
