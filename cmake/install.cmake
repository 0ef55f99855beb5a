# The installed library: libllm.so and libllm.a built from the objects of the library areas (not recompiled),
# the public headers (include/llm/), a CMake package (find_package(llm) -> llm::llm, llm::llm_static), llm.pc and
# the tools. The server (llm_server, llm-serve's HTTP side) is not part of the installed library.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(LLM_LIB_AREAS core quant cpu formats chat tokenizer hub forward models constrain)
if(TARGET llm_vulkan)
  list(APPEND LLM_LIB_AREAS vulkan)
endif()
set(LLM_LIB_OBJECTS)
foreach(area ${LLM_LIB_AREAS})
  list(APPEND LLM_LIB_OBJECTS $<TARGET_OBJECTS:llm_${area}>)
endforeach()
# What the objects need from outside (the areas' external DEPS).
set(LLM_LIB_EXTERNAL fmt::fmt ${LLM_OPENMP_DEPS} PkgConfig::PCRE2 PkgConfig::UTF8PROC CURL::libcurl
    ${LLM_BLAS_DEPS} ${LLM_CRYPTO_DEPS} ${CMAKE_DL_LIBS})

add_library(llm_shared SHARED ${LLM_LIB_OBJECTS})
set_target_properties(llm_shared PROPERTIES OUTPUT_NAME llm VERSION ${PROJECT_VERSION}
                      SOVERSION ${PROJECT_VERSION_MAJOR})
target_link_libraries(llm_shared PRIVATE ${LLM_LIB_EXTERNAL})
# Every symbol resolved at link time, except in sanitizer builds: clang links its sanitizer runtimes into
# executables only, so a shared library's references to them stay open until an executable loads it.
if(NOT (LLM_SANITIZE OR LLM_TSAN OR LLM_FUZZ))
  target_link_options(llm_shared PRIVATE -Wl,--no-undefined)
endif()
add_library(llm_static STATIC ${LLM_LIB_OBJECTS})
set_target_properties(llm_static PROPERTIES OUTPUT_NAME llm)
foreach(t llm_shared llm_static)
  target_include_directories(${t} INTERFACE $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>)
endforeach()

# Link lines for a static consumer: the libraries behind the imported targets, as the linker wants them.
set(LLM_PC_LIBS_PRIVATE "-lfmt -lpcre2-8 -lutf8proc -lcurl")
set(LLM_CMAKE_STATIC_DEPS "fmt;pcre2-8;utf8proc;curl")
if(OPENBLAS_FOUND)
  string(APPEND LLM_PC_LIBS_PRIVATE " -lopenblas")
  list(APPEND LLM_CMAKE_STATIC_DEPS openblas)
endif()
if(OPENSSL_FOUND)
  string(APPEND LLM_PC_LIBS_PRIVATE " -lcrypto")
  list(APPEND LLM_CMAKE_STATIC_DEPS crypto)
endif()
if(LLM_OPENMP)
  string(APPEND LLM_PC_LIBS_PRIVATE " -fopenmp")
  list(APPEND LLM_CMAKE_STATIC_DEPS -fopenmp)
endif()
string(APPEND LLM_PC_LIBS_PRIVATE " -ldl -lpthread")
list(APPEND LLM_CMAKE_STATIC_DEPS dl pthread)

install(DIRECTORY include/llm DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} FILES_MATCHING PATTERN "*.h" PATTERN "*.hpp")
install(TARGETS llm_shared llm_static
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
set(LLM_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/llm)
configure_file(cmake/llmConfig.cmake.in ${CMAKE_CURRENT_BINARY_DIR}/llmConfig.cmake @ONLY)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/llmConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/llmConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/llmConfigVersion.cmake
        DESTINATION ${LLM_CMAKE_DIR})
configure_file(cmake/llm.pc.in ${CMAKE_CURRENT_BINARY_DIR}/llm.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/llm.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
