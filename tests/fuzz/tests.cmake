# The seed replay of every fuzz target (tests/fuzz/fuzz_*.cpp) in the normal build: replay_<target> is the
# target compiled with replay_main.cpp instead of libFuzzer, linked to the engine; the ctest
# fuzz_replay_<target> runs it over tests/fuzz/seeds/<target>/ (and the crash reproducers kept there).
file(GLOB D2M_FUZZ_REPLAY_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/fuzz_*.cpp)
foreach(f ${D2M_FUZZ_REPLAY_SOURCES})
  get_filename_component(name ${f} NAME_WE)
  add_executable(replay_${name} ${f} ${CMAKE_CURRENT_LIST_DIR}/replay_main.cpp)
  target_link_libraries(replay_${name} PRIVATE den2moe_frontend)
  set_target_properties(replay_${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  add_test(NAME fuzz_replay_${name} COMMAND replay_${name} ${CMAKE_CURRENT_LIST_DIR}/seeds/${name})
  set_tests_properties(fuzz_replay_${name} PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS "engine;fuzz")
endforeach()
