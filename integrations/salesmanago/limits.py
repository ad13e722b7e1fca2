"""Salesmanago's batch limits (reference §8): how many items one call may carry.

The one home of these numbers: the client refuses a larger call, the delivery service
cuts its batches to them, and the sandbox enforces them by default.
"""

# Contacts per batchupsert: no official maximum; 1000 is what third-party clients send
# (reference §5.4, §11).
MAX_CONTACTS = 1000
# External events per addBatchContactExtEvent: "limited to 1000" (reference §6.3).
MAX_EVENTS = 1000
# Products per v3 product/upsert: "up to 100 products per request" (reference §7.2).
MAX_PRODUCTS = 100
