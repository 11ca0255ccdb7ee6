# SPDX-License-Identifier: Apache-2.0
# One warning policy for every target in the tree: all warnings are errors.
add_compile_options(
  -Wall -Wextra -Werror
  -Wshadow -Wpointer-arith -Wstrict-prototypes -Wmissing-prototypes
  -Wundef -Wvla -Wformat=2 -Wcast-align
)
