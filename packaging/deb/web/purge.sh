    rm -rf /var/lib/lilalo/datafile.xml.idx.search
    rm -f /var/lib/lilalo/datafile.xml.idx /var/lib/lilalo/datafile.xml.idx.*
