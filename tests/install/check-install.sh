#!/bin/sh
# Installs the build into a temporary prefix and builds a small consumer program against the
# installed copy, the ways users do:
#   1. pkg-config --cflags --libs nnprobe            (shared library)
#   2. pkg-config --static --libs nnprobe            (static library: checks the .pc's private deps)
#   3. find_package(nnprobe CONFIG) + nnprobe::nnprobe         (CMake, shared)
#   4. find_package(nnprobe CONFIG) + nnprobe::nnprobe_static  (CMake, static)
# Each binary must run, pass its own checks, and print the same output as the others.
# Also checks the installed layout and that no installed file points into the build or source tree.
#
# usage: check-install.sh BUILD_DIR WORK_DIR LIBDIR INCLUDEDIR VERSION
#   LIBDIR, INCLUDEDIR: CMAKE_INSTALL_LIBDIR/INCLUDEDIR of the build (relative to the prefix)
# env:   CMAKE, CC, PKG_CONFIG (defaults cmake, cc, pkg-config); NNP_CONFIG (build config, may be empty)
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
PKG_CONFIG=${PKG_CONFIG:-pkg-config}

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

# The installed .pc says prefix=<configured CMAKE_INSTALL_PREFIX>. Use a copy whose prefix is the
# temporary one (libdir and includedir are ${prefix}-relative, so they follow). Not
# --define-variable=prefix: that would also move the prefix of zlib.pc and the other dependencies.
step "pkg-config"
for v in libdir includedir; do
    # shellcheck disable=SC2016 # a literal ${prefix} is what the .pc must contain
    grep -q "^$v="'${prefix}/' "$prefix/$libdir/pkgconfig/nnprobe.pc" ||
        fail "nnprobe.pc: $v is not relative to \${prefix}"
done
mkdir -p "$work/pkgconfig"
sed "s|^prefix=.*|prefix=$prefix|" "$prefix/$libdir/pkgconfig/nnprobe.pc" >"$work/pkgconfig/nnprobe.pc"
pc() {
    PKG_CONFIG_PATH="$work/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}" "$PKG_CONFIG" "$@"
}
pc --exists nnprobe || fail "pkg-config does not find nnprobe"
[ "$(pc --modversion nnprobe)" = "$version" ] || fail "pkg-config version $(pc --modversion nnprobe) != $version"
cflags=$(pc --cflags nnprobe)
libs=$(pc --libs nnprobe)
slibs=$(pc --static --libs nnprobe)
echo "   cflags: $cflags"
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

step "find_package(nnprobe CONFIG)"
set -- -S "$here" -B "$work/cmake-build" -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_C_COMPILER="$CC" -DNNP_EXPECT_VERSION="$version"
[ -n "${NNP_CONFIG:-}" ] && set -- "$@" -DCMAKE_BUILD_TYPE="$NNP_CONFIG"
"$CMAKE" "$@" >"$work/cmake-configure.log" 2>&1 ||
    { cat "$work/cmake-configure.log"; fail "configuring the CMake consumer"; }
found=$(sed -n 's/^nnprobe_DIR:PATH=//p' "$work/cmake-build/CMakeCache.txt")
[ "$found" = "$prefix/$libdir/cmake/nnprobe" ] ||
    fail "find_package found nnprobe in '$found', not in the temporary prefix"
"$CMAKE" --build "$work/cmake-build" >"$work/cmake-build.log" 2>&1 ||
    { cat "$work/cmake-build.log"; fail "building the CMake consumer"; }

step "run the consumers"
export LD_LIBRARY_PATH="$prefix/$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
for exe in consumer-pc consumer-pc-static cmake-build/consumer_shared cmake-build/consumer_static; do
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
for name in consumer-pc-static consumer_shared consumer_static; do
    cmp -s "$work/consumer-pc.out" "$work/$name.out" || fail "$name's output differs from consumer-pc's"
done
grep -q "^nnprobe $version " "$work/consumer-pc.out" || fail "consumer reports another version"

echo "ok: installed package works with pkg-config and find_package (shared and static)"
