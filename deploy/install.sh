#!/bin/sh
# Installs genesys-compliance: the binary, its man pages, shell completions, and
# (with --service) the systemd unit and example config beside this script.
#   sudo deploy/install.sh target/release/genesys-compliance [--service]
# PREFIX (default /usr/local) and DESTDIR (for packaging) are honoured.
set -eu
bin=${1:?usage: install.sh PATH/TO/genesys-compliance [--service]}
[ -x "$bin" ] || { echo "install.sh: $bin is not an executable; build it with cargo build --release --locked" >&2; exit 2; }
here=$(dirname "$0")
prefix=${PREFIX:-/usr/local}
root=${DESTDIR:-}

install -d "$root$prefix/bin" "$root$prefix/share/man/man1" \
    "$root$prefix/share/bash-completion/completions" \
    "$root$prefix/share/zsh/site-functions" \
    "$root$prefix/share/fish/vendor_completions.d"
install -m 0755 "$bin" "$root$prefix/bin/genesys-compliance"
# Pages and scripts come from the binary itself, so they match its flags.
"$bin" man --dir "$root$prefix/share/man/man1"
"$bin" completions bash > "$root$prefix/share/bash-completion/completions/genesys-compliance"
"$bin" completions zsh > "$root$prefix/share/zsh/site-functions/_genesys-compliance"
"$bin" completions fish > "$root$prefix/share/fish/vendor_completions.d/genesys-compliance.fish"

if [ "${2:-}" = "--service" ]; then
    install -d "$root/etc/systemd/system" "$root/etc/genesys-compliance"
    install -m 0644 "$here/genesys-compliance.service" "$root/etc/systemd/system/"
    # Never overwrite a config already in place.
    for f in config rules; do
        [ -e "$root/etc/genesys-compliance/$f.toml" ] ||
            install -m 0644 "$here/$f.example.toml" "$root/etc/genesys-compliance/$f.toml"
    done
    echo "installed the unit; put credentials in /etc/genesys-compliance/credentials.env (mode 0600), then"
    echo "  systemctl daemon-reload && systemctl enable --now genesys-compliance"
fi
