#!/bin/sh
# Installs the build into a temporary prefix and builds a small consumer program against the
# installed copy, the ways users do:
#   1. pkg-config --cflags --libs nnprobe            (shared library)
#   2. pkg-config --static --libs nnprobe            (static library: checks the .pc's private deps)
#   3. find_package(nnprobe CONFIG) + nnprobe::nnprobe         (CMake, shared)
#   4. find_package(nnprobe CONFIG) + nnprobe::nnprobe_static  (CMake, static)
#   5. a C++17 consumer (consumer.cpp) with -Wall -Wextra -pedantic -Werror, through
#      pkg-config and find_package (skipped with a note if there is no C++ compiler)
#   6. the Python binding (python/) finding the installed library through nnprobe.pc
#      (skipped with a note without /usr/bin/python3 and NumPy)
# Each binary must run, pass its own checks, and print the same output as the others.
# Also checks the installed layout, that no installed file points into the build or source
# tree, and that the installed nnprobe.pc is relocatable: used as installed (no prefix
# rewriting) it points into the temporary prefix, and still works after the whole installed
# tree is moved elsewhere.
#
# usage: check-install.sh BUILD_DIR WORK_DIR LIBDIR INCLUDEDIR VERSION
#   LIBDIR, INCLUDEDIR: CMAKE_INSTALL_LIBDIR/INCLUDEDIR of the build (relative to the prefix)
# env:   CMAKE, CC, CXX, PKG_CONFIG (defaults cmake, cc, c++, pkg-config); NNP_CONFIG (build
#        config, may be empty)
# exit:  0 pass, 1 fail, 77 skipped (ctest SKIP_RETURN_CODE)
set -eu

