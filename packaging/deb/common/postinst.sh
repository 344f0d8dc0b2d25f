# The system account the daemons run as, and the state directory every part shares.
# Existing ones are left as they are (an admin may have changed them). The account
# stays on purge: Debian keeps system accounts (files elsewhere may belong to it).
if [ "$1" = configure ]; then
    if ! getent passwd lilalo >/dev/null; then
        adduser --system --group --quiet --home /var/lib/lilalo --no-create-home \
            --gecos "lilalo terminal journal" lilalo
    fi
    [ -d /var/lib/lilalo ] || install -d -o lilalo -g lilalo -m 0750 /var/lib/lilalo
    # The daemons' metrics files (lilalo.cfg: <section>/metrics), readable by a metrics
    # collector (node_exporter's textfile collector) that is not in group lilalo.
    [ -d /var/lib/lilalo/metrics ] || install -d -o lilalo -g lilalo -m 0755 /var/lib/lilalo/metrics
fi
