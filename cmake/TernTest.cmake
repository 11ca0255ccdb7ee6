# SPDX-License-Identifier: Apache-2.0
#
# tern_add_unit_test(<name> SOURCES <files...> [PORTABLE] [LIBS <targets...>]
#                    [LABELS <labels...>] [TIMEOUT <s>])
#
# Host (posix) build: an executable linked with cmocka and the POSIX port,
# registered with ctest as unit.<name>.
# Cortex-M build: only tests marked PORTABLE are built, linked with the in-tree
# cmocka subset (tests/support/cmocka_lite.c) and the Cortex-M port, and run
# under qemu-system-arm (CMAKE_CROSSCOMPILING_EMULATOR) as qemu.<name>.
# Test executables are named test_<name with dots as underscores>.
#
# tern_add_integration_test(<name> SOURCES <files...> [LIBS <targets...>]
#                           [LABELS <labels...>] [TIMEOUT <s>])
#
# Host (posix) build only: an executable linked with cmocka, the POSIX port and
# tern_test_support (mosquitto per test, test PKI, network helpers), registered
# as integration.<name> with the labels integration;host. Named itest_<name>.

if(TERN_PORT STREQUAL "posix")
  find_library(CMOCKA_LIBRARY NAMES cmocka REQUIRED)
  find_path(CMOCKA_INCLUDE_DIR NAMES cmocka.h REQUIRED)
endif()

# A host test executable: cmocka, the POSIX port, tests/support on the include path.
function(_tern_host_test_executable exe)
  cmake_parse_arguments(H "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${exe} ${H_SOURCES})
  target_include_directories(${exe} PRIVATE ${PROJECT_SOURCE_DIR}/tests/support ${CMOCKA_INCLUDE_DIR})
  target_link_libraries(${exe} PRIVATE ${H_LIBS} tern_port_posix tern ${CMOCKA_LIBRARY})
endfunction()

function(tern_add_unit_test name)
  cmake_parse_arguments(T "PORTABLE" "TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  string(REPLACE "." "_" exe "test_${name}")
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  if(TERN_PORT STREQUAL "posix")
    _tern_host_test_executable(${exe} SOURCES ${T_SOURCES} LIBS ${T_LIBS})
    add_test(NAME unit.${name} COMMAND ${exe})
    set_tests_properties(unit.${name} PROPERTIES TIMEOUT ${T_TIMEOUT} LABELS "unit;host;${T_LABELS}")
  elseif(T_PORTABLE)
    add_executable(${exe} ${T_SOURCES} ${PROJECT_SOURCE_DIR}/tests/support/cmocka_lite.c)
    target_include_directories(${exe} PRIVATE ${PROJECT_SOURCE_DIR}/tests/support)
    target_compile_definitions(${exe} PRIVATE TERN_TEST_LITE=1)
    target_link_libraries(${exe} PRIVATE ${T_LIBS} tern)
    tern_cortex_m_executable(${exe})
    add_test(NAME qemu.${name} COMMAND ${exe})
    set_tests_properties(qemu.${name} PROPERTIES TIMEOUT ${T_TIMEOUT} LABELS "unit;qemu;${T_LABELS}")
  endif()
endfunction()

function(tern_add_integration_test name)
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  if(NOT TERN_PORT STREQUAL "posix")
    return()
  endif()
  string(REPLACE "." "_" exe "itest_${name}")
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  _tern_host_test_executable(${exe} SOURCES ${T_SOURCES} LIBS ${T_LIBS} tern_test_support)
  add_test(NAME integration.${name} COMMAND ${exe})
  set_tests_properties(integration.${name} PROPERTIES TIMEOUT ${T_TIMEOUT}
    LABELS "integration;host;${T_LABELS}")
endfunction()
