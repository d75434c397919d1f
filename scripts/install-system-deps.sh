#!/usr/bin/env bash
# Debian packages Hearth needs to build and test:
#   libsecret-1-dev, pkg-config, build-essential, python3  keytar builds against libsecret
#   gnome-keyring, dbus, dbus-user-session                 a real Secret Service for the vault tests
#   tesseract-ocr, tesseract-ocr-eng                       native OCR baseline for `npm run bench:ocr`
#   python3-venv                                           the Synapse test homeserver's virtualenv
#   fonts-dejavu-core                                      rendering the US receipt test fixtures
#   poppler-utils                                          looking at exported PDFs (pdftoppm)
set -euo pipefail
pkgs=(libsecret-1-dev pkg-config build-essential python3 python3-venv gnome-keyring dbus dbus-user-session
      tesseract-ocr tesseract-ocr-eng fonts-dejavu-core poppler-utils)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages: all present"
  exit 0
fi
echo "system packages: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
