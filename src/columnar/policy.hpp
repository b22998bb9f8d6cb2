// The worker's compression pass (policy.cpp).
#pragma once

namespace strata::columnar {

// Compresses (or compresses again) the partitions the policies ask for, a few per pass, each its own
// transaction and job_runs row. Call with no transaction open. True when more may be waiting.
bool WorkerPass();

}  // namespace strata::columnar
