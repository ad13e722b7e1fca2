"""AWS Signature Version 4 verification as a DRF authentication class (placeholder)."""

from rest_framework.authentication import BaseAuthentication


class SigV4Authentication(BaseAuthentication):
    def authenticate(self, request):
        return None

    def authenticate_header(self, request):
        return "AWS4-HMAC-SHA256"
