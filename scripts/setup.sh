#!/usr/bin/env bash
# Set up caminos on a fresh Debian machine with Python 3.11: the Debian packages it needs, a
# virtual environment in .venv, torch's CPU build, then caminos itself. Safe to run again.
#
#   ./scripts/setup.sh          caminos and its run-time dependencies
#   ./scripts/setup.sh --test   the same, plus the test tools (pytest, pytest-xdist, hypothesis, selenium)
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv
TORCH_VERSION=2.13.0
# Debian packages caminos needs at run time (soundfile's wheel carries libsndfile, soxr's its own
# library): PortAudio for live audio (caminos play; offline work runs without it), and the voice's
# phonemizer program and teacher library. python3-venv is added below when the interpreter cannot
# make virtual environments without it.
APT_PACKAGES=(libportaudio2 espeak-ng libespeak-ng1)
# The real OSC peers the tests play the engine with (tests/test_patches.py), --test only:
# Pure Data, sclang (about 240 MB with Qt; scsynth is not needed), oscsend and oscdump.
# JACK with its dummy driver is the real audio server of tests/test_live_jack.py.
# The recorded part of the autoencoder's training corpus (models/corpus/recorded.py): FluidR3's
# sampled instruments rendered by fluidsynth, and sonic-pi's CC0 recordings (about 190 MB).
# Chromium and its WebDriver: the real browser tests/test_web_browser.py drives the control page
# with (headless, through selenium).
TEST_APT_PACKAGES=(puredata-core supercollider-language liblo-tools jackd2
                   fluid-soundfont-gm fluidsynth sonic-pi-samples chromium chromium-driver)

with_tests=0
for arg in "$@"; do
  case "$arg" in
    --test) with_tests=1 ;;
    -h|--help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "setup.sh: unknown option $arg (expected --test)" >&2; exit 2 ;;
  esac
done

if ((with_tests)); then
  APT_PACKAGES+=("${TEST_APT_PACKAGES[@]}")
fi

step() { printf '==> %s\n' "$*"; }

# 1. Python itself.
if ! command -v "$PYTHON" >/dev/null 2>&1; then
  echo "setup.sh: $PYTHON not found; install Python 3.11 or newer (apt-get install python3)" >&2
  exit 1
fi
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "setup.sh: caminos needs Python 3.11 or newer; $PYTHON is $("$PYTHON" -V 2>&1)" >&2
  exit 1
fi
if ! "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1; then
  APT_PACKAGES+=(python3-venv)
fi

# 2. Debian packages: only those missing, and apt-get update only when something is.
missing=()
for package in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' \
    || missing+=("$package")
done
if ((${#missing[@]})); then
  as_root=()
  [ "$(id -u)" -eq 0 ] || as_root=(sudo -n)
  if [ "$(id -u)" -ne 0 ] && ! { command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; }; then
    step "skipping Debian packages ${missing[*]}: not root and no sudo; install them by hand"
  else
    step "installing Debian packages: ${missing[*]}"
    "${as_root[@]}" apt-get update -qq
    # jackd2 asks whether to allow real-time priority; answer no without a prompt (the tests
    # run jackd as root, which has it anyway).
    echo "jackd2 jackd/tweak_rt_limits boolean false" | "${as_root[@]}" debconf-set-selections
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      --no-install-recommends "${missing[@]}" >/dev/null
  fi
else
  step "Debian packages: nothing to install"
fi

# 3. The virtual environment (made again if a previous one is broken).
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
  step "virtual environment: $VENV exists"
else
  step "creating virtual environment $VENV"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
fi
pip=("$VENV/bin/python" -m pip --disable-pip-version-check -q)

# 4. torch first and pinned: a bare "torch" requirement would pull a CUDA build of several GB.
# Where a local folder of wheels exists (/opt/wheels here), the CPU wheel is taken from it.
torch_source=()
[ -d /opt/wheels ] && torch_source=(--find-links /opt/wheels)
step "installing torch==$TORCH_VERSION (CPU build)"
"${pip[@]}" install "${torch_source[@]}" "torch==$TORCH_VERSION"

# 5. caminos itself, editable, so the numba cache and config.toml stay in this tree.
if ((with_tests)); then
  step "installing caminos with its test tools"
  "${pip[@]}" install -e '.[test]'
else
  step "installing caminos"
  "${pip[@]}" install -e .
fi
"$VENV/bin/caminos" --help >/dev/null
step "done: $VENV/bin/caminos is ready"
