# The broker's key pair on first install (never replaced: every agent trusts its public
# key), and the directory of the agents' public keys the broker accepts.
if [ "$1" = configure ]; then
    if [ ! -e /etc/lilalo/broker.key ]; then
        l3-keygen broker --dir /etc/lilalo >/dev/null
        chgrp lilalo /etc/lilalo/broker.key
        chmod 0640 /etc/lilalo/broker.key
    fi
    [ -d /etc/lilalo/agents ] || install -d -o root -g lilalo -m 0750 /etc/lilalo/agents
fi
