#!/usr/bin/env bash
# The Debian package's install test (issue 20), as root on Debian 12: builds the GUI configuration's
# programs, makes the .deb with `cpack -G DEB`, checks it (no RPATH/RUNPATH in the installed ELF files,
# the desktop entry, the AppStream metainfo, lintian: 0 errors, warnings listed), installs it with
# `apt-get install ./den2moe-studio_*.deb`, runs from /usr/bin `den2moe info` on the demo model, a
# random-split conversion and the app's headless routing screenshot of it, then purges the package and
# checks that nothing of it is left. Build folder: $D2M_DEB_BUILD (default build/). Exit 0 = all passed.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/common.sh
BUILD=${D2M_DEB_BUILD:-build}
fail() { echo "test_deb: FAIL: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || fail "run as root (apt-get install / purge)"
[ -d "$D2M_SHARED_DIR/models/demo-llama-7m" ] || fail "the demo model is not at $D2M_SHARED_DIR/models (set D2M_SHARED_DIR)"

phase "tools (help2man, lintian, appstream, desktop-file-utils)"
need=()
for p in help2man lintian appstream desktop-file-utils; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then apt-get install -y --no-install-recommends "${need[@]}" >/dev/null; fi

phase "build ($BUILD: den2moe, den2moe-studio, spm_shim)"
[ -f "$BUILD/CMakeCache.txt" ] || configure "$BUILD" ON OFF OFF
cmake "$BUILD" >/dev/null   # picks up packaging/ changes
ninja -C "$BUILD" -j"${D2M_JOBS}" den2moe den2moe-studio spm_shim

phase "cpack -G DEB"
rm -f "$BUILD"/den2moe-studio_*.deb
(cd "$BUILD" && cpack -G DEB >/dev/null)
DEB=$(ls "$BUILD"/den2moe-studio_*_amd64.deb)
echo "package: $DEB ($(du -h "$DEB" | cut -f1))"
dpkg-deb -I "$DEB" | sed -n '/Package:/,$p'
X=$(mktemp -d /tmp/d2m-deb-XXXXXX)
trap 'rm -rf "$X"' EXIT
dpkg-deb -x "$DEB" "$X/root"
for f in usr/bin/den2moe usr/bin/den2moe-studio usr/lib/den2moe/libspm_shim.so \
         usr/share/applications/org.den2moe.Studio.desktop usr/share/metainfo/org.den2moe.Studio.metainfo.xml \
         usr/share/icons/hicolor/scalable/apps/org.den2moe.Studio.svg \
         usr/share/icons/hicolor/256x256/apps/org.den2moe.Studio.png usr/share/man/man1/den2moe.1.gz \
         usr/share/man/man1/den2moe-studio.1.gz usr/share/doc/den2moe-studio/copyright \
         usr/share/doc/den2moe-studio/changelog.Debian.gz usr/share/den2moe/projects/demo.den2moe.json; do
  [ -e "$X/root/$f" ] || fail "the package lacks /$f"
done
for f in usr/bin/den2moe usr/bin/den2moe-studio usr/lib/den2moe/libspm_shim.so; do
  if readelf -d "$X/root/$f" | grep -E 'RPATH|RUNPATH'; then fail "/$f carries an RPATH/RUNPATH"; fi
done
echo "no RPATH/RUNPATH in the installed ELF files"
# read the page whole first: `zcat | grep -q` under pipefail fails when grep stops reading before zcat is done
man_page=$(zcat "$X/root/usr/share/man/man1/den2moe.1.gz")
grep -q '^\.SS den2moe convert' <<<"$man_page" || fail "den2moe(1) lacks the commands"
desktop-file-validate "$X/root/usr/share/applications/org.den2moe.Studio.desktop"
appstreamcli validate --no-net "$X/root/usr/share/metainfo/org.den2moe.Studio.metainfo.xml"

phase "lintian"
set +e
lintian --tag-display-limit 0 "$DEB" > "$X/lintian.txt" 2>&1
set -e
cat "$X/lintian.txt"
errors=$(grep -c '^E:' "$X/lintian.txt" || true)
warnings=$(grep -c '^W:' "$X/lintian.txt" || true)
echo "lintian: $errors errors, $warnings warnings"
[ "$errors" -eq 0 ] || fail "lintian reports $errors errors"

phase "apt-get install ./$(basename "$DEB")"
dpkg -s den2moe-studio >/dev/null 2>&1 && apt-get purge -y den2moe-studio >/dev/null
apt-get install -y "./$DEB" >/dev/null
[ "$(command -v den2moe)" = /usr/bin/den2moe ] || fail "den2moe is not /usr/bin/den2moe"

phase "run from /usr/bin (outside the source tree)"
cd "$X"
/usr/bin/den2moe --version
/usr/bin/den2moe info "$D2M_SHARED_DIR/models/demo-llama-7m" > info.txt
cat info.txt
grep -q 'sentencepiece' info.txt || fail "den2moe info did not load the sentencepiece tokenizer (shim at /usr/lib/den2moe)"
/usr/bin/den2moe convert /usr/share/den2moe/projects/demo.den2moe.json --recipe random --experts 4 --top-k 2 \
  --no-eval --cache-dir "$X/cache" --out "$X/moe" --quiet
QT_QPA_PLATFORM=offscreen /usr/bin/den2moe-studio --model-dir "$X/moe" --view routing \
  --text "Two plus two is four." --screenshot "$X/routing.png"
file "$X/routing.png" | grep -q 'PNG image data' || fail "no routing screenshot"
echo "screenshot: $(file -b "$X/routing.png")"
man -w den2moe >/dev/null || fail "man den2moe not found"
cd - >/dev/null

phase "apt-get purge"
apt-get purge -y den2moe-studio >/dev/null
for f in /usr/bin/den2moe /usr/bin/den2moe-studio /usr/lib/den2moe /usr/share/den2moe /usr/share/doc/den2moe-studio; do
  [ ! -e "$f" ] || fail "$f is left after purge"
done
phase_summary
echo "test_deb: PASS ($DEB; lintian $errors errors, $warnings warnings)"
