"""The console's pages, one module each (routed in ``web.components``)."""
