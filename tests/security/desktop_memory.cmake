# The desktop app's memory test: a probe that drives the real screens and
# locks, and a GoogleTest driver that dumps the probe with gcore and searches
# the dump for secrets. Both need app/desktop's targets, which are made after
# tests/; tests/CMakeLists.txt therefore includes this file at the end of the
# top-level directory. The CLI tests in this folder (*_test.cpp) are globbed there.
if(NOT TARGET custodia_uiplugin OR NOT TARGET custodia_gui_test_support)
  return()
endif()
find_package(GTest REQUIRED)
# custodia_ui's Qt targets are imported in app/desktop; this file runs in the top directory.
find_package(Qt6 6.4 REQUIRED COMPONENTS Core Gui Qml Quick QuickControls2 Multimedia Test)
include(GoogleTest)

add_executable(custodia_desktop_memory_probe ${CMAKE_CURRENT_LIST_DIR}/desktop_memory_probe.cpp)
set_target_properties(custodia_desktop_memory_probe PROPERTIES AUTOMOC ON)
target_link_libraries(custodia_desktop_memory_probe PRIVATE custodia_gui_test_support
                      custodia_uiplugin Qt6::Test)
target_include_directories(custodia_desktop_memory_probe PRIVATE ${PROJECT_SOURCE_DIR}/tests/gui)

add_executable(desktop_memory_gcore ${CMAKE_CURRENT_LIST_DIR}/desktop_memory_gcore.cpp)
target_link_libraries(desktop_memory_gcore PRIVATE custodia_crypto GTest::gtest GTest::gtest_main)
target_include_directories(desktop_memory_gcore PRIVATE ${PROJECT_SOURCE_DIR}/tests)
target_compile_definitions(desktop_memory_gcore PRIVATE
  CUSTODIA_MEMORY_PROBE="$<TARGET_FILE:custodia_desktop_memory_probe>")
add_dependencies(desktop_memory_gcore custodia_desktop_memory_probe)
# The search runs over dumps of several hundred MiB: optimised even in Debug.
set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/desktop_memory_gcore.cpp PROPERTIES
                            COMPILE_OPTIONS -O2)
gtest_discover_tests(desktop_memory_gcore DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 300)
