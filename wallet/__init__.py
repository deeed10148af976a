"""The migrant worker's wallet: holder keys and credentials encrypted at rest
(:mod:`wallet.store`), receiving with OpenID4VCI (:mod:`wallet.oid4vci`), presenting with
OpenID4VP and DCQL (:mod:`wallet.oid4vp`), and the ``wallet`` command line
(:mod:`wallet.cli`)."""
