"""The wallet page's HTTP layer (see :mod:`wallet.app`).

- :mod:`~wallet.routes.auth`: the home page, unlock and lock;
- :mod:`~wallet.routes.credentials`: a credential, its disclosures and presentation QR code;
- :mod:`~wallet.routes.exchanges`: receiving (OpenID4VCI) and answering requests (OpenID4VP);
- :mod:`~wallet.routes.service`: what those do with the wallet library;
- :mod:`~wallet.routes.sessions`: unlock sessions, CSRF tokens, the unlock throttle;
- :mod:`~wallet.routes.deps`: the dependency aliases; :mod:`~wallet.routes.render`: pages.
"""
