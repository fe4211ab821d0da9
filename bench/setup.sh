#!/usr/bin/env bash
# The Pillow baseline needs Debian's python3-pil (the original Lambda's library); install it when
# we can (root), otherwise the benchmark reports that column as missing.
if ! /usr/bin/python3 -c "import PIL" 2>/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get install -y -q python3-pil >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q python3-pil >/dev/null 2>&1; } || echo "bench: could not install python3-pil; the Pillow column will be empty"
  else
    echo "bench: python3-pil is missing (apt-get install python3-pil); the Pillow column will be empty"
  fi
fi
