# Warnings, sanitizers and hardening shared by every target of the project.
set(BPT_WARNING_FLAGS -Wall -Wextra -Wpedantic -Wshadow -Wformat=2 -Wstrict-prototypes
    -Wmissing-prototypes -Wvla -Wundef)
if(BPT_WERROR)
  list(APPEND BPT_WARNING_FLAGS -Werror)
endif()

if(BPT_SANITIZE)
  add_compile_options(-fsanitize=${BPT_SANITIZE} -fno-sanitize-recover=all -fno-omit-frame-pointer)
  add_link_options(-fsanitize=${BPT_SANITIZE})
endif()
if(BPT_FUZZ)
  add_compile_options(-fsanitize=fuzzer-no-link)
  add_compile_definitions(BPT_FUZZING=1)
endif()
if(CMAKE_BUILD_TYPE STREQUAL "Release")
  add_compile_options(-fstack-protector-strong -D_FORTIFY_SOURCE=2)
endif()

function(bpt_target_warnings target)
  target_compile_options(${target} PRIVATE ${BPT_WARNING_FLAGS})
endfunction()
