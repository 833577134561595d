// The GEMM settings a front end checks before any work, without torch's headers (the studio's Qt translation
// units include this; model/gemm.h has the rest).
#pragma once

namespace den2moe::gemm {

/// $D2M_GEMM and $D2M_PACKED_WEIGHTS_MB read and checked now, so that a bad value is a user error (den2moe::Error,
/// InvalidInput, naming the values expected) before any work instead of a failure in the middle of a job.
void check_environment();

}  // namespace den2moe::gemm
