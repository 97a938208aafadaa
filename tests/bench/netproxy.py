#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A TCP proxy on 127.0.0.1 that emulates a remote link in user space (no netem here): every
request waits one round trip before it is forwarded, and responses share a bandwidth cap.
  netproxy.py TARGET_PORT LATENCY_MS MBIT    prints its port, then serves"""
import asyncio
import sys
import time

target, rtt, rate = int(sys.argv[1]), float(sys.argv[2]) / 1000, float(sys.argv[3]) * 1e6 / 8
next_free = 0.0


async def pace(n):
    global next_free
    now = time.monotonic()
    start = max(now, next_free)
    next_free = start + n / rate
    if next_free > now:
        await asyncio.sleep(next_free - now)


async def upstream(reader, writer):
    while data := await reader.read(65536):
        await asyncio.sleep(rtt)
        writer.write(data)
        await writer.drain()
    writer.close()


async def downstream(reader, writer):
    while data := await reader.read(65536):
        await pace(len(data))
        writer.write(data)
        await writer.drain()
    writer.close()


async def handle(cr, cw):
    try:
        sr, sw = await asyncio.open_connection("127.0.0.1", target)
    except OSError:
        cw.close()
        return
    await asyncio.gather(upstream(cr, sw), downstream(sr, cw), return_exceptions=True)


async def main():
    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    print(srv.sockets[0].getsockname()[1], flush=True)
    async with srv:
        await srv.serve_forever()


asyncio.run(main())
