"""How long the HTTP server keeps an idle keep-alive connection open.

uvicorn closes a connection idle for ``timeout_keep_alive`` seconds (5 by default). A client
that reuses a pooled connection at that moment sends its request into a socket the server is
closing: the request is never read and the client gets a reset (httpx: ``ReadError``). Slack
does not retry a button click, and a proxy in front of us turns it into a 502. The side that
closes idle connections first must be the client (httpx keeps them 5 s, aiohttp 15 s, nginx's
upstream keep-alive and AWS load balancers 60 s), so the server waits longer than all of them.
"""

KEEP_ALIVE_SECONDS = 75
