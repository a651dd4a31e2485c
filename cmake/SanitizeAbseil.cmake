# Makes a sanitizer build (PONG_SANITIZE, or the fuzz targets' ASan+UBSan) agree with the
# distribution's abseil, which is built without sanitizers.
#
# 1. From 20230125 on, abseil's headers give every swisstable an extra "generation" field
#    when they see ASan or MSan, while Debian's libabsl_raw_hash_set.so was compiled
#    without it: the two then disagree on a table's layout (abseil 20240722 on Debian 13:
#    UBSan reports a bad GenerationType load on the first find()). NDEBUG_SANITIZER is
#    abseil's own switch that keeps generations off; older abseil ignores it.
# 2. GCC cannot fold a function pointer compared with nullptr in a constant expression
#    once -fsanitize=null instruments it (GCC PR 71962, abseil-cpp issue 1634), and
#    abseil 20240722's hash_policy_traits.h does exactly that: any flat_hash_map fails to
#    compile under -fsanitize=undefined. Where a test program shows that, the null
#    pointer checks (null, nonnull-attribute, returns-nonnull-attribute) are left out of
#    UBSan and every other check stays. A null dereference still stops the run: ASan
#    reports it as a SEGV on address 0x0.
if(PONG_SANITIZE OR PONG_FUZZ)
  add_compile_definitions(NDEBUG_SANITIZER)
endif()

if(PONG_SANITIZE MATCHES "undefined" AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  include(CheckCXXSourceCompiles)
  set(CMAKE_REQUIRED_FLAGS "-fsanitize=${PONG_SANITIZE}")
  set(CMAKE_REQUIRED_LINK_OPTIONS "-fsanitize=${PONG_SANITIZE}")
  set(CMAKE_REQUIRED_LIBRARIES absl::flat_hash_map)
  set(CMAKE_REQUIRED_QUIET ON)
  check_cxx_source_compiles([[
    #include <string>
    #include "absl/container/flat_hash_map.h"
    int main() {
      absl::flat_hash_map<std::string, int> map;
      map["ball"] = 1;
      return map.find("ball") == map.end() ? 1 : 0;
    }]] PONG_UBSAN_COMPILES_ABSEIL)
  unset(CMAKE_REQUIRED_FLAGS)
  unset(CMAKE_REQUIRED_LINK_OPTIONS)
  unset(CMAKE_REQUIRED_LIBRARIES)
  unset(CMAKE_REQUIRED_QUIET)
  if(NOT PONG_UBSAN_COMPILES_ABSEIL)
    message(STATUS "pong: GCC's UBSan cannot compile abseil's hash tables here (GCC PR 71962): "
                   "UBSan without its null pointer checks; ASan still catches null dereferences")
    add_compile_options(-fno-sanitize=null,nonnull-attribute,returns-nonnull-attribute)
  endif()
endif()
