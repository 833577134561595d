# cmake -DEXE=<test binary> -DCASE=<test case> -DEXPECT=<substring> -P expect_failure.cmake
# Passes only when the test case FAILS (non-zero exit) and its output names EXPECT: proves that a
# test reports a missing input instead of silently passing.
execute_process(COMMAND ${EXE} ${CASE} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("${out}${err}")
if(rc EQUAL 0)
  message(FATAL_ERROR "${EXE} ${CASE} exited 0; it was expected to fail")
endif()
string(FIND "${out}${err}" "${EXPECT}" pos)
if(pos EQUAL -1)
  message(FATAL_ERROR "${EXE} ${CASE} failed (rc ${rc}) but its output lacks \"${EXPECT}\"")
endif()
