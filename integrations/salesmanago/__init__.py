"""Salesmanago: the HTTP client, pure payload builders and a local sandbox server."""
