# Widget tests (Qt Test, offscreen), included from tests/CMakeLists.txt when DEN2MOE_BUILD_GUI=ON.
# Each tests/widgets/tst_<x>.cpp links only den2moe_widgets + Qt6::Test. The dendrogram layout is
# checked against scipy: the oracle runs first as a CTest fixture and writes its JSON into the
# build tree; tst_dendrogram_layout requires that fixture and fails when the file is missing.
set(D2M_DENDROGRAM_ORACLE_JSON ${CMAKE_BINARY_DIR}/oracle/dendrogram_cases.json)

add_test(NAME dendrogram_oracle
         COMMAND ${D2M_PYTHON} ${CMAKE_SOURCE_DIR}/tests/reference/dendrogram_oracle.py
                 ${D2M_DENDROGRAM_ORACLE_JSON})
set_tests_properties(dendrogram_oracle PROPERTIES
                     FIXTURES_SETUP dendrogram_oracle LABELS "widgets;oracle")

function(d2m_widget_test name)
  add_executable(${name} ${CMAKE_CURRENT_LIST_DIR}/${name}.cpp
                 ${CMAKE_CURRENT_LIST_DIR}/demo_domains.h)
  set_target_properties(${name} PROPERTIES
                        AUTOMOC ON RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  target_link_libraries(${name} PRIVATE den2moe_widgets Qt6::Test)
  target_include_directories(${name} PRIVATE ${CMAKE_CURRENT_LIST_DIR})
  add_test(NAME ${name} COMMAND ${name})
  # D2M_SCREENSHOT_DIR (unset here) makes the view tests save the docs/img screenshots.
  set_tests_properties(${name} PROPERTIES LABELS widgets ENVIRONMENT
                       "QT_QPA_PLATFORM=offscreen;D2M_DENDROGRAM_ORACLE=${D2M_DENDROGRAM_ORACLE_JSON}")
endfunction()

d2m_widget_test(tst_dendrogram_layout)
set_tests_properties(tst_dendrogram_layout PROPERTIES FIXTURES_REQUIRED dendrogram_oracle)
d2m_widget_test(tst_heatmap_view)
d2m_widget_test(tst_dendrogram_view)
d2m_widget_test(tst_csv_export)
