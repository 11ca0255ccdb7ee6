# SPDX-License-Identifier: Apache-2.0
#
# Cross build for the Cortex-M port: Arm GNU toolchain (arm-none-eabi-gcc,
# newlib) for a Cortex-M4F, tests run under qemu-system-arm (MPS2 AN386).
#
#   cmake -S . -B build-cm -DCMAKE_TOOLCHAIN_FILE=cmake/arm-none-eabi.cmake
#
# CMAKE_SYSTEM_NAME Generic selects TERN_PORT=cortex-m (top-level CMakeLists.txt).
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)

set(CMAKE_C_COMPILER arm-none-eabi-gcc)
set(CMAKE_ASM_COMPILER arm-none-eabi-gcc)
# No OS to link a test program against: check the compiler with a static library.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

set(_tern_cm_cpu "-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16")
set(CMAKE_C_FLAGS_INIT "${_tern_cm_cpu} -ffunction-sections -fdata-sections")
set(CMAKE_ASM_FLAGS_INIT "${_tern_cm_cpu}")
set(CMAKE_EXE_LINKER_FLAGS_INIT "-Wl,--gc-sections")

# Headers and libraries come from the toolchain, programs from the host.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# add_test(NAME x COMMAND <executable target>) runs the ELF on the emulated board;
# the test's exit code is the firmware's (semihosting).
get_filename_component(CMAKE_CROSSCOMPILING_EMULATOR
  "${CMAKE_CURRENT_LIST_DIR}/../ports/cortex-m/qemu-run.sh" ABSOLUTE)
