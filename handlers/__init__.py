"""One module per tag of the spec; each function is an operationId. Handlers stay thin: they take what
Connexion validated, call the domain and shape the HTTP answer."""
