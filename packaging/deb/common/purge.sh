    rm -rf /var/lib/lilalo/metrics
