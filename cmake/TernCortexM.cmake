# SPDX-License-Identifier: Apache-2.0
#
# tern_cortex_m_executable(<target>)
#
# Link <target> (an add_executable target whose sources define main()) for
# the MPS2 AN386 board: startup objects, the port, newlib-nano, the linker
# script. The result is <target>.elf, with <target>.map and <target>.size
# (text/data/bss) next to it; the size is also printed when it is built.
#
# Used in-tree (ports/cortex-m/CMakeLists.txt) and from the installed package
# (ternConfig.cmake), which set TERN_CM_LINKER_SCRIPT, TERN_CM_STARTUP_TARGET
# and TERN_CM_PORT_TARGET first.
find_program(TERN_CM_SIZE NAMES arm-none-eabi-size REQUIRED)

function(tern_cortex_m_executable target)
  target_link_libraries(${target} PRIVATE ${TERN_CM_STARTUP_TARGET} ${TERN_CM_PORT_TARGET})
  target_link_options(${target} PRIVATE
    -T${TERN_CM_LINKER_SCRIPT}
    --specs=nano.specs
    -nostartfiles
    -Wl,-Map=$<TARGET_FILE_DIR:${target}>/${target}.map)
  set_target_properties(${target} PROPERTIES SUFFIX .elf LINK_DEPENDS ${TERN_CM_LINKER_SCRIPT})
  add_custom_command(TARGET ${target} POST_BUILD
    COMMAND sh -c "\"$0\" \"$1\" | tee \"$2\"" ${TERN_CM_SIZE} $<TARGET_FILE:${target}>
            $<TARGET_FILE_DIR:${target}>/${target}.size
    VERBATIM)
endfunction()
