# Figures of docs/performance.md, "Under attack": one client on loopback
# (127.0.0.2) keeps 400 connections open that never send a ClientHello
# (MODE tcp) or say nothing after TLS (MODE tls), reconnecting when dropped;
# meanwhile a legitimate review (curl, a fresh connection, the webhook's 5 s
# bound) is sent from 127.0.0.1 every second for DURATION seconds.
#
#   kueue-ray-webhook certs --out /tmp/measure/certs
#   (a review in /tmp/measure/review.json)
#   ulimit -n 8192; python3 benches/attack/attack.py BINARY tcp|tls 20
#
# Not part of `make test`: tests/server_attacks.rs checks the same attacks.
import asyncio, ssl, subprocess, sys, time, json, os, re, signal
BIN, MODE, DURATION = sys.argv[1], sys.argv[2], int(sys.argv[3])
C = "/tmp/measure/certs"
proc = subprocess.Popen([BIN, "serve", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
    "--log-format", "json", "--tls-cert-file", f"{C}/tls.crt", "--tls-key-file", f"{C}/tls.key",
    "--shutdown-delay", "0s", "--log-level", "warn,kueue_ray_webhook::server=info"],
    stdout=subprocess.PIPE, text=True)
port = None
while port is None:
    line = json.loads(proc.stdout.readline())
    if line.get("listener") == "admission" and "addr" in line:
        port = int(line["addr"].rsplit(":", 1)[1])
# drain logs
import threading
threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
ctx = ssl.create_default_context(cafile=f"{C}/ca.crt")
ctx.set_alpn_protocols(["http/1.1"])
stop = False
async def attacker():
    while not stop:
        try:
            if MODE == "tcp":
                r, w = await asyncio.open_connection("127.0.0.1", port, local_addr=("127.0.0.2", 0))
            else:
                r, w = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port, ssl=ctx,
                    server_hostname="localhost", local_addr=("127.0.0.2", 0)), 10)
            await r.read(1)
            w.close()
        except Exception:
            await asyncio.sleep(0.05)
review = open("/tmp/measure/review.json").read()
async def legit():
    ok = total = 0
    t0 = time.time()
    while time.time() - t0 < DURATION:
        total += 1
        p = await asyncio.create_subprocess_exec("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
            "--max-time", "5", "--cacert", f"{C}/ca.crt", "-H", "content-type: application/json",
            "--data", "@/tmp/measure/review.json", f"https://localhost:{port}/validate",
            stdout=asyncio.subprocess.PIPE)
        out, _ = await p.communicate()
        ok += out == b"200"
        await asyncio.sleep(1)
    return ok, total
async def main():
    global stop
    tasks = [asyncio.create_task(attacker()) for _ in range(400)]
    await asyncio.sleep(2)
    ok, total = await legit()
    stop = True
    for t in tasks: t.cancel()
    print(f"{os.path.basename(BIN)} {MODE}: {ok} of {total} legitimate reviews answered within 5 s")
asyncio.run(main())
proc.send_signal(signal.SIGKILL)
