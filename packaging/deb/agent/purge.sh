    rm -rf /var/spool/lilalo /var/lib/lilalo/outbox /var/lib/lilalo/agent
    rm -f /etc/lilalo/agent.key /etc/lilalo/agent.pub
