# pong_link_dependencies_statically(ROOTS...): links gRPC, protobuf, abseil and what they
# pull in (upb, gpr, address_sorting, re2, c-ares, zlib) from the distribution's static
# archives instead of its shared libraries, for every target of this build.
#
# Why: a pong-server that maps ~70 shared libraries keeps ~15 MiB of their pages resident
# and a pong-cli spends milliseconds in the dynamic loader before main(); from the
# archives only the code pong uses is linked (docs/PERFORMANCE.md, "Static-link and
# send-lead round": both servers 32.8 -> 24.1 MiB idle).
# OpenSSL stays shared so that its security updates apply without a rebuild.
#
# The packages' imported targets stay as they are, with their dependency graph; only
# where each one's file is changes, from lib<name>.so.N to lib<name>.a beside it. When
# an archive is missing (another distribution, a pkg-config gRPC), nothing changes and
# the build links the shared libraries as before; configure's output says which.

function(_pong_collect_imported target)
  if(NOT TARGET ${target})
    return()
  endif()
  get_property(seen GLOBAL PROPERTY _PONG_STATIC_SEEN)
  if(target IN_LIST seen)
    return()
  endif()
  set_property(GLOBAL APPEND PROPERTY _PONG_STATIC_SEEN ${target})
  get_target_property(deps ${target} INTERFACE_LINK_LIBRARIES)
  foreach(dep IN LISTS deps)
    if(dep AND NOT dep MATCHES "^\\$<")
      _pong_collect_imported(${dep})
    endif()
  endforeach()
endfunction()

# The properties that name a target's file: the plain one and one per configuration.
function(_pong_location_properties target out)
  set(props IMPORTED_LOCATION)
  get_target_property(configs ${target} IMPORTED_CONFIGURATIONS)
  foreach(config IN LISTS configs)
    if(config)
      string(TOUPPER "${config}" config)
      list(APPEND props IMPORTED_LOCATION_${config})
    endif()
  endforeach()
  set(${out} ${props} PARENT_SCOPE)
endfunction()

function(pong_link_dependencies_statically)
  set_property(GLOBAL PROPERTY _PONG_STATIC_SEEN "")
  foreach(root IN LISTS ARGN)
    _pong_collect_imported(${root})
  endforeach()
  get_property(closure GLOBAL PROPERTY _PONG_STATIC_SEEN)

  # First find every archive; change nothing unless all of them are there.
  set(changes "")
  set(missing "")
  foreach(target IN LISTS closure)
    get_target_property(imported ${target} IMPORTED)
    get_target_property(type ${target} TYPE)
    if(NOT imported OR target MATCHES "^(OpenSSL|Threads)::")
      continue()
    endif()
    if(type STREQUAL "INTERFACE_LIBRARY")
      # A target made from pkg-config's flags (re2 where it has no CMake config) names
      # its libraries as -l<name>; each with an archive becomes that archive's path.
      # The others (-latomic, a compiler runtime) stay as they are.
      get_target_property(items ${target} INTERFACE_LINK_LIBRARIES)
      set(rewritten "")
      foreach(item IN LISTS items)
        if(item MATCHES "^-l(.+)$")
          set(name "${CMAKE_MATCH_1}")
          if(NOT name MATCHES "^(pthread|dl|m|rt|ssl|crypto|atomic)$")
            find_library(PONG_ARCHIVE_${name} NAMES lib${name}.a)
            if(PONG_ARCHIVE_${name})
              set(item "${PONG_ARCHIVE_${name}}")
            endif()
          endif()
        endif()
        list(APPEND rewritten "${item}")
      endforeach()
      if(items AND NOT items STREQUAL rewritten)
        # The new list is kept whole in a variable of its own: its items may hold any
        # character (abseil's pkg-config gives "-Wl,--push-state,--as-needed").
        list(LENGTH changes index)
        set(_pong_value_${index} "${rewritten}")
        list(APPEND changes "${target}|INTERFACE_LINK_LIBRARIES|${index}")
      endif()
      continue()
    endif()
    _pong_location_properties(${target} props)
    foreach(prop IN LISTS props)
      get_target_property(location ${target} ${prop})
      if(NOT location)
        continue()
      endif()
      string(REGEX REPLACE "\\.so(\\.[0-9.]*)?$" ".a" archive "${location}")
      if(archive STREQUAL location OR NOT EXISTS "${archive}")
        list(APPEND missing "${location}")
      else()
        list(LENGTH changes index)
        set(_pong_value_${index} "${archive}")
        list(APPEND changes "${target}|${prop}|${index}")
      endif()
    endforeach()
  endforeach()

  if(missing OR NOT changes)
    list(JOIN missing ", " missing)
    message(STATUS "pong: linking gRPC, protobuf and abseil as shared libraries "
                   "(no static archive for: ${missing})")
    return()
  endif()
  foreach(change IN LISTS changes)
    string(REPLACE "|" ";" change "${change}")
    list(GET change 0 target)
    list(GET change 1 prop)
    list(GET change 2 index)
    set_target_properties(${target} PROPERTIES ${prop} "${_pong_value_${index}}")
  endforeach()
  list(LENGTH changes count)
  message(STATUS "pong: linking gRPC, protobuf and abseil from ${count} static archives")
endfunction()
