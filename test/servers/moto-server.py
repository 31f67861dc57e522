"""moto_server with one fix for its SigV4 check, so a correct client is not refused.

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

from moto.server import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())
