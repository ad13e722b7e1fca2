"""Salesmanago: the HTTP client, pure payload builders, the local sandbox (sandbox/)."""
