"""The benchmark of issue 7: the service against app_queue and a bare ARI loop (``make bench``)."""
