# Issue 20: the hostile inputs of the issue (argument parsing, late validation and partial outputs,
# paths from files, non-finite weights, smaller ones) against the CLI: exit 1 with a message naming
# what is wrong, nothing half-written left behind. Reads the random-split MoE of cli_convert.
add_test(NAME cli_hostile_inputs
         COMMAND ${D2M_PYTHON} ${CMAKE_SOURCE_DIR}/tests/app/cli/hostile_cli_check.py
                 --den2moe $<TARGET_FILE:den2moe> --shared ${D2M_SHARED_DIR}
                 --project ${CMAKE_SOURCE_DIR}/projects/demo.den2moe.json --moe ${CMAKE_BINARY_DIR}/cli-convert
                 --tmp ${CMAKE_BINARY_DIR}/cli-hostile)
set_tests_properties(cli_hostile_inputs PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS cli
                     FIXTURES_REQUIRED cli_convert PASS_REGULAR_EXPRESSION " passed, 0 failed")
# An administrator's OPENBLAS_CORETYPE is respected (not overridden), the faster option printed as a hint
# (on a CPU without AVX-512, or without a DYNAMIC_ARCH OpenBLAS, nothing is switched either way).
add_test(NAME cli_blas_coretype_respected COMMAND $<TARGET_FILE:den2moe> --version)
set_tests_properties(cli_blas_coretype_respected PROPERTIES ENVIRONMENT "${D2M_TEST_ENV};OPENBLAS_CORETYPE=Haswell"
                     LABELS cli PASS_REGULAR_EXPRESSION
                     "(BLAS OpenBLAS Haswell \\(OpenBLAS uses Haswell \\(OPENBLAS_CORETYPE=Haswell\\): the explicit setting is respected\\)\nhint: this CPU has AVX-512|CPU has no AVX-512|not a DYNAMIC_ARCH)")
# Issue 27: --version names the library that runs the float32 GEMMs and why, the libtorch and its BLAS, and
# whether weights are pre-packed; D2M_GEMM picks the library, and a value that names no library fails with the
# expected ones (exit 1) instead of silently running the default. d2m_version_test(name "ENV=..." regex).
function(d2m_version_test name env regex)
  set(test_env "${D2M_TEST_ENV}")
  if(env)
    list(APPEND test_env "${env}")
  endif()
  add_test(NAME ${name} COMMAND $<TARGET_FILE:den2moe> --version)
  set_tests_properties(${name} PROPERTIES ENVIRONMENT "${test_env}" LABELS cli PASS_REGULAR_EXPRESSION "${regex}")
endfunction()
d2m_version_test(cli_gemm_library_named ""
  "fp32 GEMMs: (oneDNN [0-9]+\\.[0-9]+\\.[0-9]+ dnnl_sgemm \\(the default where built in|OpenBLAS through libtorch \\(this build has no oneDNN)")
d2m_version_test(cli_gemm_library_env_openblas "D2M_GEMM=openblas"
  "fp32 GEMMs: (OpenBLAS|MKL) through libtorch \\(set by D2M_GEMM\\)")
d2m_version_test(cli_gemm_library_env_unknown "D2M_GEMM=blis"
  "error: D2M_GEMM='blis' is not a GEMM library \\(expected 'openblas' or 'onednn'")
# the libtorch and its BLAS (Debian's 1.13 on OpenBLAS, PyPI's 2.x on MKL: docs/benchmarks.md)
d2m_version_test(cli_libtorch_named ""
  "\nlibtorch: [0-9]+\\.[0-9]+\\.[0-9]+[^ ]* \\(BLAS: (OpenBLAS|MKL|not MKL, not a DYNAMIC_ARCH OpenBLAS)\\)\n")
# pre-packed weights (gemm.h linear_out): on, up to what size, or off and why (no oneDNN, no brgemm kernels
# on a CPU without AVX-512, D2M_PACKED_WEIGHTS_MB=0)
d2m_version_test(cli_packed_weights_named ""
  "pre-packed weights: (float32 inference weights reordered once for oneDNN's matmul, up to [1-9][0-9]* MiB|off \\(this build has no oneDNN\\)|off \\(oneDNN has no brgemm matmul kernels on this CPU)")
d2m_version_test(cli_packed_weights_off "D2M_PACKED_WEIGHTS_MB=0"
  "pre-packed weights: off \\((D2M_PACKED_WEIGHTS_MB=0|this build has no oneDNN)\\)")
add_test(NAME cli_gemm_library_env_unknown_exit COMMAND $<TARGET_FILE:den2moe> --version)
set_tests_properties(cli_gemm_library_env_unknown_exit PROPERTIES ENVIRONMENT "${D2M_TEST_ENV};D2M_GEMM=blis" LABELS cli
                     WILL_FAIL TRUE)
