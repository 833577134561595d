// The demo project cut down for fast tests: 4 calibration windows of 64 tokens per domain, fp32, a
// statistics cache in the test's own temporary folder. Include after support/check.h.
#pragma once

#include "project/project.h"

namespace d2m_test {

inline den2moe::Project tiny_demo_project() {
    den2moe::Project p = den2moe::load_project(source_dir() + "/projects/demo.den2moe.json");
    p.calib.n_samples = 4;
    p.calib.seq_len = 64;
    p.dtype = "fp32";
    p.cache_dir = tmp_dir() + "/cache";
    return p;
}

}  // namespace d2m_test
