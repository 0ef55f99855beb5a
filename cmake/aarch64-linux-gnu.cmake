# Cross build for aarch64 Linux with Debian's cross toolchain (crossbuild-essential-arm64) and the arm64 -dev
# packages installed through multiarch (dpkg --add-architecture arm64): scripts/test-arm64.sh sets it all up.
#   cmake -S . -B build-arm64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake
# Tests run under qemu-aarch64 (user mode) through CMAKE_CROSSCOMPILING_EMULATOR.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
# Libraries and CMake packages from the arm64 multiarch directories only; headers are shared (/usr/include).
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_IGNORE_PATH /usr/lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu/cmake /lib/x86_64-linux-gnu)
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")
# No -L / QEMU_LD_PREFIX: the arm64 loader and libc come from multiarch (libc6:arm64, /lib/ld-linux-aarch64.so.1)
# together with the other arm64 libraries; the cross toolchain's own sysroot (/usr/aarch64-linux-gnu) holds a
# second libc build, and mixing its loader with multiarch libraries hangs every thread start under qemu.
find_program(LLM_QEMU_AARCH64 qemu-aarch64)
if(LLM_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR "${LLM_QEMU_AARCH64}")
endif()
