#!/usr/bin/env bash
# Re-vendors the dashboard's chart library from npm: TradingView Lightweight Charts, the
# standalone production build (one classic script that defines `LightweightCharts`), with its
# licence and attribution notice, into host/assets/vendor/lightweight-charts/.
#
# The committed files are what the daemon embeds and serves; this script only exists to
# update them (change VERSION and INTEGRITY together, run it, review the diff, commit).
# Needs npm and the npm registry; nothing else reads it.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=5.3.0
# `npm view lightweight-charts@$VERSION dist.integrity`
INTEGRITY="sha512-w16fu2/FteUkIJdgc9G2tOCKs1fwFSqnqF8+kMgHGv0uGIfcfpEJhziSaQbML1yrkbeg4nQXV3msjmhBzhLNhw=="
DEST=host/assets/vendor/lightweight-charts

command -v npm >/dev/null || { echo "vendor-assets: npm is needed (apt-get install npm)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "lightweight-charts@$VERSION" >/dev/null)
tarball="$work/lightweight-charts-$VERSION.tgz"
actual="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
if [ "$actual" != "$INTEGRITY" ]; then
    echo "vendor-assets: integrity mismatch for lightweight-charts@$VERSION" >&2
    echo "  expected $INTEGRITY" >&2
    echo "  got      $actual" >&2
    exit 1
fi
tar -xzf "$tarball" -C "$work"
mkdir -p "$DEST"
cp "$work/package/dist/lightweight-charts.standalone.production.js" "$DEST/"
cp "$work/package/LICENSE" "$DEST/LICENSE"
# The licence asks for this attribution notice (the package ships it only in its README).
cat > "$DEST/NOTICE" <<NOTICE
TradingView Lightweight Charts™
Copyright (c) 2026 TradingView, Inc. https://www.tradingview.com/

The standalone build also contains fancy-canvas (MIT, TradingView, Inc.) and parts of tslib
(BSD Zero Clause, Microsoft Corporation).
NOTICE
echo "$VERSION" > "$DEST/VERSION"
sha256sum "$DEST/lightweight-charts.standalone.production.js"
echo "vendored lightweight-charts $VERSION into $DEST"
