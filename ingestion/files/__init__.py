"""Files of data points: upload, background processing, errors report (docs/files.md)."""
