"""The HTTP edges Connexion leaves to us: per-request services, body limits, strict JSON parsing and
turning every error into one problem+json shape."""
