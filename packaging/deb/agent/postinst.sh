# The spool the users' recorders write into (1733: anyone may make their own directory
# there, nobody may list or touch another's), and the agent's key pair on first install
# (never replaced: the broker knows it by its public key).
if [ "$1" = configure ]; then
    [ -d /var/spool/lilalo ] || install -d -o root -g root -m 1733 /var/spool/lilalo
    if [ ! -e /etc/lilalo/agent.key ]; then
        l3-agent --keygen agent --dir /etc/lilalo >/dev/null
        chgrp lilalo /etc/lilalo/agent.key
        chmod 0640 /etc/lilalo/agent.key
    fi
fi
