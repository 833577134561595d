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
# The results tables test also checks `den2moe-studio --view results`.
if(TARGET tst_results_view)
  add_dependencies(tst_results_view den2moe-studio)
endif()
