# App tests (Qt Test, offscreen), included from tests/CMakeLists.txt when DEN2MOE_BUILD_GUI=ON.
# Each tests/app/gui/tst_<x>.cpp links den2moe_app (the whole app but main.cpp) + Qt6::Test.
function(d2m_app_test name)
  add_executable(${name} ${CMAKE_CURRENT_LIST_DIR}/${name}.cpp)
  set_target_properties(${name} PROPERTIES AUTOMOC ON RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  target_link_libraries(${name} PRIVATE den2moe_app Qt6::Test)
  target_compile_definitions(${name} PRIVATE D2M_SOURCE_DIR="${CMAKE_SOURCE_DIR}"
                             D2M_BUILD_DIR="${CMAKE_BINARY_DIR}")
  add_test(NAME ${name} COMMAND ${name})
  # D2M_TEST_ENV: the shared data, the build and source folders, D2M_DEN2MOE (the CLI), OMP_NUM_THREADS=2
  set_tests_properties(${name} PROPERTIES LABELS app ENVIRONMENT "QT_QPA_PLATFORM=offscreen;${D2M_TEST_ENV}")
endfunction()

file(GLOB D2M_APP_TESTS CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/tst_*.cpp)
foreach(t ${D2M_APP_TESTS})
  get_filename_component(name ${t} NAME_WE)
  d2m_app_test(${name})
endforeach()

# The headless-binary checks call den2moe-studio.
if(TARGET tst_studio_screenshot)
  add_dependencies(tst_studio_screenshot den2moe-studio)
endif()
# It measures event-loop latency during a mining run: alone, not beside other tests' runs.
if(TARGET tst_job_runner)
  set_tests_properties(tst_job_runner PROPERTIES RUN_SERIAL TRUE)
endif()
# The routing test compares with `den2moe route --json`.
if(TARGET tst_moe_views AND TARGET den2moe)
  add_dependencies(tst_moe_views den2moe den2moe-studio)
endif()
# The export dialog test converts a small model with the CLI first.
if(TARGET tst_export_dialog AND TARGET den2moe)
  add_dependencies(tst_export_dialog den2moe)
endif()
# Every recipe through `den2moe convert` and `den2moe-studio --run conversion`: byte-identical models.
if(TARGET tst_conversion_parity)
  add_dependencies(tst_conversion_parity den2moe den2moe-studio)
endif()
# Issue 20: an installed binary must not depend on where it was built. den2moe-studio copied (with its
# sentencepiece shim) to a temporary folder outside the source tree renders the routing view of a
# converted folder with no project (the demo project cannot be found from there).
if(TARGET den2moe-studio AND TARGET den2moe)
  add_test(NAME studio_routing_relocated
           COMMAND sh -c "D=$(mktemp -d /tmp/d2m-relocated-XXXXXX) && mkdir -p $D/bin && cp $<TARGET_FILE:den2moe-studio> $<TARGET_FILE_DIR:den2moe-studio>/libspm_shim.so $D/bin/ && cd $D && $D/bin/den2moe-studio --model-dir '${CMAKE_BINARY_DIR}/cli-convert' --view routing --text 'Two plus two is four.' --screenshot $D/routing.png && test -s $D/routing.png && echo ROUTED; $D/bin/den2moe-studio --view heatmap --screenshot $D/h.png; test $? -eq 1 && echo NO_PROJECT_EXIT1; rm -rf $D")
  set_tests_properties(studio_routing_relocated PROPERTIES ENVIRONMENT "${D2M_TEST_ENV};QT_QPA_PLATFORM=offscreen"
                       LABELS gui FIXTURES_REQUIRED cli_convert
                       PASS_REGULAR_EXPRESSION "ROUTED.*demo project was not found beside the program.*NO_PROJECT_EXIT1")
endif()
# Issue 27: a bad GEMM setting in the environment is a user error before any work, in the studio as in the CLI
if(TARGET den2moe-studio)
  add_test(NAME studio_bad_gemm_environment
           COMMAND sh -c "$<TARGET_FILE:den2moe-studio> --view heatmap --screenshot /nonexistent/h.png; echo EXIT$?")
  set_tests_properties(studio_bad_gemm_environment PROPERTIES
                       ENVIRONMENT "${D2M_TEST_ENV};QT_QPA_PLATFORM=offscreen;D2M_PACKED_WEIGHTS_MB=lots" LABELS gui
                       PASS_REGULAR_EXPRESSION "error: D2M_PACKED_WEIGHTS_MB='lots' is not a size.*EXIT1")
endif()
# The results tables test also checks `den2moe-studio --view results`.
if(TARGET tst_results_view)
  add_dependencies(tst_results_view den2moe-studio)
endif()
# Issue 18: the Training and Evaluation steps run real (short) jobs and call both binaries.
if(TARGET tst_training_panel AND TARGET den2moe)
  add_dependencies(tst_training_panel den2moe den2moe-studio)
  set_tests_properties(tst_training_panel PROPERTIES RUN_SERIAL TRUE TIMEOUT 1500)  # it reports the event-loop gap
endif()
if(TARGET tst_evaluation_panel AND TARGET den2moe)
  add_dependencies(tst_evaluation_panel den2moe den2moe-studio)
  set_tests_properties(tst_evaluation_panel PROPERTIES TIMEOUT 900)
endif()
# Issue 18: the Runs tab lists runs the CLI made (convert, train, eval) on a saved project.
if(TARGET tst_runs_panel AND TARGET den2moe)
  add_dependencies(tst_runs_panel den2moe den2moe-studio)
  set_tests_properties(tst_runs_panel PROPERTIES TIMEOUT 900)
endif()
# Issue 18: two runs side by side in the Routing and Expert load tabs (CLI-made runs, the headless forms).
if(TARGET tst_run_comparison AND TARGET den2moe)
  add_dependencies(tst_run_comparison den2moe den2moe-studio)
  set_tests_properties(tst_run_comparison PROPERTIES TIMEOUT 900)
endif()
