    rm -f /var/lib/lilalo/datafile.xml /var/lib/lilalo/datafile.xml.*
    rm -f /etc/lilalo/broker.key /etc/lilalo/broker.pub
    rm -rf /etc/lilalo/agents
    rm -rf /var/lib/lilalo/pending
