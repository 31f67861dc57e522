"""moto_server with two fixes to its authentication, so a correct client is not refused.

1. AssumeRoleWithWebIdentity (IRSA) is an unsigned call on AWS; moto 5.2.1 demands a signature for it and
   crashes (KeyError HTTP_AUTHORIZATION, HTTP 500). We let it through unsigned, as AWS does.
2. Canonical query string (below).

moto (5.2.1) verifies signatures on werkzeug's request.url, where "%2F" in the query is already decoded to
"/", and botocore's canonical query string then uses the value as is: every request whose query holds an
encoded character (ListObjectsV2 prefix=a%2Fb) fails with SignatureDoesNotMatch although the client
signed it correctly. SigV4 says: decode, then encode every byte except A-Z a-z 0-9 - _ . ~ -- we do that.
Usage: python3 moto-server.py -H 127.0.0.1 -p 0   (same arguments as moto_server)
"""
import sys
from urllib.parse import quote, unquote

import botocore.auth


def _canonical_query_string_url(self, parts):
    if not parts.query:
        return ''
    pairs = []
    for pair in parts.query.split('&'):
        key, _, value = pair.partition('=')
        pairs.append((quote(unquote(key), safe='-_.~'), quote(unquote(value), safe='-_.~')))
    return '&'.join(f'{k}={v}' for k, v in sorted(pairs))


botocore.auth.SigV4Auth._canonical_query_string_url = _canonical_query_string_url

from moto.core.authorization import ActionAuthenticatorMixin  # noqa: E402

_UNSIGNED_ACTIONS = {'AssumeRoleWithWebIdentity', 'AssumeRoleWithSAML'}
_original_auth = ActionAuthenticatorMixin._authenticate_and_authorize_action


def _authenticate_and_authorize_action(self, iam_request_cls, resource='*'):
    if 'Authorization' not in self.headers and self._get_action() in _UNSIGNED_ACTIONS:
        return None
    return _original_auth(self, iam_request_cls, resource)


ActionAuthenticatorMixin._authenticate_and_authorize_action = _authenticate_and_authorize_action

from moto.server import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())