if [ $# -ne 5 ]; then
    echo "usage: $0 BUILD_DIR WORK_DIR LIBDIR INCLUDEDIR VERSION" >&2
    exit 2
fi
build=$(cd "$1" && pwd)
work=$2
libdir=$3
incdir=$4
version=$5
here=$(cd "$(dirname "$0")" && pwd)
srcroot=$(cd "$here/../.." && pwd)
CMAKE=${CMAKE:-cmake}
CC=${CC:-cc}
CXX=${CXX:-c++}
PKG_CONFIG=${PKG_CONFIG:-pkg-config}
has_cxx=0
command -v "$CXX" >/dev/null 2>&1 && has_cxx=1

case "$libdir$incdir" in
    /*) echo "SKIP: absolute CMAKE_INSTALL_LIBDIR/INCLUDEDIR cannot be redirected to a temporary prefix"
        exit 77 ;;
esac

fail() { echo "FAIL: $*"; exit 1; }
step() { echo "== $*"; }

rm -rf "$work"
mkdir -p "$work"
work=$(cd "$work" && pwd)
prefix=$work/prefix

step "cmake --install into $prefix"
set -- --install "$build" --prefix "$prefix"
[ -n "${NNP_CONFIG:-}" ] && set -- "$@" --config "$NNP_CONFIG"
"$CMAKE" "$@" >"$work/install.log" 2>&1 || { cat "$work/install.log"; fail "cmake --install"; }

step "installed layout"
for f in "$incdir/nnprobe/nnprobe.h" "$incdir/nnprobe/version.h" "$incdir/nnprobe/export.h" \
         "$libdir/libnnprobe.so.0" "$libdir/libnnprobe.so" "$libdir/libnnprobe.a" \
         "$libdir/pkgconfig/nnprobe.pc" \
         "$libdir/cmake/nnprobe/nnprobeConfig.cmake" \
         "$libdir/cmake/nnprobe/nnprobeConfigVersion.cmake" \
         "$libdir/cmake/nnprobe/nnprobeTargets.cmake"; do
    [ -e "$prefix/$f" ] || fail "not installed: $f"
done
# Headers of the source tree only (no internal lib/ headers), plus the generated version.h.
for h in "$prefix/$incdir"/nnprobe/*.h; do
    b=$(basename "$h")
    [ -f "$srcroot/include/nnprobe/$b" ] || [ "$b" = version.h ] || fail "unexpected installed header $b"
done
# A relocatable package must not mention where it was built.
if grep -rlF -e "$build" -e "$srcroot/" "$prefix/$libdir/cmake" "$prefix/$libdir/pkgconfig" \
       "$prefix/$incdir" >"$work/leaks" 2>/dev/null; then
    sed 's/^/    /' "$work/leaks"
    fail "installed files refer to the build or source tree"
fi

# The installed .pc is used as installed: its prefix comes from its own location
# (${pcfiledir}), so it points into the temporary prefix without any rewriting.
step "pkg-config (the installed nnprobe.pc, relocatable)"
pcfile=$prefix/$libdir/pkgconfig/nnprobe.pc
# shellcheck disable=SC2016 # a literal ${pcfiledir} is what the .pc must contain
grep -q '^prefix=${pcfiledir}/' "$pcfile" || fail "nnprobe.pc: prefix is not derived from \${pcfiledir}"
for v in libdir includedir; do
    # shellcheck disable=SC2016 # a literal ${prefix} is what the .pc must contain
    grep -q "^$v="'${prefix}/' "$pcfile" || fail "nnprobe.pc: $v is not relative to \${prefix}"
done
pc() {
    PKG_CONFIG_PATH="$prefix/$libdir/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}" "$PKG_CONFIG" "$@"
}
for v in prefix libdir includedir; do
    got=$(pc --variable=$v nnprobe)
    [ -d "$got" ] || fail "pkg-config --variable=$v: '$got' is not a directory"
done
[ "$(cd "$(pc --variable=prefix nnprobe)" && pwd -P)" = "$(cd "$prefix" && pwd -P)" ] ||
    fail "pkg-config --variable=prefix ($(pc --variable=prefix nnprobe)) is not $prefix"
[ "$(cd "$(pc --variable=includedir nnprobe)" && pwd -P)" = "$(cd "$prefix/$incdir" && pwd -P)" ] ||
    fail "pkg-config --variable=includedir is not $prefix/$incdir"
pc --exists nnprobe || fail "pkg-config does not find nnprobe"
[ "$(pc --modversion nnprobe)" = "$version" ] || fail "pkg-config version $(pc --modversion nnprobe) != $version"
cflags=$(pc --cflags nnprobe)
libs=$(pc --libs nnprobe)
slibs=$(pc --static --libs nnprobe)
echo "   cflags: $cflags"
# Nothing more than the installed headers' directory: the public headers include no header
# of the dependencies, so their include paths must not leak into consumers' compile lines.
# shellcheck disable=SC2086 # word splitting drops pkg-config's trailing blank
[ "$(echo $cflags)" = "-I$(pc --variable=includedir nnprobe)" ] ||
    fail "pkg-config --cflags nnprobe gives more than -I<includedir>: '$cflags'"
echo "   libs:   $libs"
echo "   static: $slibs"
strict="-std=c11 -Wall -Wextra -Wpedantic -Werror"
# shellcheck disable=SC2086 # flags from pkg-config are meant to be split
"$CC" $strict $cflags "$here/consumer.c" -o "$work/consumer-pc" $libs ||
    fail "building with pkg-config --cflags --libs"
# Static: the same flags, with libnnprobe.a in place of -lnnprobe.
slibs_a=""
for w in $slibs; do
    [ "$w" = -lnnprobe ] && w=$prefix/$libdir/libnnprobe.a
    slibs_a="$slibs_a $w"
done
# shellcheck disable=SC2086
"$CC" $strict $cflags "$here/consumer.c" -o "$work/consumer-pc-static" $slibs_a ||
    fail "building with pkg-config --static --libs"

strictxx="-std=c++17 -Wall -Wextra -pedantic -Werror"
if [ "$has_cxx" = 1 ]; then
    # shellcheck disable=SC2086
    "$CXX" $strictxx $cflags "$here/consumer.cpp" -o "$work/consumer-pc-cxx" $libs ||
        fail "building the C++17 consumer with pkg-config --cflags --libs"
else
    echo "   NOTE: no C++ compiler ($CXX): the C++17 consumer is not built"
fi

step "find_package(nnprobe CONFIG)"
set -- -S "$here" -B "$work/cmake-build" -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_C_COMPILER="$CC" -DNNP_EXPECT_VERSION="$version"
[ -n "${NNP_CONFIG:-}" ] && set -- "$@" -DCMAKE_BUILD_TYPE="$NNP_CONFIG"
[ "$has_cxx" = 1 ] && set -- "$@" -DNNP_CONSUMER_CXX=ON -DCMAKE_CXX_COMPILER="$(command -v "$CXX")"
"$CMAKE" "$@" >"$work/cmake-configure.log" 2>&1 ||
    { cat "$work/cmake-configure.log"; fail "configuring the CMake consumer"; }
found=$(sed -n 's/^nnprobe_DIR:PATH=//p' "$work/cmake-build/CMakeCache.txt")
[ "$found" = "$prefix/$libdir/cmake/nnprobe" ] ||
    fail "find_package found nnprobe in '$found', not in the temporary prefix"
"$CMAKE" --build "$work/cmake-build" >"$work/cmake-build.log" 2>&1 ||
    { cat "$work/cmake-build.log"; fail "building the CMake consumer"; }

step "run the consumers"
export LD_LIBRARY_PATH="$prefix/$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
exes="consumer-pc consumer-pc-static cmake-build/consumer_shared cmake-build/consumer_static"
[ "$has_cxx" = 1 ] && exes="$exes consumer-pc-cxx cmake-build/consumer_cxx"
for exe in $exes; do
    name=$(basename "$exe")
    # The shared variants must load the installed library; the static ones must not need it.
    if command -v ldd >/dev/null 2>&1; then
        so=$(ldd "$work/$exe" | awk '$1 == "libnnprobe.so.0" { print $3 }')
        case "$name" in
            *static) [ -z "$so" ] || fail "$name links libnnprobe.so.0 ($so)" ;;
            *) [ "$so" = "$prefix/$libdir/libnnprobe.so.0" ] ||
                   fail "$name loads libnnprobe.so.0 from '${so:-nowhere}'" ;;
        esac
    fi
    "$work/$exe" >"$work/$name.out" || fail "$name exited with status $?"
    printf '   %-20s %s\n' "$name:" "$(tr '\n' ' ' <"$work/$name.out")"
done
others="consumer-pc-static consumer_shared consumer_static"
[ "$has_cxx" = 1 ] && others="$others consumer-pc-cxx consumer_cxx"
for name in $others; do
    cmp -s "$work/consumer-pc.out" "$work/$name.out" || fail "$name's output differs from consumer-pc's"
done
grep -q "^nnprobe $version " "$work/consumer-pc.out" || fail "consumer reports another version"

# The Python binding finds the installed library through the installed nnprobe.pc.
py=${NNP_PYTHON:-/usr/bin/python3}
if [ -x "$py" ] && "$py" -c 'import numpy' 2>/dev/null; then
    step "Python binding: library found through pkg-config"
    got=$(cd "$work" && env -u NNPROBE_LIBRARY PYTHONDONTWRITEBYTECODE=1 PYTHONPATH="$srcroot/python" \
        PKG_CONFIG_PATH="$prefix/$libdir/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}" \
        "$py" -c 'import nnprobe; print(nnprobe.library_origin, nnprobe.library_path, nnprobe.library_version)') ||
        fail "python3 -c 'import nnprobe' with the installed nnprobe.pc"
    echo "   $got"
    set -- $got
    [ "$1" = pkg-config ] || fail "the binding found the library through '$1', not pkg-config"
    [ "$(cd "$(dirname "$2")" && pwd -P)" = "$(cd "$prefix/$libdir" && pwd -P)" ] ||
        fail "the binding loaded $2, not the installed library"
    [ "$3" = "$version" ] || fail "the binding reports library version $3"
else
    echo "   NOTE: $py with numpy not found: the Python binding's pkg-config lookup is not checked"
fi

# Relocation: move the whole installed tree; its nnprobe.pc must follow, with no rewriting.
step "relocated install (the prefix moved after installing)"
moved=$work/moved/elsewhere
mkdir -p "$work/moved"
mv "$prefix" "$moved"
mpc() {
    PKG_CONFIG_PATH="$moved/$libdir/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}" "$PKG_CONFIG" "$@"
}
[ "$(cd "$(mpc --variable=includedir nnprobe)" && pwd -P)" = "$(cd "$moved/$incdir" && pwd -P)" ] ||
    fail "after moving the prefix, pkg-config's includedir does not follow"
# shellcheck disable=SC2046
"$CC" $strict $(mpc --cflags nnprobe) "$here/consumer.c" -o "$work/consumer-moved" \
    $(mpc --libs nnprobe) || fail "building against the moved install with pkg-config"
LD_LIBRARY_PATH="$moved/$libdir" "$work/consumer-moved" >"$work/consumer-moved.out" ||
    fail "consumer-moved exited with status $?"
cmp -s "$work/consumer-pc.out" "$work/consumer-moved.out" || fail "consumer-moved's output differs"
mv "$moved" "$prefix"

echo "ok: installed package works with pkg-config and find_package (shared, static, C++17), and is relocatable"
