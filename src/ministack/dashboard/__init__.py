"""The dashboard: the cloud in a browser, as a client of the public OpenStack APIs."""
