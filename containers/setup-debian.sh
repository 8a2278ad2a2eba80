#!/usr/bin/env bash
# Installs what Bevara needs on a Debian machine (Chromium, ffmpeg, fonts, a C
# compiler for the bundled SQLite, Postgres' server for the tests) when it is
# missing. Idempotent: a machine that has everything is left alone. Run as root
# or with sudo.
#
# postgresql: the Postgres tests use the server named by BEVARA_TEST_DATABASE_URL
# or the one on 127.0.0.1:5432 (user postgres, trust auth); without either they
# start a throwaway one with this package's initdb and pg_ctl.
# poppler-utils: `bevara bench capture` reads the PDF's text with pdftotext.
# wordpress, wordpress-l10n, wordpress-theme-*, mariadb-server, php-cli,
# php-mysql: tests/wordpress.rs runs Debian's WordPress (a throwaway MariaDB
# in a temp dir, served by `php -S`); no service of these packages is used.
set -euo pipefail

packages=(chromium ffmpeg poppler-utils tesseract-ocr tesseract-ocr-eng fonts-noto-color-emoji fonts-dejavu-core fonts-liberation ca-certificates gcc libc6-dev pkg-config postgresql
  wordpress wordpress-l10n wordpress-theme-twentytwentythree wordpress-theme-twentytwentyone mariadb-server php-cli php-mysql)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "bevara setup: installing ${missing[*]}"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "bevara setup: run as root or install sudo" >&2; exit 1; }
    sudo="sudo"
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null; then
  echo "bevara setup: cargo not found; install a Rust toolchain (1.85 or newer, e.g. with rustup)" >&2
  exit 1
fi
echo "bevara setup: $(/usr/bin/chromium --version 2>/dev/null | tail -n1), $(ffmpeg -version | head -n1 | cut -d' ' -f1-3), $(cargo --version)"
